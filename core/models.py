"""Rate-limit counters for deployments without Redis (with Redis they live there)."""

from __future__ import annotations

from django.db import models


class RateLimitCounter(models.Model):
    """One fixed window of one rate-limit bucket; rows are reused when their window has passed."""

    key = models.CharField(max_length=200, primary_key=True)
    count = models.PositiveIntegerField()
    window_ends_at = models.FloatField(help_text="Unix time at which this window's count starts over.")

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"
