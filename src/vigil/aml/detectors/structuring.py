"""Structuring: several amounts just under the reporting threshold within a window.

A smurf who deposits CNY 45,000 five times in four days avoids five large-value reports but
not this detector. Each subject is watched in both roles — as payer (splitting payments) and
as beneficiary (collecting them; on a cash deposit the depositor is the beneficiary) — and the
threshold and band come from the jurisdiction's pack in force at the payment's time, so a
regulator's new threshold applies from its effective instant.
"""

from __future__ import annotations

from collections.abc import Sequence

from vigil.aml.alerts import Alert, Evidence
from vigil.aml.detectors.base import (
    CASH_CHANNELS,
    NO_ALERTS,
    customer_sides,
    hours,
    params_dict,
    usd,
)
from vigil.aml.detectors.quiet import Quiet
from vigil.aml.detectors.regime import Regime
from vigil.aml.detectors.window import Pane, Panes
from vigil.money import MINOR_UNIT_EXPONENT

TYPOLOGY = "structuring"


class StructuringDetector:
    """Counts near-threshold transactions per payer and per beneficiary in a sliding window."""

    typology = TYPOLOGY

    def __init__(self) -> None:
        self._as_payer = Panes()
        self._as_payee = Panes()
        self._quiet = Quiet()

    def observe(self, leg: Evidence, regime: Regime) -> Sequence[Alert]:
        p = regime.params.structuring
        if p.cash_only and leg.channel not in CASH_CHANNELS:
            return NO_ALERTS
        share = regime.threshold_share(leg)
        if share is None or not regime.structuring_band <= share < 1.0:
            return NO_ALERTS
        payer, payee = customer_sides(leg)
        alerts = []
        for subject, panes, other, role in (
            (payer, self._as_payer, leg.payee_id, "from"),
            (payee, self._as_payee, leg.payer_id, "into"),
        ):
            if subject is None:
                continue
            pane = panes.add(subject, leg, other, p.window_s)
            if len(pane.legs) >= p.min_count and not self._quiet.holds(subject, leg.at):
                self._quiet.hold(subject, leg.at + p.window_s)
                alerts.append(self._alert(subject, role, pane, leg, regime))
        return alerts or NO_ALERTS

    def state_size(self) -> int:
        return self._as_payer.size() + self._as_payee.size() + len(self._quiet)

    @staticmethod
    def _alert(subject: str, role: str, pane: Pane, leg: Evidence, regime: Regime) -> Alert:
        evidence = pane.evidence()
        currency = regime.currency or leg.currency
        span = evidence[-1].at - evidence[0].at
        total = sum(e.usd_cents for e in evidence)
        threshold = (regime.large_value or 0) / 10 ** MINOR_UNIT_EXPONENT.get(currency, 2)
        summary = (
            f"{len(evidence)} payments {role} {subject} each {regime.structuring_band:.0%}-100% "
            f"of the {currency} {threshold:,.0f} reporting threshold within {hours(span)}, "
            f"{usd(total)} in all"
        )
        return Alert(
            alert_id=f"{TYPOLOGY}:{subject}:{leg.txn_id}",
            typology=TYPOLOGY,
            subject=subject,
            jurisdiction=leg.jurisdiction,
            raised_at=leg.ts,
            trigger_txn_id=leg.txn_id,
            evidence=evidence,
            path=(),
            params={
                "large_value": regime.large_value,
                "currency": currency,
                "structuring_band": regime.structuring_band,
                "role": "payer" if role == "from" else "beneficiary",
                **params_dict(regime.params.structuring),
            },
            pack_version=regime.pack_version,
            summary=summary,
        )
