import json
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from tenants.models import Membership, Role
from tenants.services import api_key_issue, demo_tenant_get_or_create

DEMO_ANALYST = "analyst"


class Command(BaseCommand):
    help = "Make sure the local demo tenant exists; print it with a fresh API key and a demo analyst login."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, **options):
        tenant = demo_tenant_get_or_create(port=options["port"])
        issued = api_key_issue(tenant=tenant, label="demo")
        # A fresh password on every run: it is printed once, like the key.
        password = secrets.token_urlsafe(12)
        analyst, _ = get_user_model().objects.get_or_create(username=DEMO_ANALYST)
        analyst.set_password(password)
        analyst.save()
        Membership.objects.get_or_create(user=analyst, tenant=tenant, defaults={"role": Role.ANALYST})
        self.stdout.write(
            json.dumps(
                {
                    "tenant_id": str(tenant.pk),
                    "api_key": issued.secret,
                    "url": f"http://localhost:{options['port']}",
                    "dashboard": {
                        "url": f"http://localhost:{options['port']}/dashboard/",
                        "username": DEMO_ANALYST,
                        "password": password,
                    },
                }
            )
        )
