"""Watchlist entries as the screener reads them, from the contract's ``watchlist`` table."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from vigil.aml.screening.birth import parse_birth_dates
from vigil.schema.io import read_table

#: Columns of the table a screener may read; anything else (the synthetic world's
#: ``matched_account_id`` ground truth above all) is never looked at.
SCREENED_COLUMNS = ("entry_id", "name", "aliases", "country", "kind", "list")
#: Optional columns read when present: the listed dates of birth (see :mod:`.birth`).
BIRTH_COLUMNS = ("birth_date", "birth_year")


@dataclass(frozen=True, slots=True)
class Entry:
    """One listed person or entity and every name it is listed under."""

    entry_id: str
    name: str
    aliases: tuple[str, ...]
    country: str | None  #: alpha-2; None when the list gives no nationality
    kind: str  #: ``person`` or ``entity``
    list: str  #: OFAC, UN, EU, internal_block, ...
    birth_dates: tuple[date, ...] = ()  #: listed full dates of birth (candidates)
    birth_years: tuple[int, ...] = ()  #: listed years of birth where only a year is given

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


def entries_from_frame(frame: pl.DataFrame) -> list[Entry]:
    """Entries from a ``watchlist`` frame; aliases and candidate birth dates are
    ``;``-separated. A bad date raises ``ValueError`` naming the entry and the column."""
    births = [pl.col(c) if c in frame.columns else pl.lit(None).alias(c) for c in BIRTH_COLUMNS]
    rows = frame.select(*SCREENED_COLUMNS, *births).iter_rows()
    out = []
    for entry_id, name, aliases, country, kind, listed, birth_date, birth_year in rows:
        dates, years = parse_birth_dates(
            None if birth_date is None else str(birth_date), f"entry {entry_id}: birth_date"
        )
        if birth_year is not None:
            years = (*years, _year(birth_year, entry_id))
        out.append(
            Entry(
                entry_id,
                name,
                tuple(a.strip() for a in (aliases or "").split(";") if a.strip()),
                country or None,
                kind,
                listed,
                dates,
                years,
            )
        )
    return out


def _year(value: object, entry_id: str) -> int:
    try:
        year = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        year = 0
    if not 1000 <= year <= 9999:
        raise ValueError(f"entry {entry_id}: birth_year: expected a year, got {value!r}")
    return year


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
        if e.birth_dates or e.birth_years:  # lists without dates keep their fingerprint
            digest.update(repr((e.birth_dates, e.birth_years)).encode())
    return digest.hexdigest()[:12]
