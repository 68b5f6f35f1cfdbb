"""`manage.py seed_demo`: a demo tenant with synthetic history, seeded once, through the services."""

from __future__ import annotations

import io
import re
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from fido2 import cbor
from fido2.cose import CoseKey

from analytics.models import DailyMetric, Event, EventType, KnownUser, Nudge, NudgePolicy
from analytics.seed.population import PROVIDERS, SECURITY_KEY_MODELS
from analytics.services.events import event_record
from analytics.services.metrics import adoption_report
from passkeys.models import CreatedVia, Credential, PasskeyUser
from passkeys.selectors import credentials_by_authenticator
from tenants.models import Tenant

SMALL = ["--users", "60", "--days", "10"]
UPGRADE_FIGURES = ("automatic_upgrades_offered", "automatic_upgrades_completed", "cross_device_sign_ins")


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *SMALL, *args, stdout=out)
    return out.getvalue()


def demo() -> Tenant:
    return Tenant.objects.get(name="Demo", rp_id="localhost")


def history(tenant: Tenant) -> dict[str, int]:
    models = (Event, Credential, PasskeyUser, Nudge, KnownUser, DailyMetric)
    return {model.__name__: model.objects.filter(tenant=tenant).count() for model in models}


@pytest.mark.django_db
def test_seed_records_every_day_with_passkeys_and_rising_adoption():
    output = seed()

    tenant = demo()
    today = timezone.now().date()
    days = {today - timedelta(days=n) for n in range(10)}
    assert {at.date() for at in Event.objects.filter(tenant=tenant).values_list("occurred_at", flat=True)} == days
    assert Credential.objects.filter(tenant=tenant).exists()
    metrics = list(DailyMetric.objects.filter(tenant=tenant).order_by("date"))
    assert [metric.date for metric in metrics] == sorted(days)
    first, last = metrics[0], metrics[-1]
    assert last.passkey_users / last.users > first.passkey_users / first.users
    assert re.search(r"60 users, \d+ events, \d+ passkeys, 10 days, [\d.]+ s", output)


@pytest.mark.django_db
def test_seed_history_has_every_kind_of_event_from_several_platforms():
    seed("--users", "300")  # with 60 users (SMALL) a CI run once saw no passkey sign-in at all

    events = Event.objects.filter(tenant=demo())
    kinds = set(events.values_list("type", flat=True))
    assert {EventType.SIGN_IN, EventType.AUTHENTICATION_SUCCEEDED, EventType.REGISTRATION_SUCCEEDED} <= kinds
    assert {EventType.NUDGE_DECIDED, EventType.NUDGE_SHOWN, EventType.NUDGE_ACCEPTED} <= kinds
    assert len(set(events.exclude(os_family="").values_list("os_family", flat=True))) >= 3
    assert len(set(events.exclude(browser_family="").values_list("browser_family", flat=True))) >= 3
    assert not events.filter(occurred_at__gt=timezone.now()).exists()


@pytest.mark.django_db
def test_seeded_passkeys_have_real_keys_random_ids_and_listed_aaguids():
    seed("--users", "300")  # with 60 users (SMALL) the history of some calendar days has no passkey sign-in

    credentials = Credential.objects.filter(tenant=demo())
    assert credentials.exists()
    for credential in credentials:
        assert CoseKey.parse(cbor.decode(bytes(credential.public_key))).ALGORITHM == -7
        assert 16 <= len(bytes(credential.credential_id)) <= 32
        assert credential.aaguid in {provider.aaguid for provider in PROVIDERS.values()}
    assert len({bytes(c.credential_id) for c in credentials}) == credentials.count()
    assert credentials.exclude(provider_name="").exists()
    used = credentials.filter(last_used_at__isnull=False)
    assert used.exists()
    assert all(c.created_at <= c.last_used_at <= timezone.now() for c in used)


@pytest.mark.django_db
def test_second_run_without_reset_adds_nothing():
    seed()
    tenant = demo()
    before = history(tenant)

    output = seed()

    assert history(tenant) == before
    assert "kept existing history" in output


@pytest.mark.django_db
def test_reset_replaces_the_history_with_the_same_one():
    seed()
    tenant = demo()
    before = history(tenant)

    seed("--reset")

    assert history(tenant) == before  # the same seed gives the same history, not a second copy


@pytest.mark.django_db
def test_seed_fills_the_tenant_demo_tenant_made():
    call_command("demo_tenant", stdout=io.StringIO())
    made = demo()

    seed()

    assert Tenant.objects.filter(name="Demo").count() == 1
    assert Event.objects.filter(tenant=made).exists()


@pytest.mark.django_db
def test_seed_and_reset_leave_other_tenants_alone(tenant):
    event_record(tenant=tenant, type=EventType.SIGN_IN, user_id="someone", method="password")
    policy = NudgePolicy.objects.create(tenant=tenant, rollout_percent=40)

    seed()
    seed("--reset")

    assert Event.objects.filter(tenant=tenant).count() == 1
    assert not DailyMetric.objects.filter(tenant=tenant).exists()
    assert not Credential.objects.filter(tenant=tenant).exists()
    policy.refresh_from_db()
    assert policy.rollout_percent == 40


