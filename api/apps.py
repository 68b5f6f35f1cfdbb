from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "HTTP API"

    def ready(self) -> None:
        from . import observability, schema  # noqa: F401 - schema registers the OpenAPI description of API-key auth

        observability.connect()
