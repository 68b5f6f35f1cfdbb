import json

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from tenants.models import ApiKey
from tenants.selectors import tenant_get
from tenants.services import api_key_issue


class Command(BaseCommand):
    help = "Issue an API key for a tenant (every scope unless --scope is given); prints {api_key}."

    def add_arguments(self, parser):
        parser.add_argument("tenant_id")
        parser.add_argument("--scope", action="append", dest="scopes", choices=ApiKey.SCOPES)
        parser.add_argument("--label", default="")

    def handle(self, *args, **options):
        try:
            tenant = tenant_get(tenant_id=options["tenant_id"])
            issued = api_key_issue(tenant=tenant, scopes=options["scopes"], label=options["label"])
        except DomainError as error:
            raise CommandError(error.detail) from None
        self.stdout.write(json.dumps({"api_key": issued.secret}))
