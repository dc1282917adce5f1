"""PostgreSQL plumbing shared by the scale-out stores: connections, schemas, migrations.

psycopg 3 with plain SQL rather than an ORM: the stores' statements are few and written to run
on SQLite too, and a migration here is an ordered list of statements per component, applied
once each and recorded in ``vigil_migrations``, under an advisory lock so that N workers
starting together migrate once.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from typing import Any

import psycopg

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PostgresError(ConnectionError):
    """PostgreSQL cannot be used (unreachable, refused, or a bad schema name)."""


def connect(url: str, schema: str | None = None) -> psycopg.Connection:
    """An autocommit connection (a change is made one transaction explicitly) whose tables
    live in ``schema`` (created if needed), so deployments and test runs can share a server."""
    if schema is not None and not _IDENTIFIER.match(schema):
        raise PostgresError(f"schema {schema!r}: use lower-case letters, digits and _")
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        raise PostgresError(f"cannot connect to {url}: {error}".strip()) from error
    if schema is not None:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        conn.execute(f"SET search_path TO {schema}")
    return conn


def drop_schema(url: str, schema: str) -> None:
    """Remove a schema and everything in it (test runs, retired deployments)."""
    if not _IDENTIFIER.match(schema):
        raise PostgresError(f"schema {schema!r}: use lower-case letters, digits and _")
    with connect(url) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def migrate(conn: psycopg.Connection, component: str, migrations: Sequence[Sequence[str]]) -> int:
    """Apply the migrations of ``component`` not applied yet, in order; how many ran.

    ``migrations[i]`` is version ``i + 1``: a list of statements run in one transaction. A
    released migration is never edited; a change is a new one appended.
    """
    ran = 0
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(f"migrate:{component}"),))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS vigil_migrations (component TEXT NOT NULL, "
            "version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), "
            "PRIMARY KEY (component, version))"
        )
        row = conn.execute(
            "SELECT COALESCE(MAX(version), 0) FROM vigil_migrations WHERE component = %s",
            (component,),
        ).fetchone()
        for version, statements in enumerate(migrations, start=1):
            if version <= row[0]:
                continue
            for statement in statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO vigil_migrations (component, version) VALUES (%s, %s)",
                (component, version),
            )
            ran += 1
    return ran


def lock_key(name: str) -> int:
    """A stable 32-bit key for ``pg_advisory_xact_lock`` from a readable name."""
    return zlib.crc32(name.encode())


class QmarkConnection:
    """A psycopg connection that takes the ``?`` placeholders SQLite uses, so one SQL text
    serves both backends (no statement here has a literal ``?``)."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor:
        return self.conn.execute(sql.replace("?", "%s"), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> psycopg.Cursor:
        cursor = self.conn.cursor()
        cursor.executemany(sql.replace("?", "%s"), rows)
        return cursor
