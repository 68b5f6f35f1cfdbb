"""What analytics announces to other apps (webhooks listen)."""

from django.dispatch import Signal

# Sent with `tenant` and `user_id` when the sweep finds a user eligible for a nudge again.
nudge_due = Signal()
