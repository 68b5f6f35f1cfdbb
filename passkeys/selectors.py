"""Reads of the passkeys domain; every one takes the tenant first, and none imports a service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from django.db.models import Count, F, Min, Q, QuerySet, Value
from django.db.models.functions import Coalesce, NullIf, TruncDate

from core import statements
from core.errors import NotFound
from tenants.models import CredentialKinds, Tenant

from . import webauthn
from .models import AttestationVerdict, Credential, PasskeyUser

# A credential as options name it: its id and the transports the browser reported (§5.8.3 descriptors).
Descriptor = tuple[bytes, list[str]]
AUTHENTICATOR_ROWS = 10  # models named one by one on the dashboard; the rest are summed


@dataclass(frozen=True)
class UserCredentials:
    user: PasskeyUser | None  # None before the user's first ceremony: no handle yet
    credentials: list[Credential]


def passkey_user_get(*, tenant: Tenant, user_id: str) -> PasskeyUser | None:
    """The user's WebAuthn identity (their random handle), or None before their first registration start."""
    return PasskeyUser.objects.filter(tenant=tenant, user_id=user_id).first()


def user_credentials_get(*, tenant: Tenant, user_id: str) -> UserCredentials:
    """The user's WebAuthn identity and passkeys, oldest first: two indexed queries."""
    user = passkey_user_get(tenant=tenant, user_id=user_id)
    if user is None:
        return UserCredentials(user=None, credentials=[])
    credentials = list(Credential.objects.filter(tenant=tenant, user=user).order_by("created_at"))
    for credential in credentials:
        credential.user = user  # the owner is known: no join, no query per row
    return UserCredentials(user=user, credentials=credentials)


def credential_get(*, tenant: Tenant, credential_id: bytes) -> Credential:
    try:
        return Credential.objects.select_related("user").get(tenant=tenant, credential_id=credential_id)
    except Credential.DoesNotExist:
        raise NotFound("No credential with this id.") from None


# Only the columns a login reads (verification, the counter UPDATE, policy, token, event, webhook).
LOGIN_CREDENTIAL_FIELDS = (
    "id", "tenant", "user", "credential_id", "public_key", "aaguid", "backup_eligible", "backed_up", "user_verified",
    "sign_count", "provider_name", "authenticator_status",
)  # fmt: skip
LOGIN_OWNER_FIELDS = ("id", "tenant", "user_id", "handle")


@cache
def _login_statement() -> tuple[str, tuple]:
    # In the models' field order, as Model.from_db takes a subset of the columns.
    credential = [f for f in Credential._meta.concrete_fields if f.name in LOGIN_CREDENTIAL_FIELDS]
    owner = [f for f in PasskeyUser._meta.concrete_fields if f.name in LOGIN_OWNER_FIELDS]
    columns = [f"c.{statements.quoted(f.column)}" for f in credential] + [
        f"u.{statements.quoted(f.column)}" for f in owner
    ]
    q, t = statements.column, statements.table
    # Identifiers from the models, values bound (S608 cannot tell the two apart).
    sql = (
        f"SELECT {', '.join(columns)} FROM {t(Credential)} c "  # noqa: S608
        f"JOIN {t(PasskeyUser)} u ON u.{q(PasskeyUser, 'id')} = c.{q(Credential, 'user')} "
        f"WHERE c.{q(Credential, 'tenant')} = %s AND c.{q(Credential, 'credential_id')} = %s"
    )
    return sql, (*credential, *owner)


def credential_for_login(*, tenant: Tenant, credential_id: bytes) -> Credential | None:
    """The credential a login names, with its owner, in one query; None if the tenant has none with this id.

    On every login, so one statement written once (core.statements) with only the columns a login reads."""
    sql, fields = _login_statement()
    params = [statements.db_value(Credential, "tenant", tenant.pk), credential_id]
    rows = statements.rows_read(sql, params, fields)
    if not rows:
        return None
    split = len(LOGIN_CREDENTIAL_FIELDS)
    credential = Credential.from_db("default", [f.attname for f in fields[:split]], rows[0][:split])
    credential.user = PasskeyUser.from_db("default", [f.attname for f in fields[split:]], rows[0][split:])
    return credential


def credential_id_taken(*, tenant: Tenant, credential_id: bytes) -> bool:
    """Whether the tenant (the relying party) already has a credential with this id (§7.1 step 26)."""
    return Credential.objects.filter(tenant=tenant, credential_id=credential_id).exists()


def _descriptors(credentials: QuerySet[Credential]) -> list[Descriptor]:
    return [
        (bytes(credential_id), transports)
        for credential_id, transports in credentials.values_list("credential_id", "transports")
    ]


def login_allow_list(*, tenant: Tenant, user_id: str) -> list[Descriptor]:
    """allowCredentials of a login bound to a user: their credentials, in one query (none for an unknown user)."""
    return _descriptors(Credential.objects.filter(tenant=tenant, user__user_id=user_id))


