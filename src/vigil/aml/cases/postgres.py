"""The scale-out case store: the same SQL as the embedded one, in PostgreSQL.

Case ids and sequence numbers are counted in the database (``COUNT(*) + 1``), so every change
takes one advisory lock for its transaction: workers on many hosts file alerts one at a time.
Cases are a few per thousand payments, so the lock costs nothing that matters, and the ids stay
dense and readable (C00000042) as analysts and regulators expect.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from vigil.aml.cases.model import SlaPolicy
from vigil.aml.cases.sql import SCHEMA, SqlCaseStore
from vigil.store.postgres import QmarkConnection, connect, lock_key, migrate

#: version 1 is the embedded schema; REAL is single precision in PostgreSQL, so scores are
#: DOUBLE PRECISION, as SQLite's REAL is
MIGRATIONS = ([statement.replace(" REAL ", " DOUBLE PRECISION ") for statement in SCHEMA],)


class PostgresCaseStore(SqlCaseStore):
    """A :class:`~vigil.aml.cases.store.CaseStore` in PostgreSQL, shared by every worker."""

    def __init__(self, url: str, schema: str | None = None, sla: SlaPolicy | None = None):
        self.sla = sla or SlaPolicy()
        self._conn = connect(url, schema)
        self._db = QmarkConnection(self._conn)
        self._lock = threading.Lock()  # one connection: one statement at a time
        migrate(self._conn, "cases", MIGRATIONS)

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _write(self) -> Iterator[QmarkConnection]:
        with self._lock, self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("cases"),))
            yield self._db

    @contextmanager
    def _read(self) -> Iterator[QmarkConnection]:
        with self._lock, self._conn.transaction():
            yield self._db
