"""The embedded audit trail: one SQLite file.

Triggers refuse UPDATE and DELETE, so no code path of Vigil's can rewrite history by mistake;
whoever edits the file directly can drop them, and the hash chain then shows what changed.
Appends take SQLite's write lock (``BEGIN IMMEDIATE``) to read the head and add the next record
in one transaction, so two processes on one file still build one chain.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from vigil.audit.chain import (
    COLUMNS,
    GENESIS,
    AuditError,
    AuditRecord,
    Verification,
    new_record,
    paged_records,
    to_row,
    verify_records,
)
from vigil.audit.trail import Clock, utc_now

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_trail (
    seq       INTEGER PRIMARY KEY,
    time      TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    details   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_trail_no_update BEFORE UPDATE ON audit_trail
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS audit_trail_no_delete BEFORE DELETE ON audit_trail
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: DELETE refused'); END;
"""

_COLUMNS = ", ".join(COLUMNS)


class SqliteTrail:
    """An :class:`~vigil.audit.trail.AuditTrail` in a SQLite file (created if absent)."""

    def __init__(self, path: Path, clock: Clock = utc_now):
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # autocommit mode: transactions are opened explicitly, with the lock they need
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA busy_timeout = 10000")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as error:
            raise AuditError(f"{self.path}: cannot open the audit trail: {error}") from None

    def append(
        self,
        actor: str,
        action: str,
        subject: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> AuditRecord:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                head = self._db.execute(
                    "SELECT seq, hash FROM audit_trail ORDER BY seq DESC LIMIT 1"
                ).fetchone()
                seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS)
                record = new_record(seq, self._clock(), actor, action, subject, details, prev_hash)
                self._db.execute(
                    f"INSERT INTO audit_trail ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    to_row(record),
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return record

    def records(self, since: int = 0) -> Iterator[AuditRecord]:
        return paged_records(self._page, since)

    def _page(self, after: int, limit: int) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(
                f"SELECT {_COLUMNS} FROM audit_trail WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()

    def verify(self, anchor: str | None = None) -> Verification:
        return verify_records(self.records(), anchor)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteTrail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
