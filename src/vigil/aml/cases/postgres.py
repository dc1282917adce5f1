"""The scale-out case store: the same SQL as the embedded one, in PostgreSQL.

Case ids and sequence numbers are counted in the database (``COUNT(*) + 1``), so every change
takes one advisory lock for its transaction: workers on many hosts file alerts one at a time.
Cases are a few per thousand payments, so the lock costs nothing that matters, and the ids stay
dense and readable (C00000042) as analysts and regulators expect.
"""

from __future__ import annotations

from vigil.aml.cases.model import SlaPolicy
from vigil.aml.cases.sql import SCHEMA, SqlCaseStore
from vigil.store.postgres import migrate
from vigil.store.scopes import PostgresScopes

#: version 1 is the embedded schema; REAL is single precision in PostgreSQL, so scores are
#: DOUBLE PRECISION, as SQLite's REAL is
MIGRATIONS = ([statement.replace(" REAL ", " DOUBLE PRECISION ") for statement in SCHEMA],)


class PostgresCaseStore(SqlCaseStore):
    """A :class:`~vigil.aml.cases.store.CaseStore` in PostgreSQL, shared by every worker."""

    def __init__(self, url: str, schema: str | None = None, sla: SlaPolicy | None = None):
        scopes = PostgresScopes(url, schema, serialise="cases")
        super().__init__(scopes, sla)
        migrate(scopes.conn, "cases", MIGRATIONS)
