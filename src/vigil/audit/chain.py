"""The hash chain: how a record is hashed, and how a trail is checked end to end.

Each record's ``hash`` is the SHA-256 of the canonical JSON of everything else in it, its
``prev_hash`` included, and ``prev_hash`` is the hash of the record before it (64 zeros for the
first). Changing any field of a record breaks its own hash; recomputing that hash breaks the
link to the next record; deleting a record leaves a gap in ``seq``. Only a rewrite of the whole
tail from some record on stays consistent, which an anchor (a head hash kept elsewhere, see
:func:`verify_records`'s ``anchor``) catches.

The backends store ``time`` as text and ``details`` as canonical JSON text, so what is hashed
is exactly what is read back, whatever a database would do to a timestamp or a JSON column.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

GENESIS = "0" * 64


class AuditError(ValueError):
    """Input the trail refuses (an empty actor, details that are not JSON), or a trail that
    cannot be opened; names what is wrong."""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One entry of the trail."""

    seq: int  #: 1, 2, 3, ... with no gaps
    time: str  #: UTC, RFC 3339 with microseconds and a ``Z``
    actor: str  #: who did it: an API key id (``api:<id>``), ``startup``, a file watcher...
    action: str  #: what was done, dotted: ``rules.publish``, ``rules.rollback``...
    subject: str  #: what it was done to: a jurisdiction, a list, a key id
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def payload(self) -> dict[str, Any]:
        """Everything the hash covers: the record without its own hash."""
        return {
            "seq": self.seq,
            "time": self.time,
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "details": self.details,
            "prev_hash": self.prev_hash,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.payload(), "hash": self.hash}


def canonical(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 kept, no NaN: one text per value, so one hash."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def record_hash(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(payload).encode("utf-8")).hexdigest()


def format_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise AuditError("audit time must be timezone-aware (UTC)")
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def jsonable(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """``details`` as plain JSON (times become RFC 3339 text), or :class:`AuditError` naming
    the key that cannot be stored; the result survives a trip through JSON unchanged."""
    if details is None:
        return {}
    if not isinstance(details, Mapping):
        raise AuditError(f"details must be an object, got {type(details).__name__}")

    def convert(value: Any, where: str) -> Any:
        if value is None or isinstance(value, bool | int | str):
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                raise AuditError(f"details{where}: {value} is not valid JSON")
            return value
        if isinstance(value, datetime):
            return format_time(value if value.tzinfo else value.replace(tzinfo=UTC))
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, StrEnum):
            return str(value)
        if isinstance(value, Mapping):
            out = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    raise AuditError(f"details{where}: keys must be strings, got {key!r}")
                out[key] = convert(item, f"{where}.{key}")
            return out
        if isinstance(value, list | tuple):
            return [convert(item, f"{where}[{i}]") for i, item in enumerate(value)]
        raise AuditError(f"details{where}: {type(value).__name__} is not JSON")

    return convert(details, "")


def new_record(
    seq: int,
    moment: datetime,
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, Any] | None,
    prev_hash: str,
) -> AuditRecord:
    """The next record, hashed; checks the text fields so a bad call fails before any write."""
    for name, value in (("actor", actor), ("action", action)):
        if not isinstance(value, str) or not value.strip():
            raise AuditError(f"{name} must be a non-empty string, got {value!r}")
    if not isinstance(subject, str):
        raise AuditError(f"subject must be a string, got {type(subject).__name__}")
    payload = {
        "seq": seq,
        "time": format_time(moment),
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": jsonable(details),
        "prev_hash": prev_hash,
    }
    return AuditRecord(**payload, hash=record_hash(payload))


class Fault(StrEnum):
    ALTERED = "altered"  #: a record's contents no longer match its own hash
    DELETED = "deleted"  #: sequence numbers are missing
    INSERTED = "inserted"  #: a record that the chain does not pass through
    BROKEN_LINK = "broken_link"  #: two self-consistent records that do not link
    ANCHOR_MISSING = "anchor_missing"  #: the expected head hash is nowhere in the trail


@dataclass(frozen=True, slots=True)
class Problem:
    fault: Fault
    seq: int  #: the record named (for a deletion: the first missing number)
    message: str


@dataclass(frozen=True, slots=True)
class Verification:
    """What :func:`verify_records` found: ``ok`` with the head, or the problems in order."""

    count: int
    head: str  #: hash of the last record (GENESIS for an empty trail)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def render(self) -> str:
        if self.ok:
            return f"OK: {self.count:,} records, chain intact, head {self.head}"
        lines = [f"FAILED: {len(self.problems)} problem(s) in {self.count:,} records"]
        lines += [f"  seq {p.seq}: {p.fault}: {p.message}" for p in self.problems]
        return "\n".join(lines)


