"""AML monitoring beside the decisions: typology alerts filed into cases as payments stream by.

Fraud decisions are per payment and immediate; money laundering shows across many payments and
is worked by analysts. So the monitor does not change a decision: it watches the same stream
after each one, and what it finds becomes an alert in a case (with its evidence) and a line in
``alerts.jsonl``. The monitor reads the thresholds of the rule pack in force at each payment's
time, so a directive published with an effective time applies from that instant here too.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import polars as pl

from vigil.aml.cases.sqlite import SqliteCaseStore
from vigil.aml.detectors import AmlMonitor
from vigil.features.accounts import AccountBook
from vigil.features.replay import transactions_of
from vigil.rules.registry import RuleRegistry
from vigil.schema.records import Transaction
from vigil.schema.tables import AML_TYPOLOGIES


class AmlWatch:
    """The monitor, the case store and the alert log of one replay or server."""

    def __init__(self, registry: RuleRegistry, accounts: AccountBook, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.monitor = AmlMonitor(registry, accounts=accounts)
        self.cases = SqliteCaseStore(folder / "cases.sqlite")
        self._log = (folder / "alerts.jsonl").open("w")
        self.raised: Counter[str] = Counter()
        self.flagged: set[str] = set()

    def warm(self, history: pl.DataFrame) -> None:
        """Bring the detectors' windows up to date on history; what they raise there is old
        news and is not filed."""
        for txn in transactions_of(history):
            self.monitor.observe(txn)

    def observe(self, txn: Transaction) -> None:
        for alert in self.monitor.observe(txn):
            self.cases.add_alert(alert, now=alert.raised_at)
            self._log.write(json.dumps(alert.to_dict(), default=str) + "\n")
            self.raised[alert.typology] += 1
            self.flagged.update(alert.txn_ids)

    def close(self) -> None:
        self._log.close()

    def summary(self, labels: pl.DataFrame | None) -> dict:
        """Alerts per typology, per 10,000 payments, and how many of the payments they name
        carry an AML label (a lower bound on precision: evidence also holds context payments)."""
        total = sum(self.raised.values())
        result: dict = {"alerts": total, "per_typology": dict(self.raised)}
        if labels is not None and "typology" in labels.columns:
            named = labels.filter(pl.col("txn_id").is_in(list(self.flagged)))
            laundering = named.filter(pl.col("typology").is_in(sorted(AML_TYPOLOGIES))).height
            result["evidence_payments"] = named.height
            result["evidence_labelled_aml_share"] = laundering / named.height if named.height else 0
        return result
