from django.contrib import admin

from .models import DailyMetric, Event, Nudge, NudgePolicy


@admin.register(NudgePolicy)
class NudgePolicyAdmin(admin.ModelAdmin):
    list_display = ("tenant", "enabled", "rollout_percent", "dismiss_cooldown_days", "max_prompts", "rest_days")
    list_filter = ("enabled",)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened are never edited by hand."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "tenant", "type", "user_id", "code", "method", "os_family", "browser_family")
    list_filter = ("tenant", "type", "os_family", "browser_family")
    search_fields = ("user_id", "code")
    date_hierarchy = "occurred_at"
    exclude = ("credential_id",)


@admin.register(Nudge)
class NudgeAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "tenant", "user_id", "reason", "outcome", "outcome_at")
    list_filter = ("tenant", "outcome")
    search_fields = ("user_id",)


@admin.register(DailyMetric)
class DailyMetricAdmin(ReadOnlyAdmin):
    list_display = ("date", "tenant", "users", "passkey_users", "sign_ins", "passkey_sign_ins")
    list_filter = ("tenant",)
    date_hierarchy = "date"
