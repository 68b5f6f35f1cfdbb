from django.apps import AppConfig


class PasskeysConfig(AppConfig):
    name = "passkeys"
    verbose_name = "Passkeys"

    def ready(self) -> None:
        from .providers import providers_load

        providers_load()  # once at start-up, not on the first request
