import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from tenants.services import api_key_issue, tenant_create

# Optional settings beyond DESIGN.md's flags: left out, a setting keeps the model's default.
CHOICES = {
    "user_verification": "--user-verification",
    "resident_key": "--resident-key",
    "attestation": "--attestation",
    "attestation_policy": "--attestation-policy",
    "credential_kinds": "--credential-kinds",
}
NUMBERS = {
    "rate_limit_per_key": "--rate-limit-per-key",
    "rate_limit_per_user": "--rate-limit-per-user",
    "event_retention_days": "--event-retention-days",
}


class Command(BaseCommand):
    help = "Create a tenant (relying party) and its first API key; prints {tenant_id, api_key}."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--rp-id", required=True)
        parser.add_argument("--origin", action="append", required=True, dest="origins")
        parser.add_argument("--rp-name", default="")
        parser.add_argument("--challenge-timeout", type=int, default=300)
        parser.add_argument("--allow-cross-origin", action="store_true", help="Needs at least one --top-origin.")
        parser.add_argument("--top-origin", action="append", dest="top_origins", default=None)
        parser.add_argument("--algorithm", action="append", type=int, dest="algorithms", default=None,
                            help="COSE id, repeat in order of preference (default -8, -7, -257).")  # fmt: skip
        parser.add_argument("--attestation-roots", metavar="PEM_FILE", help="Root CA certificates (PEM).")
        parser.add_argument("--allowed-aaguid", action="append", dest="allowed_aaguids", default=None)
        parser.add_argument("--no-automatic-upgrades", action="store_false", dest="automatic_upgrades",
                            help="Never offer a silent passkey creation after another sign-in.")  # fmt: skip
        for flag in CHOICES.values():
            parser.add_argument(flag)
        for flag in NUMBERS.values():
            parser.add_argument(flag, type=int)

    def handle(self, *args, **options):
        fields = {
            field: options[field]
            for field in ("top_origins", "algorithms", "allowed_aaguids", *CHOICES, *NUMBERS)
            if options.get(field) is not None
        }
        if options["allow_cross_origin"]:
            fields["allow_cross_origin"] = True
        if not options["automatic_upgrades"]:
            fields["automatic_upgrades"] = False
        if options.get("attestation_roots"):
            try:
                fields["attestation_roots"] = Path(options["attestation_roots"]).read_text()
            except (OSError, UnicodeDecodeError) as error:
                raise CommandError(f"cannot read --attestation-roots: {error}") from None
        try:
            tenant = tenant_create(
                name=options["name"],
                rp_id=options["rp_id"],
                origins=options["origins"],
                rp_name=options["rp_name"],
                challenge_timeout=options["challenge_timeout"],
                **fields,
            )
            issued = api_key_issue(tenant=tenant, label="created with the tenant")
        except DomainError as error:
            raise CommandError(error.detail) from None
        self.stdout.write(json.dumps({"tenant_id": str(tenant.pk), "api_key": issued.secret}))
