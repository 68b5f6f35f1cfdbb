from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from . import caching, receivers, services, tasks

        receivers.connect()
        caching.connect_invalidation()
        services.deliveries_enqueue_use(tasks.deliveries_enqueue)
