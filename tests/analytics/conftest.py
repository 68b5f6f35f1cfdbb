"""Fixtures of the dashboard tests: two tenants and an analyst who may see only the first."""

from __future__ import annotations

import pytest

from tenants.models import Membership


@pytest.fixture
def tenant_a(make_tenant):
    return make_tenant(name="Alpha Corp", rp_id="a.example.com", origins=["https://a.example.com"])


@pytest.fixture
def tenant_b(make_tenant):
    return make_tenant(name="Beta Corp", rp_id="b.example.org", origins=["https://b.example.org"])


@pytest.fixture
def analyst_a(client, django_user_model, tenant_a):
    """A signed-in analyst of tenant A only."""
    person = django_user_model.objects.create_user(username="ana", password="correct horse battery staple")
    Membership.objects.create(user=person, tenant=tenant_a, role="analyst")
    client.force_login(person)
    return client


# Two tenants whose event retentions differ: 30 and 400 days.
@pytest.fixture
def short(make_tenant):
    return make_tenant(name="Short", rp_id="short.example.com", event_retention_days=30)


@pytest.fixture
def long(make_tenant):
    return make_tenant(
        name="Long", rp_id="long.example.org", origins=["https://long.example.org"], event_retention_days=400
    )
