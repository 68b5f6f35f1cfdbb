"""A passkey registered inside a nudge's window accepts it in the registration's own transaction,
so metrics see it at once without beat's sweep (the embedded mode has no beat)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from analytics.models import Event, EventType, Nudge, NudgeSchedule, ScheduleStatus
from analytics.services.metrics import adoption_metrics_compute
from analytics.services.nudges import nudge_outcome_record, nudges_schedule, sign_in_record
from passkeys.models import Credential
from tests.support.authenticator import SoftAuthenticator


def nudged(api, user_id: str = "alice") -> Nudge:
    body = {"user_id": user_id, "method": "password", "platform_authenticator_available": True}
    response = api.post("/v1/sign-ins", body)
    assert response.status_code == 201, response.content
    return Nudge.objects.get(pk=response.json()["nudge"]["id"])


def shown(api, nudge: Nudge) -> None:
    assert api.post(f"/v1/nudges/{nudge.pk}/outcome", {"outcome": "shown"}).status_code == 200


def today_metric(tenant):
    return adoption_metrics_compute(tenant=tenant, day=timezone.now().date())


def accepted_events(nudge: Nudge) -> int:
    return Event.objects.filter(nudge_id=nudge.pk, type=EventType.NUDGE_ACCEPTED).count()


def test_registration_after_a_shown_nudge_is_counted_accepted_without_a_sweep(api, tenant, authenticator):
    nudge = nudged(api)
    shown(api, nudge)

    assert api.register(authenticator, "alice").status_code == 201

    nudge.refresh_from_db()
    assert nudge.outcome == "accepted"
    metric = today_metric(tenant)
    assert (metric.nudges_shown, metric.nudges_accepted) == (1, 1)
    assert NudgeSchedule.objects.get(tenant=tenant, user_id="alice").status == ScheduleStatus.DONE


def test_registration_after_an_unanswered_nudge_accepts_it_and_records_it_shown(api, tenant, authenticator):
    nudge = nudged(api)

    assert api.register(authenticator, "alice").status_code == 201

    metric = today_metric(tenant)
    assert (metric.nudges_shown, metric.nudges_accepted) == (1, 1)
    assert Nudge.objects.get(pk=nudge.pk).outcome == "accepted"


def test_the_sweep_after_an_accepting_registration_counts_nothing_again(api, tenant, authenticator):
    nudge = nudged(api)
    assert api.register(authenticator, "alice").status_code == 201

    assert nudges_schedule().accepted == 0
    nudge_outcome_record(tenant=tenant, nudge_id=nudge.pk, outcome="accepted")  # the RP says so too, later

    assert accepted_events(nudge) == 1
    assert today_metric(tenant).nudges_accepted == 1


def test_a_second_passkey_does_not_accept_the_nudge_twice(api, tenant, authenticator):
    nudge = nudged(api)
    assert api.register(authenticator, "alice").status_code == 201
    assert api.register(SoftAuthenticator(), "alice").status_code == 201

    assert accepted_events(nudge) == 1


def test_registration_after_the_window_does_not_accept(api, tenant, authenticator):
    long_ago = timezone.now() - timedelta(hours=24, minutes=1)
    old = sign_in_record(
        tenant=tenant, user_id="alice", method="password", platform_authenticator_available=True, now=long_ago
    ).nudge
    assert old is not None and old.accept_until < timezone.now()

    assert api.register(authenticator, "alice").status_code == 201

    assert Nudge.objects.get(pk=old.pk).outcome == ""
    assert today_metric(tenant).nudges_accepted == 0


def test_registration_by_another_user_or_at_another_tenant_does_not_accept(
    api, tenant, make_tenant, make_api, authenticator
):
    nudge = nudged(api, "alice")
    other = make_api(make_tenant(name="Other", rp_id="other.example.org", origins=["https://other.example.org"]))

    assert api.register(authenticator, "bob").status_code == 201
    assert other.register(SoftAuthenticator(), "alice", origin="https://other.example.org").status_code == 201

    assert Nudge.objects.get(pk=nudge.pk).outcome == ""
    assert today_metric(tenant).nudges_accepted == 0


def test_a_dismissed_nudge_stays_dismissed_when_a_passkey_follows(api, tenant, authenticator):
    nudge = nudged(api)
    assert api.post(f"/v1/nudges/{nudge.pk}/outcome", {"outcome": "dismissed"}).status_code == 200

    assert api.register(authenticator, "alice").status_code == 201

    assert Nudge.objects.get(pk=nudge.pk).outcome == "dismissed"
    metric = today_metric(tenant)
    assert (metric.nudges_accepted, metric.nudges_dismissed) == (0, 1)


def test_a_dismissal_after_the_accepting_registration_is_ignored(api, tenant, authenticator):
    nudge = nudged(api)
    assert api.register(authenticator, "alice").status_code == 201

    assert api.post(f"/v1/nudges/{nudge.pk}/outcome", {"outcome": "dismissed"}).status_code == 200

    assert Nudge.objects.get(pk=nudge.pk).outcome == "accepted"
    assert today_metric(tenant).nudges_dismissed == 0


def test_a_failed_registration_accepts_nothing(api, tenant, authenticator):
    nudge = nudged(api)

    response = api.register(authenticator, "alice", origin="https://evil.example")

    assert response.status_code == 400
    assert Nudge.objects.get(pk=nudge.pk).outcome == ""


class RolledBack(Exception):
    pass


def test_acceptance_is_rolled_back_with_the_registration_transaction(api, tenant, authenticator):
    nudge = nudged(api)

    with pytest.raises(RolledBack), transaction.atomic():
        assert api.register(authenticator, "alice").status_code == 201
        assert Nudge.objects.get(pk=nudge.pk).outcome == "accepted"  # inside: already attributed
        raise RolledBack

    assert not Credential.objects.exists()
    assert Nudge.objects.get(pk=nudge.pk).outcome == ""
    assert accepted_events(nudge) == 0
