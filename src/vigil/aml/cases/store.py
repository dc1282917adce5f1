"""The case store protocol: a small set of verbs every backend implements the same way.

The embedded backend is :class:`~vigil.aml.cases.sqlite.SqliteCaseStore`; a PostgreSQL one
comes with scale-out and must pass the same contract tests (``tests/aml/test_cases.py``).
Backends share the rules of :mod:`vigil.aml.cases.model` and differ only in storage.

Rules every backend keeps:

* **Grouping.** An alert joins the subject's open (not closed) case, or opens a new one; a
  subject has at most one open case. An alert already stored (same ``alert_id``) is not added
  twice, so replays and at-least-once delivery are harmless.
* **Lifecycle.** :data:`~vigil.aml.cases.model.TRANSITIONS`; anything else raises
  :class:`~vigil.aml.cases.model.InvalidTransition` and changes nothing.
* **Audit.** Every change appends an :class:`~vigil.aml.cases.model.AuditEvent` in the same
  transaction as the change itself.
* **Labels.** :meth:`CaseStore.labels_of` turns a closed case's disposition into one
  :class:`~vigil.aml.cases.model.LabelEvent` per transaction of its alerts: ``is_fraud`` true
  for ``closed_true_positive``, false for ``closed_false_positive``, ``label_ts`` the closing
  time; nothing while the case is open. The engine calls it after a close (or for every case
  that :meth:`CaseStore.find` lists as closed) and feeds the events to training as labels.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from vigil.aml.cases.model import AlertLike, AuditEvent, Case, CaseStatus, LabelEvent


class CaseStore(Protocol):
    def add_alert(self, alert: AlertLike, *, now: datetime, actor: str = "system") -> Case:
        """File ``alert`` in its subject's open case (opening one if needed); the case after."""
        ...

    def get(self, case_id: str) -> Case:
        """The case; :class:`~vigil.aml.cases.model.UnknownCase` if there is none."""
        ...

    def find(
        self,
        *,
        status: CaseStatus | None = None,
        subject: str | None = None,
        assignee: str | None = None,
    ) -> list[Case]:
        """Cases matching every given filter, oldest first."""
        ...

    def transition(
        self, case_id: str, to: CaseStatus, *, actor: str, now: datetime, reason: str = ""
    ) -> Case: ...

    def assign(self, case_id: str, assignee: str | None, *, actor: str, now: datetime) -> Case: ...

    def add_note(self, case_id: str, text: str, *, actor: str, now: datetime) -> Case: ...

    def overdue(self, now: datetime) -> list[Case]:
        """Open cases past their SLA due time at ``now``, most overdue first."""
        ...

    def audit(self, case_id: str) -> list[AuditEvent]:
        """Every change to the case, in order."""
        ...

    def labels_of(self, case_id: str) -> list[LabelEvent]: ...
