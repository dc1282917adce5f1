"""Cases: alerts grouped per subject, worked through a lifecycle, closed into labels.

:mod:`.model` holds the records and rules, :mod:`.store` the :class:`CaseStore` protocol and
its contract, :mod:`.sqlite` the embedded backend.
"""

from vigil.aml.cases.model import (
    TRANSITIONS,
    AlertLike,
    AuditEvent,
    Case,
    CaseAlert,
    CaseError,
    CaseStatus,
    InvalidTransition,
    LabelEvent,
    Note,
    Priority,
    SlaPolicy,
    UnknownCase,
)
from vigil.aml.cases.sqlite import SqliteCaseStore
from vigil.aml.cases.store import CaseStore

__all__ = [
    "TRANSITIONS",
    "AlertLike",
    "AuditEvent",
    "Case",
    "CaseAlert",
    "CaseError",
    "CaseStatus",
    "CaseStore",
    "InvalidTransition",
    "LabelEvent",
    "Note",
    "Priority",
    "SlaPolicy",
    "SqliteCaseStore",
    "UnknownCase",
]
