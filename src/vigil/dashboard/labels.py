"""Analysts' verdicts as labels: a closed case's disposition reaches the engine and a log.

Closing a case as a true or false positive turns it into one label per transaction of its
alerts (:meth:`CaseStore.labels_of`). Each label goes to :meth:`Engine.feedback` at once, so
counterparty-risk features learn from it on the next payment, and to an append-only JSON
Lines log, the feedback store the next training reads beside chargebacks.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from vigil.aml.cases.model import LabelEvent
from vigil.engine.pipeline import Engine


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    txn_id: str
    is_fraud: bool
    label_ts: datetime
    source: str  #: e.g. case:C000012
    actor: str
    typology: str
    known_to_engine: bool  #: False when the engine's state never saw the payment

    def to_dict(self) -> dict[str, Any]:
        return {
            "txn_id": self.txn_id,
            "is_fraud": self.is_fraud,
            "label_ts": self.label_ts.isoformat(),
            "source": self.source,
            "actor": self.actor,
            "typology": self.typology,
            "known_to_engine": self.known_to_engine,
        }


class FeedbackLog:
    """Labels from the dashboard, one JSON object a line, appended and flushed per verdict."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def append(self, records: list[FeedbackRecord]) -> None:
        lines = "".join(json.dumps(r.to_dict()) + "\n" for r in records)
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(lines)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return iter(())
        with self.path.open(encoding="utf-8") as src:
            return iter([json.loads(line) for line in src if line.strip()])


def apply_labels(
    engine: Engine, log: FeedbackLog, events: list[LabelEvent], actor: str
) -> list[FeedbackRecord]:
    """Feed each label to the engine and the log; the records written."""
    records = [
        FeedbackRecord(
            e.txn_id,
            e.is_fraud,
            e.label_ts,
            f"case:{e.case_id}",
            actor,
            e.typology,
            engine.feedback(e.txn_id, e.is_fraud),
        )
        for e in events
    ]
    if records:
        log.append(records)
    return records
