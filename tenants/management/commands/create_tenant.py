import json

from django.core.management.base import BaseCommand, CommandError

from tenants.errors import DomainError
from tenants.services import api_key_issue, tenant_create


class Command(BaseCommand):
    help = "Create a tenant (relying party) and its first API key; prints {tenant_id, api_key}."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--rp-id", required=True)
        parser.add_argument("--origin", action="append", required=True, dest="origins")
        parser.add_argument("--rp-name", default="")
        parser.add_argument("--challenge-timeout", type=int, default=300)

    def handle(self, *args, **options):
        try:
            tenant = tenant_create(
                name=options["name"],
                rp_id=options["rp_id"],
                origins=options["origins"],
                rp_name=options["rp_name"],
                challenge_timeout=options["challenge_timeout"],
            )
            issued = api_key_issue(tenant=tenant, label="created with the tenant")
        except DomainError as error:
            raise CommandError(error.detail) from None
        self.stdout.write(json.dumps({"tenant_id": str(tenant.pk), "api_key": issued.secret}))
