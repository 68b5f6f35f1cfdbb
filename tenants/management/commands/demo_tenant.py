import json

from django.core.management.base import BaseCommand

from tenants.models import Tenant
from tenants.services import api_key_issue, tenant_create


class Command(BaseCommand):
    help = "Make sure the local demo tenant exists and print it with a fresh API key."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, **options):
        url = f"http://localhost:{options['port']}"
        tenant = Tenant.objects.filter(name="Demo", rp_id="localhost").first()
        if tenant is None:
            tenant = tenant_create(name="Demo", rp_id="localhost", origins=[url], rp_name="Passkey demo")
        elif url not in tenant.origins:
            tenant.origins = [*tenant.origins, url]
            tenant.save(update_fields=["origins", "updated_at"])
        issued = api_key_issue(tenant=tenant, label="demo")
        self.stdout.write(json.dumps({"tenant_id": str(tenant.pk), "api_key": issued.secret, "url": url}))
