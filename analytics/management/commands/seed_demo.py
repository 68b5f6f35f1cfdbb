"""`manage.py seed_demo`: the demo tenant with synthetic adoption history, so the dashboard has data."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from analytics.seed import demo_history_seed
from tenants.services import demo_tenant_get_or_create


class Command(BaseCommand):
    help = "Create (or refresh) the demo tenant with synthetic passkey adoption history and its daily metrics."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=3000)
        parser.add_argument("--days", type=int, default=90, help="Days of history, ending today (UTC).")
        parser.add_argument("--seed", type=int, default=7, help="Seed of the random generator.")
        parser.add_argument("--port", type=int, default=8000, help="The demo origin is http://localhost:<port>.")
        parser.add_argument("--reset", action="store_true", help="Delete the demo tenant's history first.")

    def handle(self, *args, **options):
        if options["users"] < 1 or not 1 <= options["days"] <= 3660:
            raise CommandError("--users must be at least 1 and --days between 1 and 3660")
        tenant = demo_tenant_get_or_create(port=options["port"])
        result = demo_history_seed(
            tenant=tenant, users=options["users"], days=options["days"], seed=options["seed"], reset=options["reset"]
        )
        state = "kept existing history (use --reset to replace it)" if result.skipped else "seeded"
        self.stdout.write(
            f"demo tenant {tenant.pk} {state}: {result.users} users, {result.events} events, "
            f"{result.passkeys} passkeys, {result.days} days, {result.seconds:.1f} s"
        )
