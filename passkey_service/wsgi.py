"""WSGI entry point (granian --interface wsgi passkey_service.wsgi:application)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "passkey_service.settings")
application = get_wsgi_application()
