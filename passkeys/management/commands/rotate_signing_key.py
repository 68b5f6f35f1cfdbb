import json

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from passkeys.tokens import signing_key_rotate
from tenants.selectors import tenant_get


class Command(BaseCommand):
    help = "Give a tenant a new token-signing key; the old one stays in the JWKS until its tokens expire."

    def add_arguments(self, parser):
        parser.add_argument("tenant_id")

    def handle(self, *args, **options):
        try:
            tenant = tenant_get(tenant_id=options["tenant_id"])
        except DomainError as error:
            raise CommandError(error.detail) from None
        key = signing_key_rotate(tenant=tenant)
        self.stdout.write(json.dumps({"tenant_id": str(tenant.pk), "kid": key.kid}))
