"""The one entry point: every typology detector run on each transaction, alerts out.

The engine (or a replay, or a benchmark) calls :meth:`AmlMonitor.observe` once per payment in
time order. The monitor looks up the rule pack in force for the payment's jurisdiction at the
payment's time, so thresholds follow published directives from their effective instant, builds
the evidence record once, and hands both to each detector.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from vigil.aml.alerts import Alert, Evidence, KindOf
from vigil.aml.detectors.base import Detector
from vigil.aml.detectors.cycle import CycleDetector
from vigil.aml.detectors.dormant import DormantDetector
from vigil.aml.detectors.fan_in import FanInDetector
from vigil.aml.detectors.fan_out import FanOutDetector
from vigil.aml.detectors.params import AmlParams
from vigil.aml.detectors.pass_through import PassThroughDetector
from vigil.aml.detectors.regime import Regimes
from vigil.aml.detectors.structuring import StructuringDetector
from vigil.features.accounts import AccountBook
from vigil.rules.registry import RuleRegistry
from vigil.schema.records import Transaction


def _kinds(accounts: AccountBook | None) -> KindOf | None:
    if accounts is None:
        return None

    def kind_of(account: str) -> str | None:
        info = accounts.get(account)
        return info.kind if info is not None else None

    return kind_of


def default_detectors(
    accounts: AccountBook | None = None, history_start: datetime | None = None
) -> list[Detector]:
    """One detector per AML typology of docs/world.md, fresh state."""

    def opened_at(account: str) -> float | None:
        info = accounts.get(account) if accounts is not None else None
        return float(info.created) if info is not None else None

    return [
        StructuringDetector(),
        FanInDetector(),
        FanOutDetector(),
        CycleDetector(),
        PassThroughDetector(),
        DormantDetector(opened_at if accounts is not None else None, history_start),
    ]


class AmlMonitor:
    """Streaming AML typology detection over a live rule registry.

    ``registry``: the live packs (default: the packs shipped with Vigil); ``params``: the
    detector defaults that packs' ``aml_*`` params override; ``accounts``: reference data (account
    kinds, which some detectors use to tell a business's routine from a typology, and opening
    times); ``history_start``: when the transactions fed begin, if earlier than
    the first one (dormancy cannot be measured from before it).
    """

    def __init__(
        self,
        registry: RuleRegistry | None = None,
        params: AmlParams | None = None,
        accounts: AccountBook | None = None,
        history_start: datetime | None = None,
        detectors: Sequence[Detector] | None = None,
    ):
        self.regimes = Regimes(registry, params)
        self.kind_of = _kinds(accounts)
        self.detectors: list[Detector] = (
            list(detectors) if detectors is not None else default_detectors(accounts, history_start)
        )

    def observe(self, txn: Transaction) -> list[Alert]:
        """Feed one payment (in time order); the alerts it completes, at most one per subject
        and typology per window."""
        leg = Evidence.of(txn, self.kind_of)
        regime = self.regimes.at(txn.jurisdiction, txn.ts)
        alerts: list[Alert] = []
        for detector in self.detectors:
            found = detector.observe(leg, regime)
            if found:
                alerts.extend(found)
        return alerts

    def state_size(self) -> int:
        """Items held across detectors; stays flat on a long stream as windows expire."""
        return sum(d.state_size() for d in self.detectors)
