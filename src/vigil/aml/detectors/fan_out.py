"""Fan-out: a sum that arrived recently is split across many distinct payees.

A payroll pays dozens of people too, so count alone would flood the queue with salary days.
What sets layering apart is that the outflows are funded by one lump of the same window (money
in, then the same money out to many), whereas a payroll comes out of a company's turnover.
"""

from __future__ import annotations

from collections.abc import Sequence

from vigil.aml.alerts import Alert, Evidence
from vigil.aml.detectors.base import NO_ALERTS, customer_sides, hours, params_dict, usd, watched
from vigil.aml.detectors.quiet import Quiet
from vigil.aml.detectors.regime import Regime
from vigil.aml.detectors.window import Pane, Panes

TYPOLOGY = "fan_out"


class FanOutDetector:
    """Distinct payees per payer, against the payer's largest inflow over the same window."""

    typology = TYPOLOGY

    def __init__(self) -> None:
        self._inflows = Panes()
        self._outflows = Panes()
        self._quiet = Quiet()

    def observe(self, leg: Evidence, regime: Regime) -> Sequence[Alert]:
        p = regime.params.fan_out
        payer, payee = customer_sides(leg)
        if payer == payee:
            return NO_ALERTS
        if (
            payee is not None
            and leg.usd_cents >= p.min_usd * 100  # a small inflow funds no split
            and watched(leg.payee_kind, p.subject_kinds)
        ):
            self._inflows.add(payee, leg, leg.payer_id, p.window_s)
        if (
            payer is None
            or leg.usd_cents < p.min_usd * 100
            or not watched(leg.payer_kind, p.subject_kinds)
        ):
            return NO_ALERTS
        out = self._outflows.add(payer, leg, leg.payee_id, p.window_s)
        if len(out.counts) < p.min_payees or out.usd_cents < p.min_total_usd * 100:
            return NO_ALERTS
        into = self._inflows.get(payer, leg.at, p.window_s)
        if into is None:
            return NO_ALERTS
        lump = into.peak.usd_cents
        if not p.funded_share * out.usd_cents <= lump <= out.usd_cents / p.funded_share:
            return NO_ALERTS
        if self._quiet.holds(payer, leg.at):
            return NO_ALERTS
        self._quiet.hold(payer, leg.at + p.window_s)
        return [_alert(payer, into, out, leg, regime)]

    def state_size(self) -> int:
        return self._inflows.size() + self._outflows.size() + len(self._quiet)


def _alert(subject: str, into: Pane, out: Pane, leg: Evidence, regime: Regime) -> Alert:
    lump = into.peak
    evidence = tuple(sorted((lump, *out.evidence()), key=lambda e: e.at))
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
        params=params_dict(regime.params.fan_out),
        pack_version=regime.pack_version,
        summary=(
            f"{subject} received {usd(lump.usd_cents)} from {lump.payer_id} and paid "
            f"{usd(out.usd_cents)} on to {len(out.counts)} distinct payees within {hours(span)}"
        ),
    )
