"""The audit trail in PostgreSQL (psycopg 3), shared by every worker of a scale-out.

The tables live in one schema (``vigil`` unless told otherwise; tests use one per run) and are
created by numbered migration steps, applied once under an advisory lock so that workers
starting together do not race. The database itself refuses to rewrite history: a trigger
raises on UPDATE, DELETE and TRUNCATE of ``audit_trail``, and those privileges are revoked from
PUBLIC. A superuser can still disable the trigger, which is what the hash chain is for.

Appends lock the table against other appenders (``SHARE ROW EXCLUSIVE``: readers still read)
for the few hundred microseconds it takes to read the head and insert the next record, so the
chain never forks, however many processes append.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import psycopg
from psycopg import sql

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

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

#: (version, statements): applied in order, each once, recorded in ``audit_migrations``.
_MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE {s}.audit_trail (
            seq       bigint PRIMARY KEY,
            time      text NOT NULL,
            actor     text NOT NULL,
            action    text NOT NULL,
            subject   text NOT NULL,
            details   text NOT NULL,
            prev_hash text NOT NULL,
            hash      text NOT NULL
        );
        CREATE FUNCTION {s}.audit_trail_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit trail is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$;
        CREATE TRIGGER audit_trail_append_only BEFORE UPDATE OR DELETE ON {s}.audit_trail
            FOR EACH ROW EXECUTE FUNCTION {s}.audit_trail_refuse();
        CREATE TRIGGER audit_trail_no_truncate BEFORE TRUNCATE ON {s}.audit_trail
            FOR EACH STATEMENT EXECUTE FUNCTION {s}.audit_trail_refuse();
        REVOKE UPDATE, DELETE, TRUNCATE ON {s}.audit_trail FROM PUBLIC;
        """,
    ),
]


class PostgresTrail:
    """An :class:`~vigil.audit.trail.AuditTrail` in ``schema`` of the database at ``url``."""

    def __init__(self, url: str, schema: str = "vigil", clock: Clock = utc_now):
        if not _SCHEMA_NAME.match(schema):
            raise AuditError(
                f"schema must be a lower-case SQL name (letters, digits, _), got {schema!r}"
            )
        self.url = url
        self.schema = schema
        self._clock = clock
        self._lock = threading.Lock()
        self._s = sql.Identifier(schema)
        self._table = sql.SQL("{}.audit_trail").format(self._s)
        self._db = self._connect()
        self._migrate()

    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as error:
            raise AuditError(f"cannot reach the audit database: {error}".strip()) from None

    def _conn(self) -> psycopg.Connection:
        """The connection, reopened if the server dropped it (a restart, a failover)."""
        if self._db.closed or self._db.broken:
            self._db = self._connect()
        return self._db

    def _migrate(self) -> None:
        with self._lock, self._conn().transaction():
            db = self._db
            db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"vigil.audit:{self.schema}"])
            db.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(self._s))
            db.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {}.audit_migrations "
                    "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                ).format(self._s)
            )
            done = {
                row[0]
                for row in db.execute(
                    sql.SQL("SELECT version FROM {}.audit_migrations").format(self._s)
                )
            }
            for version, statements in _MIGRATIONS:
                if version in done:
                    continue
                db.execute(sql.SQL(statements).format(s=self._s))
                db.execute(
                    sql.SQL("INSERT INTO {}.audit_migrations (version) VALUES (%s)").format(
                        self._s
                    ),
                    [version],
                )

    def append(
        self,
        actor: str,
        action: str,
        subject: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> AuditRecord:
        with self._lock, self._conn().transaction():
            db = self._db
            db.execute(sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(self._table))
            head = db.execute(
                sql.SQL("SELECT seq, hash FROM {} ORDER BY seq DESC LIMIT 1").format(self._table)
            ).fetchone()
            seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS)
            record = new_record(seq, self._clock(), actor, action, subject, details, prev_hash)
            db.execute(
                sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    self._table,
                    sql.SQL(", ").join(map(sql.Identifier, COLUMNS)),
                    sql.SQL(", ").join(sql.Placeholder() * len(COLUMNS)),
                ),
                to_row(record),
            )
        return record

    def records(self, since: int = 0) -> Iterator[AuditRecord]:
        return paged_records(self._page, since)

    def _page(self, after: int, limit: int) -> list[tuple[Any, ...]]:
        query = sql.SQL("SELECT {} FROM {} WHERE seq > %s ORDER BY seq LIMIT %s").format(
            sql.SQL(", ").join(map(sql.Identifier, COLUMNS)), self._table
        )
        with self._lock:
            return self._conn().execute(query, [after, limit]).fetchall()

    def verify(self, anchor: str | None = None) -> Verification:
        return verify_records(self.records(), anchor)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> PostgresTrail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
