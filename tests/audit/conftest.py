"""One audit trail per test on each backend, and a raw connection that goes around the API.

PostgreSQL runs at ``$VIGIL_TEST_POSTGRES`` (default ``postgresql://localhost:5432/test``);
each test gets its own schema, dropped afterwards, so parallel runs never share a table. Where
the server is absent the PostgreSQL cases skip, except with ``CI=true``: then they fail.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vigil.audit.chain import COLUMNS
from vigil.audit.postgres import PostgresTrail
from vigil.audit.sqlite import SqliteTrail

POSTGRES_URL = os.environ.get("VIGIL_TEST_POSTGRES", "postgresql://localhost:5432/test")


def _postgres_or_skip() -> str:
    import psycopg

    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.Error as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and PostgreSQL is unreachable at {POSTGRES_URL}: {error}")
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_URL} (set CI=true to fail instead)")
    return POSTGRES_URL


class Raw:
    """Direct SQL on the trail's table with the append-only triggers off: what an attacker
    with the file, or a database superuser, can do. ``{t}`` in a statement is the table."""

    def __init__(self, backend: str, target: Any):
        self.backend = backend
        self.target = target

    @property
    def mark(self) -> str:
        return "?" if self.backend == "sqlite" else "%s"

    def run(self, statement: str, params: tuple[Any, ...] = (), triggers: bool = False) -> None:
        if self.backend == "sqlite":
            db = sqlite3.connect(self.target)
            try:
                if not triggers:
                    db.executescript(
                        "DROP TRIGGER IF EXISTS audit_trail_no_update;"
                        "DROP TRIGGER IF EXISTS audit_trail_no_delete;"
                    )
                db.execute(statement.format(t="audit_trail").replace("%s", "?"), params)
                db.commit()
            finally:
                db.close()
            return
        import psycopg

        url, schema = self.target
        table = f'"{schema}".audit_trail'
        with psycopg.connect(url, autocommit=True) as db:
            if not triggers:
                db.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            try:
                db.execute(statement.format(t=table), params)
            finally:
                if not triggers:
                    db.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")

    def insert(self, row: tuple[Any, ...]) -> None:
        marks = ", ".join([self.mark] * len(row))
        self.run(f"INSERT INTO {{t}} ({', '.join(COLUMNS)}) VALUES ({marks})", row)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def open_trail(backend: str, tmp_path: Path) -> Iterator[Any]:
    """Opens trails on one store (call it twice: two processes' views of the same trail)."""
    opened: list[Any] = []
    schema = f"audit_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    url = _postgres_or_skip() if backend == "postgres" else None

    def make(**kwargs: Any) -> Any:
        trail = (
            SqliteTrail(tmp_path / "audit.sqlite", **kwargs)
            if backend == "sqlite"
            else PostgresTrail(url, schema=schema, **kwargs)
        )
        opened.append(trail)
        return trail

    make.raw = Raw(backend, tmp_path / "audit.sqlite" if backend == "sqlite" else (url, schema))
    make.target = str(tmp_path / "audit.sqlite") if backend == "sqlite" else url
    make.schema = schema
    yield make
    for trail in opened:
        trail.close()
    if backend == "postgres":
        import psycopg

        with psycopg.connect(url, autocommit=True) as db:
            db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def trail(open_trail: Any) -> Any:
    return open_trail()


@pytest.fixture
def raw(open_trail: Any) -> Raw:
    return open_trail.raw
