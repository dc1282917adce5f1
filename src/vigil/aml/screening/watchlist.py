"""Watchlist entries as the screener reads them, from the contract's ``watchlist`` table."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from vigil.schema.io import read_table

#: Columns of the table a screener may read; anything else (the synthetic world's
#: ``matched_account_id`` ground truth above all) is never looked at.
SCREENED_COLUMNS = ("entry_id", "name", "aliases", "country", "kind", "list")


@dataclass(frozen=True, slots=True)
class Entry:
    """One listed person or entity and every name it is listed under."""

    entry_id: str
    name: str
    aliases: tuple[str, ...]
    country: str | None  #: alpha-2; None when the list gives no nationality
    kind: str  #: ``person`` or ``entity``
    list: str  #: OFAC, UN, EU, internal_block, ...

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


def entries_from_frame(frame: pl.DataFrame) -> list[Entry]:
    """Entries from a ``watchlist`` frame; aliases are ``;``-separated."""
    rows = frame.select(SCREENED_COLUMNS).iter_rows()
    return [
        Entry(
            entry_id,
            name,
            tuple(a.strip() for a in (aliases or "").split(";") if a.strip()),
            country or None,
            kind,
            listed,
        )
        for entry_id, name, aliases, country, kind, listed in rows
    ]


def read_watchlist(data_dir: Path) -> list[Entry]:
    """The ``watchlist`` table of a world folder (any of the contract's formats)."""
    frame = read_table(Path(data_dir), "watchlist")
    assert frame is not None  # required=True raises instead
    return entries_from_frame(frame)


def fingerprint(entries: list[Entry]) -> str:
    """A short digest of the list's content, recorded with every screening result."""
    digest = hashlib.sha256()
    for e in entries:
        digest.update(repr((e.entry_id, e.names, e.country, e.kind, e.list)).encode())
    return digest.hexdigest()[:12]
