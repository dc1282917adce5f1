"""The embedded case store: one SQLite file (or memory), stdlib ``sqlite3`` only."""

from __future__ import annotations

from pathlib import Path

from vigil.aml.cases.model import SlaPolicy
from vigil.aml.cases.sql import SCHEMA, SqlCaseStore
from vigil.store.scopes import SqliteScopes


class SqliteCaseStore(SqlCaseStore):
    """A :class:`~vigil.aml.cases.store.CaseStore` in one SQLite database."""

    def __init__(self, path: str | Path = ":memory:", sla: SlaPolicy | None = None):
        super().__init__(SqliteScopes(path), sla)
        with self._write() as db:
            for statement in SCHEMA:
                db.execute(statement)
