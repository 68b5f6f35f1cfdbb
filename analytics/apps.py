from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Adoption analytics"

    def ready(self) -> None:
        from . import recorder
        from .useragents import client_of

        recorder.connect()
        client_of("Mozilla/5.0")  # load the parser's regexes at start-up, not in the first request
