"""What the SQL stores need of a connection, whichever database is behind it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class Database(Protocol):
    """``?`` placeholders and rows as tuples: sqlite3's connection as it is, psycopg's through
    :class:`~vigil.store.postgres.QmarkConnection`."""

    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any: ...
