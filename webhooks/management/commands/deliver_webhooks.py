"""Send due webhook deliveries once: what beat's deliver_due does, for embedded mode or cron."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from webhooks.sending import deliveries_send_due
from webhooks.services import endpoint_secrets_expire


class Command(BaseCommand):
    help = "Send webhook deliveries whose next attempt is due (retries included)."

    def handle(self, *args, **options) -> None:
        endpoint_secrets_expire()
        self.stdout.write(f"{deliveries_send_due()} deliveries attempted")
