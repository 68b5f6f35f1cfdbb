"""python manage.py mds_import PATH: verify a FIDO MDS3 BLOB against the metadata root and import it if newer."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from passkeys.services.metadata import metadata_import
from passkeys.webauthn import MAX_BLOB_BYTES, MetadataRefused


class Command(BaseCommand):
    help = "Import a FIDO Metadata Service BLOB (the JWT from https://mds3.fidoalliance.org/) after verifying it."

    def add_arguments(self, parser):
        parser.add_argument("path", help="The BLOB file.")

    def handle(self, *args, **options):
        try:
            with Path(options["path"]).open("rb") as file:
                blob = file.read(MAX_BLOB_BYTES + 1)
        except OSError as error:
            raise CommandError(f"cannot read {options['path']}: {error.strerror}") from None
        try:
            imported = metadata_import(blob)
        except MetadataRefused as error:
            raise CommandError(error.detail) from None
        self.stdout.write(
            f"imported MDS BLOB no {imported.no}: {imported.entries} entries, "
            f"{imported.credentials_changed} credentials changed status ({imported.compromised} now compromised)"
        )
