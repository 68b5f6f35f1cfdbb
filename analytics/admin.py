"""Events, nudges, metrics and nudge policies in the tenant-scoped admin."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from tenants.admin_scoping import TenantScopedAdmin
from tenants.audit import audit_record, field_changes
from tenants.models import AuditAction

from .models import DailyMetric, Event, Nudge, NudgePolicy


@admin.register(NudgePolicy)
class NudgePolicyAdmin(TenantScopedAdmin):
    delete_roles = frozenset()  # a tenant always has a policy; disable it instead
    list_display = ("tenant", "enabled", "rollout_percent", "dismiss_cooldown_days", "max_prompts", "rest_days")
    list_filter = ("enabled",)

    def save_model(self, request: HttpRequest, obj: NudgePolicy, form: Any, change: bool) -> None:
        before = NudgePolicy.objects.get(pk=obj.pk) if change else None
        super().save_model(request, obj, form, change)
        changes = field_changes(before, obj, form.changed_data)
        if changes:
            audit_record(tenant=obj.tenant, action=AuditAction.NUDGE_POLICY_UPDATED, target=str(obj), changes=changes)


class ReadOnlyAdmin(TenantScopedAdmin):
    """Records of what happened are never edited by hand (a superuser may still delete them)."""

    delete_roles = frozenset()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
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
