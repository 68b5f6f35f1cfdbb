"""The dashboard's Authenticators card: the tenant's passkeys now by attestation verdict and model, those on
compromised models, and what `enforce` or a credential_kinds setting would refuse; one selector, two queries."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.utils import timezone

from passkeys.models import Credential
from passkeys.selectors import credentials_by_authenticator
from passkeys.services.credentials import credential_import

APPLE = uuid.UUID("fbfc3007-154e-4ecc-8c0b-6e020557d7bd")  # "Apple Passwords" in the AAGUID list
YUBIKEY = uuid.UUID("cb69481e-8ff7-4039-93ec-0a2729a154a8")  # in no AAGUID list: named by the metadata
RECALLED = uuid.UUID("27f06c5d-8e1b-4a93-a6d4-0b9c2e5f8a31")
BYPASSED = uuid.UUID("9e4a3b21-6c7d-4f80-b1e2-3d5c7a9b0f14")
NAMELESS = uuid.UUID("e6a2c4f8-1d3b-4c5e-9f70-2b8d4a6c0e93")
_ids = itertools.count()


def passkey(tenant, aaguid: uuid.UUID, *, attestation: str = "none", name: str = "", status: str = "",
            synced: bool = True, created_at=None) -> Credential:  # fmt: skip
    """A stored credential as a registration under the metadata would leave it."""
    number = next(_ids)
    credential = credential_import(
        tenant=tenant, user_id=f"user-{number}", credential_id=number.to_bytes(16, "big"), public_key=b"\xa5" * 77,
        algorithm=-7, aaguid=aaguid, backup_eligible=synced, backed_up=synced, created_at=created_at,
    )  # fmt: skip
    columns = {"attestation": attestation, "authenticator_name": name, "authenticator_status": status}
    Credential.objects.filter(pk=credential.pk).update(**columns)
    return credential


def mixed_seed(tenant) -> None:
    """8 passkeys: 3 synced without attestation, 2 certified keys, one key of a revoked model that still
    attested, one untrusted key of a model whose user verification can be bypassed, one self-attested key."""
    for _ in range(3):
        passkey(tenant, APPLE)  # named by the AAGUID list only: stored before the metadata said anything
    for _ in range(2):
        passkey(tenant, YUBIKEY, attestation="verified", name="YubiKey 5 Series", status="FIDO_CERTIFIED_L1",
                synced=False)  # fmt: skip
    passkey(tenant, RECALLED, attestation="verified", name="Northwind Authenticator v1", status="REVOKED", synced=False)
    passkey(tenant, BYPASSED, attestation="untrusted", name="Contoso SecureKey", status="USER_VERIFICATION_BYPASS",
            synced=False)  # fmt: skip
    passkey(tenant, NAMELESS, attestation="self", synced=False)


def model(aaguid: uuid.UUID, name: str, status: str, count: int, *, compromised: bool = False) -> dict:
    return {"aaguid": aaguid, "name": name, "status": status, "count": count, "compromised": compromised}


class _Card(HTMLParser):
    """The Authenticators card: its pills, and the data-value of each verdict bar, model row and figure box."""

    def __init__(self) -> None:
        super().__init__()
        self.found = False
        self.total: int | None = None
        self.policy = self.kinds = ""
        self.empty = ""
        self.verdicts: dict[str, int] = {}
        self.models: dict[str, tuple[str, int]] = {}
        self.models_compromised: dict[str, int] = {}
        self.figures: dict[str, int] = {}
        self.alarms: set[str] = set()
        self.current: set[str] = set()
        self._inside = False
        self._in_empty = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "article":
            self._inside = attributes.get("id") == "authenticators"
            if self._inside:
                self.found, self.total = True, int(attributes["data-total"])
        if not self._inside:
            return
        if "data-policy" in attributes:
            self.policy = attributes["data-policy"]
        if "data-kinds" in attributes:
            self.kinds = attributes["data-kinds"]
        if tag == "p" and attributes.get("class") == "empty":
            self._in_empty = True
        if tag == "g" and "data-verdict" in attributes:
            self.verdicts[attributes["data-verdict"]] = int(attributes["data-value"])
        if tag == "g" and "data-authenticator" in attributes:
            key = attributes["data-authenticator"]
            self.models[key] = (attributes["data-status"], int(attributes["data-value"]))
            self.models_compromised[key] = int(attributes["data-compromised"])
        if tag == "g" and "data-figure" in attributes:
            key = attributes["data-figure"]
            self.figures[key] = int(attributes["data-value"])
            if attributes.get("data-alarm") == "true":
                self.alarms.add(key)
            if attributes.get("data-current") == "true":
                self.current.add(key)

    def handle_endtag(self, tag):
        if tag == "article":
            self._inside = False
        self._in_empty = self._in_empty and tag != "p"

    def handle_data(self, data):
        if self._in_empty:
            self.empty += data.strip()


def card(response) -> _Card:
    assert response.status_code == 200
    parser = _Card()
    parser.feed(response.content.decode())
    assert parser.found, "the page has no Authenticators card"
    return parser


# --- The selector.


def test_selector_counts_verdicts_models_compromises_and_what_each_policy_would_refuse(tenant_a):
    mixed_seed(tenant_a)

    figures = credentials_by_authenticator(tenant=tenant_a)

    assert figures == {
        "total": 8,
        "attestation": {"none": 3, "self": 1, "verified": 3, "untrusted": 1},
        "authenticators": [
            # The largest first, equal counts by name and the unnamed last; a model the metadata did not name has its
            # AAGUID list name.
            model(APPLE, "Apple Passwords", "", 3),
            model(YUBIKEY, "YubiKey 5 Series", "FIDO_CERTIFIED_L1", 2),
            model(BYPASSED, "Contoso SecureKey", "USER_VERIFICATION_BYPASS", 1, compromised=True),
            model(RECALLED, "Northwind Authenticator v1", "REVOKED", 1, compromised=True),
            model(NAMELESS, "", "", 1),
        ],
        "other": 0,
        # What login_policy_check refuses under enforce: the REVOKED and the USER_VERIFICATION_BYPASS model.
        "compromised": 2,
        # Not verified (3 none, 1 self, 1 untrusted), or verified but REVOKED; the certified keys pass.
        "enforce_refuses_registration": 6,
        # device_bound refuses BE set (the 3 synced), synced refuses BE clear (the 5 keys).
        "kinds_refuse": {"any": 0, "device_bound": 3, "synced": 5},
    }


def test_a_verified_attestation_from_a_compromised_model_would_still_be_refused_by_enforce(tenant_a):
    passkey(tenant_a, RECALLED, attestation="verified", name="Northwind Authenticator v1", status="REVOKED")
    passkey(tenant_a, YUBIKEY, attestation="verified", name="YubiKey 5 Series", status="UPDATE_AVAILABLE")

    figures = credentials_by_authenticator(tenant=tenant_a)

    # UPDATE_AVAILABLE is no compromise: only the revoked model counts.
    assert (figures["compromised"], figures["enforce_refuses_registration"]) == (1, 1)


def test_selector_names_the_ten_largest_models_and_sums_the_rest_as_other(tenant_a):
    aaguids = [uuid.UUID(int=n + 1) for n in range(12)]
    for n, aaguid in enumerate(aaguids):
        for _ in range(2 if n < 10 else 1):
            passkey(tenant_a, aaguid, name=f"Model {n:02d}")

    figures = credentials_by_authenticator(tenant=tenant_a)

    assert [(model["name"], model["count"]) for model in figures["authenticators"]] == [
        (f"Model {n:02d}", 2) for n in range(10)
    ]
    assert (figures["other"], figures["total"]) == (2, 22)


def test_selector_never_counts_another_tenants_credentials(tenant_a, tenant_b):
    mixed_seed(tenant_a)
    alone = credentials_by_authenticator(tenant=tenant_a)
    # B holds the same models, more of them, compromised and not.
    mixed_seed(tenant_b)
    passkey(tenant_b, RECALLED, attestation="verified", name="Northwind Authenticator v1", status="REVOKED")
    passkey(tenant_b, uuid.UUID(int=99), name="Only at Beta")

    assert credentials_by_authenticator(tenant=tenant_a) == alone
    assert credentials_by_authenticator(tenant=tenant_b)["total"] == 10


def test_selector_of_a_tenant_without_credentials_is_all_zero(tenant_a, tenant_b):
    mixed_seed(tenant_b)

    figures = credentials_by_authenticator(tenant=tenant_a)

    assert figures == {
        "total": 0,
        "attestation": {"none": 0, "self": 0, "verified": 0, "untrusted": 0},
        "authenticators": [],
        "other": 0,
        "compromised": 0,
        "enforce_refuses_registration": 0,
        "kinds_refuse": {"any": 0, "device_bound": 0, "synced": 0},
    }


def test_selector_takes_two_queries_whatever_the_number_of_credentials(tenant_a, django_assert_max_num_queries):
    mixed_seed(tenant_a)
    for n in range(15):
        passkey(tenant_a, uuid.UUID(int=n + 1), attestation="verified", status="FIDO_CERTIFIED_L2", synced=False)

    with django_assert_max_num_queries(2):
        figures = credentials_by_authenticator(tenant=tenant_a)

    assert figures["total"] == 23 and len(figures["authenticators"]) == 10 and figures["other"] > 0


# --- The card on the dashboard.


def test_card_shows_the_selectors_figures(analyst_a, tenant_a, tenant_b):
    mixed_seed(tenant_a)
    mixed_seed(tenant_b)  # another tenant's passkeys change nothing on A's page
    passkey(tenant_b, uuid.UUID(int=99), name="Only at Beta")

    response = analyst_a.get(f"/dashboard/{tenant_a.pk}/")

    shown = card(response)
    assert shown.total == 8
    assert shown.verdicts == {"none": 3, "self": 1, "verified": 3, "untrusted": 1}
    assert shown.models == {
        str(APPLE): ("", 3),
        str(YUBIKEY): ("FIDO_CERTIFIED_L1", 2),
        str(NAMELESS): ("", 1),
        str(BYPASSED): ("USER_VERIFICATION_BYPASS", 1),
        str(RECALLED): ("REVOKED", 1),
    }
    assert shown.figures == {"compromised": 2, "enforce_registration": 6, "device_bound": 3, "synced": 5}
    page = response.content.decode()
    for text in ("Apple Passwords", "YubiKey 5 Series", "Northwind Authenticator v1", "Unnamed model (e6a2c4f8…)",
                 "25.0 % of passkeys", "75.0 % of passkeys", "37.5 % of all"):  # fmt: skip
        assert text in page, text
    assert "Only at Beta" not in page


def test_card_highlights_passkeys_on_compromised_models_only_when_there_are_some(analyst_a, tenant_a):
    passkey(tenant_a, YUBIKEY, attestation="verified", name="YubiKey 5 Series", status="FIDO_CERTIFIED_L1")
    assert card(analyst_a.get(f"/dashboard/{tenant_a.pk}/")).alarms == set()

    passkey(tenant_a, BYPASSED, attestation="verified", name="Contoso SecureKey", status="USER_VERIFICATION_BYPASS")
    shown = card(analyst_a.get(f"/dashboard/{tenant_a.pk}/"))

    assert shown.figures["compromised"] == 1 and shown.alarms == {"compromised"}


def test_card_has_an_other_row_beyond_ten_models_that_says_how_many_are_compromised(analyst_a, tenant_a):
    for n in range(12):
        status = "REVOKED" if n in (0, 11) else ""  # one named model and one of the rest are compromised
        passkey(tenant_a, uuid.UUID(int=n + 1), name=f"Model {n:02d}", status=status, synced=n % 2 == 0)
    passkey(tenant_a, uuid.UUID(int=1), name="Model 00", status="REVOKED", synced=True)

    response = analyst_a.get(f"/dashboard/{tenant_a.pk}/")

    shown = card(response)
    assert len(shown.models) == 11 and shown.models["other"] == ("", 2)
    assert sum(count for _, count in shown.models.values()) == shown.total == 13
    assert shown.models_compromised[str(uuid.UUID(int=1))] == 2 and shown.models_compromised["other"] == 1
    assert shown.figures["compromised"] == 3 and "1 on compromised models" in response.content.decode()


@pytest.mark.parametrize(
    ("policy", "kinds", "current"),
    [
        ("none", "any", set()),
        ("monitor", "device_bound", {"device_bound"}),
        ("enforce", "synced", {"compromised", "enforce_registration", "synced"}),
    ],
)
def test_card_header_shows_the_tenants_policy_and_marks_the_refusals_it_applies(
    analyst_a, tenant_a, policy, kinds, current
):
    tenant_a.attestation_policy, tenant_a.credential_kinds = policy, kinds
    tenant_a.save(update_fields=["attestation_policy", "credential_kinds"])
    mixed_seed(tenant_a)

    shown = card(analyst_a.get(f"/dashboard/{tenant_a.pk}/"))

    assert (shown.policy, shown.kinds, shown.current) == (policy, kinds, current)
    assert shown.figures["compromised"] == 2  # what enforce refuses is shown whatever the policy


def test_card_is_the_current_state_whatever_the_date_range(analyst_a, tenant_a):
    mixed_seed(tenant_a)
    passkey(tenant_a, YUBIKEY, attestation="verified", name="YubiKey 5 Series", status="FIDO_CERTIFIED_L1",
            created_at=timezone.now() - timedelta(days=800))  # fmt: skip

    default = card(analyst_a.get(f"/dashboard/{tenant_a.pk}/"))
    old_range = card(analyst_a.get(f"/dashboard/{tenant_a.pk}/?from=2025-01-01&to=2025-01-31"))

    assert default.total == old_range.total == 9
    assert default.figures == old_range.figures and default.models == old_range.models


def test_card_says_so_when_the_tenant_has_no_passkeys(analyst_a, tenant_a, tenant_b):
    mixed_seed(tenant_b)

    response = analyst_a.get(f"/dashboard/{tenant_a.pk}/")

    shown = card(response)
    assert (shown.total, shown.empty, shown.figures, shown.models) == (0, "No passkeys yet.", {}, {})
    assert b'id="authenticators-chart"' not in response.content