def registration_exclude_list(*, tenant: Tenant, user: PasskeyUser) -> list[Descriptor]:
    """excludeCredentials of a registration: the user's credentials, so an authenticator is not registered twice."""
    return _descriptors(Credential.objects.filter(tenant=tenant, user=user))


def user_credential_count(*, tenant: Tenant, user_id: str) -> int:
    return Credential.objects.filter(tenant=tenant, user__user_id=user_id).count()


# --- What analytics reads of passkeys (metrics, nudges, the demo seed).


def passkeys_of_user(*, tenant: Tenant, user_id: str) -> QuerySet[Credential]:
    """The user's passkeys, as a query the caller narrows to the columns it reads (and may annotate)."""
    # Naming the user's tenant too lets the unique (tenant, user_id) index drive the join.
    return Credential.objects.filter(tenant=tenant, user__tenant=tenant, user__user_id=user_id)


def passkey_owners_first_day(*, tenant: Tenant, until: datetime) -> QuerySet:
    """(tenant_id, user id, first UTC day) of each user with a passkey created before `until`, as a subquery."""
    return (
        Credential.objects.filter(tenant=tenant, created_at__lt=until)
        .values("tenant_id", "user__user_id")
        .annotate(first=Min(TruncDate("created_at", tzinfo=UTC)))
    )


def passkey_owners_between(*, tenant: Tenant, start: datetime, end: datetime) -> QuerySet:
    """User ids of those who created a passkey in [start, end), as a subquery."""
    owners = PasskeyUser.objects.filter(
        tenant=tenant, credentials__created_at__gte=start, credentials__created_at__lt=end
    )
    return owners.values_list("user_id")


def passkeys_count(*, tenant: Tenant) -> int:
    return Credential.objects.filter(tenant=tenant).count()


def credentials_by_authenticator(*, tenant: Tenant) -> dict:
    """The tenant's credentials now, by attestation verdict and authenticator model, and what a stricter policy
    would refuse: two aggregate queries, whatever the number of credentials.

    Returns {"total", "attestation": {verdict: n} (every verdict), "authenticators": the 10 largest models as
    {"aaguid", "name", "status", "count", "compromised"}, "other": credentials on the remaining models,
    "compromised": credentials on a model the metadata reports compromised (what `enforce` refuses at login),
    "enforce_refuses_registration": those `enforce` would not have registered (attestation not verified, or a
    compromised model), "kinds_refuse": {credential_kinds: those it would not have registered}}.
    """
    credentials = Credential.objects.filter(tenant=tenant)
    compromised = Q(authenticator_status__in=webauthn.COMPROMISED)
    verdicts = {verdict: Count("pk", filter=Q(attestation=verdict)) for verdict in AttestationVerdict.values}
    totals = credentials.aggregate(
        total=Count("pk"),
        compromised=Count("pk", filter=compromised),
        # registration_policy_check under enforce: a verified attestation from a model not reported compromised.
        enforce_refuses_registration=Count("pk", filter=~Q(attestation=AttestationVerdict.VERIFIED) | compromised),
        # BE is fixed for a credential's life (§6.1.3), so it says how each credential_kinds would have answered.
        refused_if_device_bound=Count("pk", filter=Q(backup_eligible=True)),
        refused_if_synced=Count("pk", filter=Q(backup_eligible=False)),
        **{f"attestation_{verdict}": count for verdict, count in verdicts.items()},
    )
    # A row is a model (its AAGUID) and its status; a credential without a metadata name (imported, or stored before
    # the metadata came) goes by the AAGUID list's name, and models neither names come after the named ones.
    name = NullIf(Coalesce(NullIf("authenticator_name", Value("")), "provider_name"), Value(""))
    models = (
        credentials.values("aaguid", "authenticator_status", label=name)
        .annotate(count=Count("pk"))
        .order_by("-count", F("label").asc(nulls_last=True), "authenticator_status", "aaguid")[:AUTHENTICATOR_ROWS]
    )
    authenticators = [
        {
            "aaguid": row["aaguid"],
            "name": row["label"] or "",
            "status": row["authenticator_status"],
            "count": row["count"],
            "compromised": row["authenticator_status"] in webauthn.COMPROMISED,
        }
        for row in models
    ]
    return {
        "total": totals["total"],
        "attestation": {verdict: totals[f"attestation_{verdict}"] for verdict in verdicts},
        "authenticators": authenticators,
        "other": totals["total"] - sum(row["count"] for row in authenticators),
        "compromised": totals["compromised"],
        "enforce_refuses_registration": totals["enforce_refuses_registration"],
        "kinds_refuse": {
            CredentialKinds.ANY: 0,
            CredentialKinds.DEVICE_BOUND: totals["refused_if_device_bound"],
            CredentialKinds.SYNCED: totals["refused_if_synced"],
        },
    }
