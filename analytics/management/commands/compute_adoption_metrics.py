from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from analytics.services.metrics import adoption_metrics_compute_range


class Command(BaseCommand):
    help = "Compute daily adoption metrics for every tenant (the same code the Celery task runs)."

    def add_arguments(self, parser):
        parser.add_argument("--date", type=date.fromisoformat, help="One UTC day (default: today).")
        parser.add_argument("--from", dest="first", type=date.fromisoformat, help="First day of a range.")
        parser.add_argument("--to", dest="last", type=date.fromisoformat, help="Last day of a range.")

    def handle(self, *args, **options):
        first = options["first"] or options["date"] or timezone.now().date()
        last = options["last"] or options["date"] or first
        if last < first or (last - first) > timedelta(days=3660):
            raise CommandError("--to must be on or after --from, within ten years")
        for metric in adoption_metrics_compute_range(first=first, last=last):
            self.stdout.write(
                f"{metric.tenant_id} {metric.date}: users={metric.users} passkey_users={metric.passkey_users} "
                f"sign_ins={metric.sign_ins} passkey_sign_ins={metric.passkey_sign_ins}"
            )
