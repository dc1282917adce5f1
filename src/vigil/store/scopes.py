"""Connection scopes: how a SQL store runs a change as one transaction, on SQLite or PostgreSQL.

The case store and the decision log share their SQL across both databases; what differs is
here: SQLite serialises writers with a lock in the process (and its own file lock across
processes); PostgreSQL runs each change in a transaction, optionally under an advisory lock
when the SQL counts rows to number them, and connects again after a lost connection.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from vigil.store.postgres import QmarkConnection, connect, lock_key
from vigil.store.sql import Database


class Scopes(Protocol):
    def write(self) -> AbstractContextManager[Database]:
        """One transaction that no other writer interleaves: all of it commits, or none."""
        ...

    def read(self) -> AbstractContextManager[Database]: ...

    def close(self) -> None: ...


class ScopedStore:
    """A store whose SQL is the same on every database: it runs each change and each read in
    the scopes its backend gives (the case store and the decision log)."""

    def __init__(self, scopes: Scopes):
        self._scopes = scopes

    def close(self) -> None:
        self._scopes.close()

    def _write(self) -> AbstractContextManager[Database]:
        return self._scopes.write()

    def _read(self) -> AbstractContextManager[Database]:
        return self._scopes.read()


class SqliteScopes:
    def __init__(self, path: str | Path = ":memory:", wal: bool = False):
        """``wal``: readers in other processes do not wait on the writer (a file only)."""
        self.conn = sqlite3.connect(str(path), check_same_thread=False)
        self.conn.execute("PRAGMA foreign_keys = ON")
        if wal and str(path) != ":memory:":
            self.conn.execute("PRAGMA journal_mode = WAL")
        self._lock = threading.Lock()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self.conn:
            yield self.conn

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self.conn

    def close(self) -> None:
        self.conn.close()


class PostgresScopes:
    """One connection per store, used by one statement at a time.

    A lost connection raises (:class:`psycopg.OperationalError`) for the call that found it
    lost, and the next call connects again: a store survives PostgreSQL restarting.
    ``serialise`` names an advisory lock every change takes, for SQL that numbers rows by
    counting them (cases); the decision log needs none (its primary key decides).
    """

    def __init__(self, url: str, schema: str | None = None, serialise: str | None = None):
        self._url, self._schema = url, schema
        self._lock = threading.Lock()
        self._serialise = None if serialise is None else lock_key(serialise)
        self.conn = connect(url, schema)

    def _connection(self) -> QmarkConnection:
        if self.conn.closed or self.conn.broken:
            self.conn = connect(self._url, self._schema)
        return QmarkConnection(self.conn)

    @contextmanager
    def write(self) -> Iterator[QmarkConnection]:
        with self._lock:
            db = self._connection()
            with db.conn.transaction():
                if self._serialise is not None:
                    db.conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._serialise,))
                yield db

    @contextmanager
    def read(self) -> Iterator[QmarkConnection]:
        with self._lock:
            yield self._connection()

    def close(self) -> None:
        self.conn.close()
