"""The tenant-scoped admin for webhook endpoints and their read-only delivery log."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from tenants.admin_scoping import WRITE_ROLES, TenantScopedAdmin

from .models import Delivery, Endpoint, EventType
from .services import (
    EDITABLE_FIELDS,
    deliveries_redeliver,
    endpoint_add,
    endpoint_delete,
    endpoint_secret_rotate,
    endpoint_update,
)
from .validators import endpoint_url_validate

SECRET_TEMPLATE = "admin/webhooks/endpoint/secret.html"  # noqa: S105 - a template name


class EndpointForm(forms.ModelForm):
    url = forms.URLField(
        label="URL",
        max_length=2000,
        assume_scheme="https",
        validators=[endpoint_url_validate],
        help_text=Endpoint._meta.get_field("url").help_text,
    )
    event_types = forms.MultipleChoiceField(
        choices=EventType.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[EventType.PASSKEY_CREATED, EventType.PASSKEY_DELETED, EventType.USER_DELETED],
    )

    class Meta:
        model = Endpoint
        fields = ("tenant", "url", "description", "event_types", "enabled")


@admin.register(Endpoint)
class EndpointAdmin(TenantScopedAdmin):
    """Endpoints of the user's tenants; the secret is shown once, when it is made (at creation or rotation)."""

    form = EndpointForm
    list_display = ("url", "tenant", "enabled", "subscribed", "previous_secret_expires_at", "created_at")
    list_filter = ("enabled", "tenant")
    search_fields = ("url", "description")
    actions = ["rotate_secret"]

    @admin.display(description="events")
    def subscribed(self, obj: Endpoint) -> str:
        return ", ".join(obj.event_types)

    def get_fields(self, request: HttpRequest, obj: Endpoint | None = None) -> list[str]:
        fields = ["tenant", "url", "description", "event_types", "enabled"]
        return fields if obj is None else [*fields, "secret_rotated_at", "previous_secret_expires_at", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Endpoint | None = None) -> list[str]:
        return [] if obj is None else ["tenant", "secret_rotated_at", "previous_secret_expires_at", "created_at"]

    def save_model(self, request: HttpRequest, obj: Endpoint, form: forms.ModelForm, change: bool) -> None:
        self.check_can_save(request, obj, change)
        if change:
            changed = {name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE_FIELDS}
            endpoint_update(endpoint=Endpoint.objects.get(pk=obj.pk), **changed)  # audited by the service
            return
        request._webhook_secret = endpoint_add(endpoint=obj)  # read once, by response_add below

    def response_add(self, request: HttpRequest, obj: Endpoint, post_url_continue: str | None = None) -> HttpResponse:
        secret = getattr(request, "_webhook_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        return self._secret_page(request, [(obj, secret)], title="Webhook endpoint created")

    def delete_model(self, request: HttpRequest, obj: Endpoint) -> None:
        self.check_can_delete(request, obj)
        endpoint_delete(endpoint=obj)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        for endpoint in queryset.select_related("tenant"):
            self.check_can_delete(request, endpoint)
            endpoint_delete(endpoint=endpoint)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, set[str], Any]:
        # The delivery log is read-only on its own page but goes with its endpoint.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(Delivery._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    @admin.action(
        description="Rotate the signing secret (the old one keeps signing for the overlap)", permissions=["change"]
    )
    def rotate_secret(self, request: HttpRequest, queryset: models.QuerySet) -> HttpResponse | None:
        rotated = [
            (endpoint, endpoint_secret_rotate(endpoint=endpoint)) for endpoint in queryset.select_related("tenant")
        ]
        if not rotated:
            return None
        return self._secret_page(request, rotated, title="Webhook secret rotated")

    def _secret_page(self, request: HttpRequest, secrets: list[tuple[Endpoint, str]], *, title: str) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "secrets": secrets,
            "changelist_url": reverse("admin:webhooks_endpoint_changelist"),
        }
        response = TemplateResponse(request, SECRET_TEMPLATE, context)
        response["Cache-Control"] = "no-store"  # the only copy of the secret: never cache the page
        return response


@admin.register(Delivery)
class DeliveryAdmin(TenantScopedAdmin):
    """The delivery log: read-only; owners and admins may redeliver."""

    tenant_field = "endpoint__tenant"
    redeliver_roles = WRITE_ROLES
    list_display = (
        "message_id",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "response_code",
        "created_at",
        "last_attempt_at",
        "next_attempt_at",
    )
    list_filter = ("status", "event_type", "endpoint")
    search_fields = ("message_id",)
    list_select_related = ("endpoint",)
    date_hierarchy = "created_at"
    actions = ["redeliver"]
    fields = (
        "message_id",
        "endpoint",
        "event_type",
        "status",
        "attempts",
        "response_code",
        "last_error",
        "created_at",
        "last_attempt_at",
        "next_attempt_at",
        "delivered_at",
        "payload",
    )
    readonly_fields = fields

    # Nobody edits the log, superusers included: it is what happened.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False

    def has_redeliver_permission(self, request: HttpRequest) -> bool:
        return self.role_allows(request, self.redeliver_roles)

    @admin.action(description="Redeliver the selected deliveries now", permissions=["redeliver"])
    def redeliver(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        count = deliveries_redeliver(deliveries=queryset)
        self.message_user(request, f"Queued {count} deliveries for redelivery.", messages.SUCCESS)