@pytest.mark.django_db
def test_seed_keeps_the_demo_policy_rollout_it_found():
    call_command("demo_tenant", stdout=io.StringIO())
    NudgePolicy.objects.create(tenant=demo(), rollout_percent=70)

    seed()

    assert NudgePolicy.objects.get(tenant=demo()).rollout_percent == 70


MEDIUM = ["--users", "300", "--days", "30"]  # after SMALL, so these win: enough sign-ins for a few cross-device


def upgrade_totals(tenant: Tenant) -> tuple[dict[str, int], dict[str, int]]:
    today = timezone.now().date()
    report = adoption_report(tenant=tenant, first=today - timedelta(days=29), last=today)
    names = ("registrations_completed", "passkey_sign_ins", *UPGRADE_FIGURES)
    return {name: sum(day[name] for day in report["days"]) for name in names}, report["breakdowns"]["creation_path"]


@pytest.mark.django_db
def test_seeded_upgrades_nudges_and_passkeys_agree_as_the_services_would_record_them():
    # 1,000 users: the history depends on the hour it is seeded, and 300 users gave no cross-device sign-in
    # about one run in five; 1,000 give about fifteen.
    seed("--users", "1000", "--days", "30")

    # The report has automatic upgrades, every creation path and cross-device sign-ins, in plausible shares.
    total, paths = upgrade_totals(demo())
    assert 0 < total["automatic_upgrades_completed"] < total["automatic_upgrades_offered"], total
    assert 0 < total["cross_device_sign_ins"] < total["passkey_sign_ins"] / 5, total  # a minority, as in real use
    assert set(paths) == {"nudge", "automatic_upgrade", "other"} and all(paths.values()), paths
    assert paths["automatic_upgrade"] == total["automatic_upgrades_completed"]
    assert sum(paths.values()) == total["registrations_completed"]

    tenant = demo()
    events = Event.objects.filter(tenant=tenant)
    credentials = Credential.objects.filter(tenant=tenant)

    # Each automatic upgrade completed is a passkey made by one, kept on the platform.
    upgraded = events.filter(type=EventType.REGISTRATION_SUCCEEDED, mediation="conditional")
    made = credentials.filter(created_via=CreatedVia.AUTOMATIC_UPGRADE)
    assert made.exists()
    assert {bytes(c) for c in upgraded.values_list("credential_id", flat=True)} == {
        bytes(c) for c in made.values_list("credential_id", flat=True)
    }
    assert set(made.values_list("authenticator_attachment", flat=True)) == {"platform"}
    assert not upgraded.exclude(nudge_id=None).exists()  # the recorder credits no nudge with a silent create
    # At most one offer a user a UTC day.
    offers = Counter(
        (user_id, day.date())
        for user_id, day in events.filter(type=EventType.REGISTRATION_STARTED, mediation="conditional").values_list(
            "user_id", "occurred_at"
        )
    )
    assert offers and max(offers.values()) == 1
    # A registration naming a nudge accepted that user's nudge.
    nudged = events.filter(type=EventType.REGISTRATION_SUCCEEDED).exclude(nudge_id=None)
    assert nudged.exists()
    accepted = dict(Nudge.objects.filter(tenant=tenant, outcome="accepted").values_list("pk", "user_id"))
    assert all(accepted.get(nudge_id) == user_id for nudge_id, user_id in nudged.values_list("nudge_id", "user_id"))
    # Sign-ins from another device use a security key or a phone's synced passkey.
    remote = events.filter(type=EventType.AUTHENTICATION_SUCCEEDED, attachment="cross-platform")
    assert remote.exists()
    used = credentials.filter(credential_id__in=remote.values_list("credential_id", flat=True))
    assert all(c.authenticator_attachment == "cross-platform" or "hybrid" in c.transports for c in used)


@pytest.mark.django_db
def test_seed_offers_no_automatic_upgrade_where_the_tenant_turned_them_off():
    call_command("demo_tenant", stdout=io.StringIO())
    Tenant.objects.filter(pk=demo().pk).update(automatic_upgrades=False)

    seed()

    events = Event.objects.filter(tenant=demo())
    assert events.filter(type=EventType.REGISTRATION_SUCCEEDED).exists()
    assert not events.filter(mediation="conditional", type__startswith="registration.").exists()
    assert not Credential.objects.filter(tenant=demo(), created_via=CreatedVia.AUTOMATIC_UPGRADE).exists()


def authenticators(tenant: Tenant) -> Counter:
    columns = ("aaguid", "attestation", "authenticator_name", "authenticator_status", "backup_eligible")
    return Counter(Credential.objects.filter(tenant=tenant).values_list(*columns))


KEYS = ["--users", "1000", "--days", "30"]  # after SMALL: about 15 security keys, so every model shows


