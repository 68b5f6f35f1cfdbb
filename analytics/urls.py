"""The analysts' dashboard, mounted at /dashboard/."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "analytics"

urlpatterns = [
    path("", views.dashboard_index, name="index"),
    path("<uuid:tenant_id>/", views.dashboard_tenant, name="tenant"),
]
