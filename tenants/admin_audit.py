"""The audit log in the admin: scoped like everything else, and never editable."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from .admin_scoping import TenantScopedAdmin
from .models import AuditEntry


class ActorFilter(admin.SimpleListFilter):
    """The actors that appear in the entries this user may see."""

    title = "actor"
    parameter_name = "actor"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        actors = model_admin.get_queryset(request).order_by("actor").values_list("actor", flat=True).distinct()
        return [(actor, actor) for actor in actors[:50]]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        return queryset.filter(actor=self.value()) if self.value() else queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(TenantScopedAdmin):
    """Read-only for everyone, superusers included: a log that can be edited proves nothing."""

    list_display = ("occurred_at", "tenant_name", "action", "actor", "actor_type", "target", "ip")
    list_filter = ("action", "actor_type", ActorFilter, "occurred_at", "tenant")
    search_fields = ("actor", "target")
    date_hierarchy = "occurred_at"
    fields = ("occurred_at", "tenant", "action", "actor_type", "actor", "ip", "target", "changes_table")
    readonly_fields = fields

    @admin.display(description="changes")
    def changes_table(self, obj: AuditEntry) -> str:
        if not obj.changes:
            return "—"
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td><td>→</td><td>{}</td></tr>",
            ((name, _shown(old), _shown(new)) for name, (old, new) in obj.changes.items()),
        )
        return format_html("<table>{}</table>", rows)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False


def _shown(value: Any) -> str:
    return "—" if value is None else value if isinstance(value, str) else json.dumps(value)
