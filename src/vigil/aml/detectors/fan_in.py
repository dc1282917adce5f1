"""Fan-in: many distinct payers sending sizeable sums to one account within a window.

A collector gathering $1,800 from each of eight strangers in three days looks like this; so
does a merchant's till, and so does a supplier's ledger. So only payments above a floor count
(a shop's customers pay tens of dollars, a collection's senders thousands), and where account
kinds are known only individuals' payments into non-merchant accounts (a supplier is paid by
firms, a merchant by its customers; a funnel collects from people).
"""

from __future__ import annotations

from collections.abc import Sequence

from vigil.aml.alerts import Alert, Evidence
from vigil.aml.detectors.base import NO_ALERTS, customer_sides, hours, params_dict, usd, watched
from vigil.aml.detectors.quiet import Quiet
from vigil.aml.detectors.regime import Regime
from vigil.aml.detectors.window import Pane, Panes

TYPOLOGY = "fan_in"


class FanInDetector:
    """Distinct payers and their total per beneficiary, over sizeable payments only."""

    typology = TYPOLOGY

    def __init__(self) -> None:
        self._inflows = Panes()
        self._quiet = Quiet()

    def observe(self, leg: Evidence, regime: Regime) -> Sequence[Alert]:
        p = regime.params.fan_in
        if leg.usd_cents < p.min_usd * 100:
            return NO_ALERTS
        payer, payee = customer_sides(leg)
        if (
            payer is None
            or payee is None
            or payer == payee
            or not watched(leg.payer_kind, p.payer_kinds)
            or not watched(leg.payee_kind, p.subject_kinds)
        ):
            return NO_ALERTS
        pane = self._inflows.add(payee, leg, payer, p.window_s)
        if (
            len(pane.counts) >= p.min_payers
            and pane.usd_cents >= p.min_total_usd * 100
            and not self._quiet.holds(payee, leg.at)
        ):
            self._quiet.hold(payee, leg.at + p.window_s)
            return [_alert(payee, pane, leg, regime)]
        return NO_ALERTS

    def state_size(self) -> int:
        return self._inflows.size() + len(self._quiet)


def _alert(subject: str, pane: Pane, leg: Evidence, regime: Regime) -> Alert:
    evidence = pane.evidence()
    span = evidence[-1].at - evidence[0].at
    return Alert(
        alert_id=f"{TYPOLOGY}:{subject}:{leg.txn_id}",
        typology=TYPOLOGY,
        subject=subject,
        jurisdiction=leg.jurisdiction,
        raised_at=leg.ts,
        trigger_txn_id=leg.txn_id,
        evidence=evidence,
        path=(),
        params=params_dict(regime.params.fan_in),
        pack_version=regime.pack_version,
        summary=(
            f"{len(pane.counts)} distinct payers sent {usd(pane.usd_cents)} to {subject} in "
            f"{len(evidence)} payments within {hours(span)}"
        ),
    )
