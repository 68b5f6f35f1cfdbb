"""The Celery application; tasks live in the domain apps and call their services."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "passkey_service.settings")

app = Celery("passkey_service")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
