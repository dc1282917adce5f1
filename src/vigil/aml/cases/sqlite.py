"""The embedded case store: one SQLite file (or memory), stdlib ``sqlite3`` only.

A lock serialises writers within the process, SQLite serialises processes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vigil.aml.cases.model import SlaPolicy
from vigil.aml.cases.sql import SCHEMA, SqlCaseStore


class SqliteCaseStore(SqlCaseStore):
    """A :class:`~vigil.aml.cases.store.CaseStore` in one SQLite database."""

    def __init__(self, path: str | Path = ":memory:", sla: SlaPolicy | None = None):
        self.sla = sla or SlaPolicy()
        self._conn = sqlite3.connect(str(path), check_same_thread=False)
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._lock = threading.Lock()
        with self._write() as db:
            for statement in SCHEMA:
                db.execute(statement)

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._conn:
            yield self._conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn
