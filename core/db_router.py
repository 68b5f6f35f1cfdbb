"""The read replica (DATABASE_REPLICA_URL): which alias report reads use, and a router that keeps every write on the
primary.

Reads go to the replica only where a selector says so with `.using(replica_alias())` (the adoption report's stored
rows and live days): a replica lags, so nothing that is written back, and nothing read inside a writing transaction,
may come from it. The router therefore leaves reads alone and only pins writes and migrations to the primary.
"""

from __future__ import annotations

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS

REPLICA = "replica"


def replica_alias() -> str:
    """The alias report reads use: the replica when one is configured, else the primary."""
    return REPLICA if REPLICA in settings.DATABASES else DEFAULT_DB_ALIAS


class PrimaryReplicaRouter:
    """Installed with a replica. A row read from the replica carries `_state.db = "replica"`, and Django would save it
    back there; every write goes to the primary instead."""

    def db_for_read(self, model, **hints) -> str | None:
        return None  # the primary, unless a query names the replica itself

    def db_for_write(self, model, **hints) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool | None:
        # One database seen through two connections: rows of either may point at each other.
        if {obj1._state.db, obj2._state.db} <= {DEFAULT_DB_ALIAS, REPLICA}:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool | None:
        return False if db == REPLICA else None  # the replica follows the primary's schema by replication
