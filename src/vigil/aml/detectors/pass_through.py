"""Rapid pass-through: money out ≈ money in within hours.

A conduit account receives and forwards nearly the same sum before anyone looks; its balance
returns to where it was. Small payments are left out on both sides (``min_leg_usd``), so a
person's coffee and bus fares do not hide a conduit. Where account kinds are known, firms are
not watched by default: a firm paying its suppliers out of the day's takings is working
capital, in ≈ out by design.
"""

from __future__ import annotations

from collections.abc import Sequence

from vigil.aml.alerts import Alert, Evidence
from vigil.aml.detectors.base import NO_ALERTS, customer_sides, hours, params_dict, usd, watched
from vigil.aml.detectors.quiet import Quiet
from vigil.aml.detectors.regime import Regime
from vigil.aml.detectors.window import Pane, Panes

TYPOLOGY = "pass_through"


class PassThroughDetector:
    """Sizeable inflows and outflows per account over a window of hours; in/out ratio near 1."""

    typology = TYPOLOGY

    def __init__(self) -> None:
        self._inflows = Panes()
        self._outflows = Panes()
        self._quiet = Quiet()

    def observe(self, leg: Evidence, regime: Regime) -> Sequence[Alert]:
        p = regime.params.pass_through
        if leg.usd_cents < p.min_leg_usd * 100:
            return NO_ALERTS
        payer, payee = customer_sides(leg)
        if payer == payee:
            return NO_ALERTS
        if payee is not None and watched(leg.payee_kind, p.subject_kinds):
            self._inflows.add(payee, leg, leg.payer_id, p.window_s)
        if payer is None or not watched(leg.payer_kind, p.subject_kinds):
            return NO_ALERTS
        out = self._outflows.add(payer, leg, leg.payee_id, p.window_s)
        into = self._inflows.get(payer, leg.at, p.window_s)
        if (
            into is None
            or into.usd_cents < p.min_usd * 100
            or into.legs[0][0].at > out.legs[0][0].at  # something left before anything came
            or not (1 - p.tolerance) * into.usd_cents
            <= out.usd_cents
            <= (1 + p.tolerance) * into.usd_cents
            or self._quiet.holds(payer, leg.at)
        ):
            return NO_ALERTS
        self._quiet.hold(payer, leg.at + p.window_s)
        return [_alert(payer, into, out, leg, regime)]

    def state_size(self) -> int:
        return self._inflows.size() + self._outflows.size() + len(self._quiet)


def _alert(subject: str, into: Pane, out: Pane, leg: Evidence, regime: Regime) -> Alert:
    evidence = tuple(sorted((*into.evidence(), *out.evidence()), key=lambda e: e.at))
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
        params=params_dict(regime.params.pass_through),
        pack_version=regime.pack_version,
        summary=(
            f"{subject} received {usd(into.usd_cents)} in {len(into.legs)} payments and sent "
            f"{usd(out.usd_cents)} out in {len(out.legs)} within {hours(span)}"
        ),
    )