#: records read per query when walking a trail
PAGE = 1_000


def paged_records(
    fetch_page: Callable[[int, int], Sequence[Sequence[Any]]], since: int = 0
) -> Iterator[AuditRecord]:
    """Every record after ``since``, in ``seq`` order, a page at a time, so a long trail is
    verified in bounded memory; ``fetch_page(after, limit)`` is one backend query."""
    last = since
    while True:
        rows = fetch_page(last, PAGE)
        for row in rows:
            yield from_row(row)
        if len(rows) < PAGE:
            return
        last = rows[-1][0]


def verify_records(records: Iterable[AuditRecord], anchor: str | None = None) -> Verification:
    """Walk the trail in ``seq`` order (one record of look-ahead, so any length streams) and
    name each record altered, deleted or inserted out of chain.

    ``anchor`` is a head hash noted earlier (the ``head`` of an earlier OK): it must still be
    in the trail, which catches a truncated tail or a tail rewritten with fresh hashes.
    """
    problems: list[Problem] = []
    stream = iter(records)
    current = next(stream, None)
    last_seq, last_hash = 0, GENESIS
    count = 0
    anchored = anchor is None
    while current is not None:
        following = next(stream, None)
        count += 1
        anchored = anchored or current.hash == anchor
        self_ok = record_hash(current.payload()) == current.hash
        if not self_ok:
            problems.append(
                Problem(
                    Fault.ALTERED,
                    current.seq,
                    "contents do not match the record's hash (changed after it was written)",
                )
            )
        if current.seq > last_seq + 1:
            first = last_seq + 1
            missing = (
                f"record {first}"
                if current.seq == first + 1
                else f"records {first}..{current.seq - 1}"
            )
            problems.append(
                Problem(
                    Fault.DELETED,
                    first,
                    f"{missing} deleted: the chain jumps from {last_seq} to {current.seq}",
                )
            )
        elif current.seq <= last_seq:
            problems.append(Problem(Fault.INSERTED, current.seq, f"out of order after {last_seq}"))
        elif self_ok and current.prev_hash != last_hash:
            if following is not None and following.prev_hash == last_hash:
                # the chain runs around this record: it was slipped in between two others
                problems.append(
                    Problem(
                        Fault.INSERTED,
                        current.seq,
                        f"inserted out of chain: record {following.seq} links to record "
                        f"{last_seq}, not to this one",
                    )
                )
                last_seq, current = current.seq, following  # the link skips it
                continue
            if following is None:
                message = f"inserted out of chain: prev_hash is not the hash of record {last_seq}"
                problems.append(Problem(Fault.INSERTED, current.seq, message))
            else:
                message = (
                    f"record {last_seq} was rewritten with a recomputed hash (or record "
                    f"{current.seq} replaced): record {current.seq} does not link to it"
                )
                problems.append(Problem(Fault.BROKEN_LINK, last_seq, message))
        last_seq, last_hash = current.seq, current.hash
        current = following
    head = last_hash
    if not anchored:
        problems.append(
            Problem(
                Fault.ANCHOR_MISSING,
                count,
                f"no record has the expected hash {anchor}: the tail was truncated or rewritten",
            )
        )
    return Verification(count, head, problems)


#: The column order both backends store and read.
COLUMNS = ("seq", "time", "actor", "action", "subject", "details", "prev_hash", "hash")


def to_row(record: AuditRecord) -> tuple[Any, ...]:
    return (
        record.seq,
        record.time,
        record.actor,
        record.action,
        record.subject,
        canonical(record.details),
        record.prev_hash,
        record.hash,
    )


def from_row(row: tuple[Any, ...]) -> AuditRecord:
    """A stored row as a record, whatever was done to it: a value that does not parse is kept
    in a form that cannot hash right, so verification names the record instead of crashing."""
    seq, time, actor, action, subject, details, prev_hash, digest = row
    try:
        parsed = json.loads(details)
    except (TypeError, ValueError):
        parsed = None
    if not isinstance(parsed, dict):
        parsed = {"__unreadable__": str(details)}
    return AuditRecord(
        seq=int(seq),
        time=str(time),
        actor=str(actor),
        action=str(action),
        subject=str(subject),
        details=parsed,
        prev_hash=str(prev_hash),
        hash=str(digest),
    )
