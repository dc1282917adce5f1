"""Date of birth, the secondary identifier that tells a listed person from a namesake.

Lists give a person's date of birth in full, as a year only, as several candidates ("DOB
1961; alt. DOB 1962"), or not at all; the customer's KYC record gives a full date. Compared,
they give one of four answers per listed entry:

* ``date``: a listed full date is the customer's (strong agreement);
* ``year``: a year-only candidate is the customer's year (weaker: one person in 50 or so
  shares a year);
* ``conflict``: the list gives some date or year and none agrees: another person;
* ``unknown``: either side gives nothing, so the name decides alone (a missing DOB is never
  held against a match).

A listed full date in the customer's year but on another day is a conflict, as the full dates
differ. The screener turns the answer into a score change (:class:`~.screener.ScreeningPolicy`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np

UNKNOWN, YEAR, DATE, CONFLICT = 0, 1, 2, 3
EVIDENCE = ("unknown", "year", "date", "conflict")

_EPOCH = date(1970, 1, 1)
_NO_DAY = np.iinfo(np.int64).min
_NO_YEAR = -1


def parse_birth_dates(
    text: str | None, field: str = "birth_date"
) -> tuple[tuple[date, ...], tuple[int, ...]]:
    """Full dates and year-only candidates of a ``;``-separated field ("1961-02-03;1962").

    Raises ``ValueError`` naming ``field`` on anything but ISO dates (YYYY-MM-DD) or years.
    """
    dates: list[date] = []
    years: list[int] = []
    for part in (text or "").split(";"):
        part = part.strip()
        if not part:
            continue
        if len(part) == 4 and part.isdigit():
            years.append(int(part))
            continue
        try:
            dates.append(date.fromisoformat(part))
        except ValueError:
            raise ValueError(
                f"{field}: expected ISO dates (YYYY-MM-DD) or years separated by ';', got {part!r}"
            ) from None
    return tuple(dates), tuple(years)


def as_birth_date(value: date | str | None, field: str = "birth_date") -> date | None:
    """A customer's date of birth from a date, an ISO string or nothing."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{field}: expected an ISO date (YYYY-MM-DD), got {value!r}")


def evidence_of(listed_dates: Sequence[date], listed_years: Sequence[int], dob: date | None) -> int:
    """One of :data:`UNKNOWN`, :data:`YEAR`, :data:`DATE`, :data:`CONFLICT` for one entry."""
    if dob is None or not (listed_dates or listed_years):
        return UNKNOWN
    if dob in listed_dates:
        return DATE
    if dob.year in listed_years:
        return YEAR
    return CONFLICT


class BirthIndex:
    """Every entry's listed dates and years as padded arrays, compared for many entries at once."""

    def __init__(self, dates: Sequence[Sequence[date]], years: Sequence[Sequence[int]]):
        n = len(dates)
        width_d = max((len(d) for d in dates), default=0) or 1
        width_y = max((len(y) for y in years), default=0) or 1
        self.days = np.full((n, width_d), _NO_DAY, dtype=np.int64)
        self.years = np.full((n, width_y), _NO_YEAR, dtype=np.int32)
        for i, (ds, ys) in enumerate(zip(dates, years, strict=True)):
            for k, d in enumerate(ds):
                self.days[i, k] = (d - _EPOCH).days
            for k, y in enumerate(ys):
                self.years[i, k] = y
        self.known = (self.days != _NO_DAY).any(axis=1) | (self.years != _NO_YEAR).any(axis=1)
        self.any_known = bool(self.known.any())

    def evidence(self, entries: np.ndarray, dob: date | None) -> np.ndarray:
        """:func:`evidence_of` for each of ``entries`` (int8 codes), vectorised."""
        out = np.zeros(len(entries), dtype=np.int8)
        if dob is None or not self.any_known or not len(entries):
            return out
        day = (dob - _EPOCH).days
        full = (self.days[entries] == day).any(axis=1)
        year = (self.years[entries] == dob.year).any(axis=1)
        out[self.known[entries]] = CONFLICT
        out[year] = YEAR
        out[full] = DATE
        return out
