"""What a case is: its alerts, lifecycle, owner, notes, clock and history, as plain records.

An alert from any detector becomes evidence in the case of its subject account; an analyst
works the case through a fixed lifecycle and closes it as a true or a false positive, and the
disposition flows back to the models as labels on the case's transactions. Everything here is
storage-free, so each :class:`~vigil.aml.cases.store.CaseStore` backend shares the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol


class AlertLike(Protocol):
    """The alert attributes a case needs; any detector's alert record that has them fits."""

    @property
    def alert_id(self) -> str: ...  # stable across replays: a repeat is the same alert
    @property
    def typology(self) -> str: ...
    @property
    def subject(self) -> str: ...  # the account the alert is about
    @property
    def jurisdiction(self) -> str: ...
    @property
    def ts(self) -> datetime: ...  # when the pattern completed (UTC)
    @property
    def txn_ids(self) -> Sequence[str]: ...
    @property
    def summary(self) -> str: ...  # the evidence in one sentence, used as report reason text
    @property
    def score(self) -> float: ...  # 0-1, how strong the evidence is; sets the priority


class CaseStatus(StrEnum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    ESCALATED = "escalated"
    CLOSED_TRUE_POSITIVE = "closed_true_positive"
    CLOSED_FALSE_POSITIVE = "closed_false_positive"

    @property
    def closed(self) -> bool:
        return self in (CaseStatus.CLOSED_TRUE_POSITIVE, CaseStatus.CLOSED_FALSE_POSITIVE)


#: The lifecycle: an analyst picks a case up, dismisses it or escalates it; a reviewer closes
#: an escalated case either way or sends it back. Closed is final: new alerts on the subject
#: open a new case.
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.OPEN: frozenset({CaseStatus.INVESTIGATING}),
    CaseStatus.INVESTIGATING: frozenset({CaseStatus.ESCALATED, CaseStatus.CLOSED_FALSE_POSITIVE}),
    CaseStatus.ESCALATED: frozenset(
        {
            CaseStatus.CLOSED_TRUE_POSITIVE,
            CaseStatus.CLOSED_FALSE_POSITIVE,
            CaseStatus.INVESTIGATING,
        }
    ),
    CaseStatus.CLOSED_TRUE_POSITIVE: frozenset(),
    CaseStatus.CLOSED_FALSE_POSITIVE: frozenset(),
}


class CaseError(ValueError):
    """A request the case cannot honour; the message says which case and why."""


class UnknownCase(CaseError, KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class InvalidTransition(CaseError):
    def __init__(self, case_id: str, current: CaseStatus, wanted: CaseStatus):
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (the case is closed)"
        super().__init__(
            f"case {case_id}: cannot go from {current} to {wanted}; allowed: {allowed}"
        )
        self.case_id, self.current, self.wanted = case_id, current, wanted


def check_transition(case_id: str, current: CaseStatus, wanted: CaseStatus) -> None:
    if wanted not in TRANSITIONS[current]:
        raise InvalidTransition(case_id, current, wanted)


class Priority(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


_RANK = {Priority.LOW: 0, Priority.MEDIUM: 1, Priority.HIGH: 2}


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """How fast a case must be closed, by priority, and how an alert's score sets priority.

    The clock starts when the case opens. A later, stronger alert can raise the priority and
    so bring the due time forward (never push it back).
    """

    hours: dict[Priority, float] = field(
        default_factory=lambda: {Priority.HIGH: 24.0, Priority.MEDIUM: 72.0, Priority.LOW: 168.0}
    )
    high_score: float = 0.8
    medium_score: float = 0.5

    def priority_of(self, score: float) -> Priority:
        if score >= self.high_score:
            return Priority.HIGH
        return Priority.MEDIUM if score >= self.medium_score else Priority.LOW

    def due(self, start: datetime, priority: Priority) -> datetime:
        return start + timedelta(hours=self.hours[priority])


def higher(a: Priority, b: Priority) -> Priority:
    return a if _RANK[a] >= _RANK[b] else b


@dataclass(frozen=True, slots=True)
class CaseAlert:
    """An alert as the case keeps it: a snapshot, independent of the detector's record."""

    alert_id: str
    typology: str
    jurisdiction: str
    ts: datetime
    txn_ids: tuple[str, ...]
    summary: str
    score: float

    @classmethod
    def of(cls, alert: AlertLike) -> CaseAlert:
        return cls(
            alert.alert_id,
            alert.typology,
            alert.jurisdiction,
            alert.ts,
            tuple(alert.txn_ids),
            alert.summary,
            float(alert.score),
        )


@dataclass(frozen=True, slots=True)
class Note:
    at: datetime
    author: str
    text: str


@dataclass(frozen=True, slots=True)
class Case:
    """One subject's case as it stands."""

    case_id: str
    subject: str
    jurisdiction: str  #: of the first alert; a report goes to this jurisdiction's FIU
    status: CaseStatus
    priority: Priority
    assignee: str | None
    opened_at: datetime
    updated_at: datetime
    due_at: datetime
    closed_at: datetime | None
    alerts: tuple[CaseAlert, ...]
    notes: tuple[Note, ...]

    @property
    def txn_ids(self) -> tuple[str, ...]:
        """Every transaction of every alert, once, in alert order."""
        return tuple(dict.fromkeys(t for a in self.alerts for t in a.txn_ids))

    def overdue(self, now: datetime) -> bool:
        return not self.status.closed and now > self.due_at


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One change to a case: who, when, what (``detail`` holds the values involved)."""

    case_id: str
    at: datetime
    actor: str
    action: str  #: opened, alert_added, transition, assigned, note
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LabelEvent:
    """A disposition as a training label: the transaction was (not) fraud, known from ``label_ts``.

    Shaped like the contract's label columns (``is_fraud``, ``label_ts``), so the engine can
    feed it to the same point-in-time training path as chargebacks.
    """

    txn_id: str
    is_fraud: bool
    label_ts: datetime
    case_id: str
    typology: str  #: of the first alert naming the transaction
