"""The decision log: every decision once, by ``txn_id``, in SQLite or PostgreSQL.

``record`` is the idempotency point of at-least-once delivery: a payment delivered twice
finds its first decision stored and is not recorded (or acknowledged as new) again. The log
keeps the decision as the API returned it (JSON) beside the columns an operator filters on.

Retention: :meth:`SqlDecisionLog.archive` moves decisions older than a cut-off to a Parquet
file and deletes them from the log, so the log holds the recent weeks and the archive the rest.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from vigil.schema.records import Decision
from vigil.store.postgres import migrate
from vigil.store.scopes import PostgresScopes, ScopedStore, SqliteScopes

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS decisions (
        txn_id TEXT PRIMARY KEY,
        decided_at TEXT NOT NULL,
        action TEXT NOT NULL,
        score DOUBLE PRECISION NOT NULL,
        degraded INTEGER NOT NULL,
        jurisdiction TEXT NOT NULL,
        rule_pack_version TEXT,
        model_bundle_version TEXT,
        body TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS decisions_by_time ON decisions (decided_at)",
)
_COLUMNS = (
    "txn_id, decided_at, action, score, degraded, jurisdiction, rule_pack_version, "
    "model_bundle_version, body"
)


class DecisionLog(Protocol):
    def record(self, decision: Decision) -> bool:
        """Store ``decision``; False (and nothing changed) if its ``txn_id`` is already there."""
        ...

    def get(self, txn_id: str) -> dict[str, Any] | None:
        """The stored decision as :meth:`Decision.to_dict` gave it."""
        ...

    def count(self) -> int: ...

    def txn_ids(self) -> list[str]: ...

    def archive(self, before: datetime, folder: Path) -> Path | None:
        """Move decisions made before ``before`` to a Parquet file in ``folder``."""
        ...

    def close(self) -> None: ...


def _row(decision: Decision) -> tuple[Any, ...]:
    return (
        decision.txn_id,
        _utc_text(decision.decided_at),
        decision.action,
        decision.score,
        int(decision.degraded),
        decision.jurisdiction,
        decision.rule_pack_version,
        decision.model_bundle_version,
        json.dumps(decision.to_dict(), separators=(",", ":")),
    )


def _utc_text(ts: datetime) -> str:
    if ts.tzinfo is None:
        raise ValueError(f"times are UTC and must say so; got naive {ts.isoformat()}")
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


class SqlDecisionLog(ScopedStore):
    """The log in SQL both databases run, over a backend's connection scopes."""

    def record(self, decision: Decision) -> bool:
        return self.record_many([decision]) == 1

    def record_many(self, decisions: Sequence[Decision]) -> int:
        """Store a batch in one transaction; how many were new."""
        rows = [_row(decision) for decision in decisions]
        if not rows:
            return 0
        with self._write() as db:
            return db.executemany(
                f"INSERT INTO decisions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (txn_id) DO NOTHING",
                rows,
            ).rowcount

    def known(self, txn_ids: Sequence[str]) -> set[str]:
        """Which of ``txn_ids`` already have a stored decision."""
        if not txn_ids:
            return set()
        marks = ", ".join("?" * len(txn_ids))
        with self._read() as db:
            rows = db.execute(f"SELECT txn_id FROM decisions WHERE txn_id IN ({marks})", txn_ids)
            return {r[0] for r in rows}

    def get(self, txn_id: str) -> dict[str, Any] | None:
        with self._read() as db:
            row = db.execute("SELECT body FROM decisions WHERE txn_id = ?", (txn_id,)).fetchone()
        return None if row is None else json.loads(row[0])

    def count(self) -> int:
        with self._read() as db:
            return int(db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0])

    def txn_ids(self) -> list[str]:
        with self._read() as db:
            return [r[0] for r in db.execute("SELECT txn_id FROM decisions ORDER BY txn_id")]

    def archive(self, before: datetime, folder: Path) -> Path | None:
        """Copy the old decisions to Parquet, then delete them, in one transaction: if the
        file cannot be written nothing is deleted; if the delete fails the file is removed."""
        cut = _utc_text(before)
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"decisions-before-{before.astimezone(UTC):%Y%m%dT%H%M%S}.parquet"
        with self._write() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM decisions WHERE decided_at < ? ORDER BY decided_at",
                (cut,),
            ).fetchall()
            if not rows:
                return None
            frame = pl.DataFrame(
                [list(r) for r in rows], schema=_COLUMNS.split(", "), orient="row"
            ).with_columns(pl.col("degraded").cast(pl.Boolean))
            partial = path.with_name(path.name + ".partial")
            frame.write_parquet(partial)
            try:
                db.execute("DELETE FROM decisions WHERE decided_at < ?", (cut,))
            except Exception:
                partial.unlink()
                raise
            partial.replace(path)
        return path


class SqliteDecisionLog(SqlDecisionLog):
    """The embedded log: one SQLite file (WAL, so readers do not wait on the writer)."""

    def __init__(self, path: str | Path = ":memory:"):
        super().__init__(SqliteScopes(path, wal=True))
        with self._write() as db:
            for statement in SCHEMA:
                db.execute(statement)


class PostgresDecisionLog(SqlDecisionLog):
    """The shared log of every worker; the primary key makes concurrent records of one
    ``txn_id`` store one row, whichever worker wins."""

    def __init__(self, url: str, schema: str | None = None):
        scopes = PostgresScopes(url, schema)
        super().__init__(scopes)
        migrate(scopes.conn, "decisions", (SCHEMA,))


def open_decision_log(target: str | Path, schema: str | None = None) -> SqlDecisionLog:
    """A ``postgresql://`` URL opens the shared log; anything else is a SQLite file path."""
    text = str(target)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresDecisionLog(text, schema)
    return SqliteDecisionLog(text)
