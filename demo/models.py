"""The demo relying party's own users: what a real site keeps in its user table, not in the service."""

from __future__ import annotations

import uuid

from django.db import models


class DemoUser(models.Model):
    # The id the site shows the passkey service: opaque, never the username.
    user_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    username = models.CharField(max_length=150, unique=True, help_text="Stored lower-cased.")
    display_name = models.CharField(max_length=150, blank=True)
    password = models.CharField(max_length=128, help_text="Django password hash.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.username

    @property
    def name_shown(self) -> str:
        return self.display_name or self.username