@pytest.mark.django_db
def test_seeded_passkeys_carry_their_models_verdict_name_and_metadata_status():
    seed(*KEYS)
    tenant = demo()
    credentials = Credential.objects.filter(tenant=tenant).order_by("pk")
    models = {provider.aaguid: provider for provider in PROVIDERS.values()}

    for credential in credentials:
        model = models[credential.aaguid]
        assert (credential.attestation, credential.authenticator_status) == (model.attestation, model.status)
        assert credential.authenticator_name == (model.model or credential.provider_name)
    # Synced passkeys send no attestation and are named by the AAGUID list; the metadata says nothing of them.
    synced = credentials.filter(backup_eligible=True)
    assert synced.exists() and set(synced.values_list("attestation", "authenticator_status")) == {("none", "")}
    # Security keys are the models in turn, so that every verdict and a compromised model show.
    keys = [models[aaguid] for aaguid in credentials.filter(transports=["nfc", "usb"]).values_list("aaguid", flat=True)]
    turn = [PROVIDERS[name] for name in SECURITY_KEY_MODELS]
    assert len(keys) >= len(turn) / 2 and keys == (turn * len(keys))[: len(keys)]
    figures = credentials_by_authenticator(tenant=tenant)
    assert figures["attestation"]["none"] > figures["total"] * 0.9
    assert all(figures["attestation"].values()), figures["attestation"]
    assert 0 < figures["compromised"] < figures["attestation"]["verified"]
    certified = [m for m in figures["authenticators"] if m["status"].startswith("FIDO_CERTIFIED")]
    assert certified and any(model["compromised"] for model in figures["authenticators"])


@pytest.mark.django_db
def test_reset_gives_every_passkey_the_same_verdict_model_and_status():
    seed(*MEDIUM)
    before = authenticators(demo())

    seed(*MEDIUM, "--reset")

    assert authenticators(demo()) == before


CLIENT_REPORTS = (EventType.AUTHENTICATION_CLIENT_OUTCOME, EventType.REGISTRATION_CLIENT_OUTCOME)


def client_reports(tenant: Tenant) -> list[tuple]:
    columns = ("type", "outcome", "error_name", "duration_ms", "capabilities", "ceremony_ref", "user_id", "mediation")
    reports = Event.objects.filter(tenant=tenant, type__in=CLIENT_REPORTS)
    return sorted(tuple(str(value) for value in row) for row in reports.values_list(*columns))


@pytest.mark.django_db
def test_seeded_browsers_report_how_ceremonies_ended_and_the_report_shows_it():
    seed(*MEDIUM)
    tenant = demo()
    today = timezone.now().date()
    report = adoption_report(tenant=tenant, first=today - timedelta(days=29), last=today)
    days = report["days"]

    # Cancellations (of either ceremony) and timed successful sign-ins, in plausible times.
    assert sum(day["client_cancellations"] for day in days) > 0
    timed = [day for day in days if day["authentication_ms_p50"] is not None]
    assert timed
    assert all(day["authentication_ms_p50"] <= day["authentication_ms_p95"] for day in timed)
    typical = sorted(day["authentication_ms_p50"] for day in timed)[len(timed) // 2]
    assert 1000 <= typical <= 6000, typical
    outcomes = report["breakdowns"]["client_outcomes"]
    failed = sum(count for name, count in outcomes.items() if name not in ("succeeded", "aborted"))
    assert outcomes["succeeded"] > 5 * failed, outcomes  # most passkey sign-ins end well

    events = Event.objects.filter(tenant=tenant)
    sign_ins = events.filter(type=EventType.AUTHENTICATION_CLIENT_OUTCOME)
    # The funnel holds: every report names a sign-in started, at most one report each, none before its start.
    started = dict(events.filter(type=EventType.AUTHENTICATION_STARTED).values_list("ceremony_ref", "occurred_at"))
    refs = list(sign_ins.values_list("ceremony_ref", "occurred_at"))
    assert len({ref for ref, _ in refs}) == len(refs)
    assert all(ref in started and started[ref] <= ended for ref, ended in refs)
    # Most browsers say what they can do: autofill nearly all, silent creation fewer, hybrid the computers.
    capabilities = report["breakdowns"]["capabilities"]
    assert capabilities["reported"] >= capabilities["conditionalGet"] > capabilities["conditionalCreate"] > 0
    assert 0 < capabilities["hybridTransport"] < capabilities["reported"]
    # Registrations report too: each names a registration started for its user.
    registrations = events.filter(type=EventType.REGISTRATION_CLIENT_OUTCOME)
    assert {"succeeded", "cancelled"} <= set(registrations.values_list("outcome", flat=True))
    begun = set(events.filter(type=EventType.REGISTRATION_STARTED).values_list("ceremony_ref", "user_id"))
    assert set(registrations.values_list("ceremony_ref", "user_id")) <= begun


@pytest.mark.django_db
def test_reset_gives_the_same_browser_reports():
    seed(*MEDIUM)
    before = client_reports(demo())

    seed(*MEDIUM, "--reset")

    assert before and client_reports(demo()) == before
