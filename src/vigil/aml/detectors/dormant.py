"""Dormant-account reactivation: an account silent for long suddenly moves large sums.

A sleeper is bought or taken over because its age and clean history lend credibility; once
woken it receives and sends large amounts within a day or two. Silence is measured from the
account's last transaction seen, and never from before what can be known: an account cannot
have been silent before it was opened, nor longer than the detector has been watching (a
monitor started yesterday knows nothing of last year). Honest sleepers who come back to buy
groceries stay below ``min_usd``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime

from vigil.aml.alerts import Alert, Evidence
from vigil.aml.detectors.base import NO_ALERTS, customer_sides, hours, params_dict, usd
from vigil.aml.detectors.params import DAY
from vigil.aml.detectors.quiet import Quiet
from vigil.aml.detectors.regime import Regime

TYPOLOGY = "dormant_reactivation"

#: Account id -> opening time in epoch seconds, or None when unknown.
OpenedAt = Callable[[str], float | None]


class _Wake:
    """The flows of an account since it woke, for ``wake_hours``."""

    __slots__ = ("in_cents", "legs", "out_cents", "silent_s", "start")

    def __init__(self, start: float, silent_s: float):
        self.start, self.silent_s = start, silent_s
        self.in_cents = self.out_cents = 0
        self.legs: list[Evidence] = []


class DormantDetector:
    """Last activity per account; flows of woken accounts over the wake window.

    ``opened_at`` gives account opening times (e.g. from the accounts table) so that a new
    account's first payment is not mistaken for a sleeper's; ``history_start`` is when the
    transactions this detector sees begin (default: the first one it observes).
    """

    typology = TYPOLOGY

    def __init__(self, opened_at: OpenedAt | None = None, history_start: datetime | None = None):
        self._opened_at = opened_at
        self._since = history_start.timestamp() if history_start is not None else None
        self._last_seen: dict[str, float] = {}
        self._woken: dict[str, _Wake] = {}
        self._wake_order: deque[tuple[float, str]] = deque()
        self._quiet = Quiet()

    def observe(self, leg: Evidence, regime: Regime) -> Sequence[Alert]:
        p = regime.params.dormant
        if self._since is None:
            self._since = leg.at
        self._forget(leg.at - p.window_s)
        alerts = None
        payer, payee = customer_sides(leg)
        for account, inflow in ((payee, True), (payer, False)):
            if account is None:
                continue
            wake = self._woken.get(account)
            silent = leg.at - self._known_from(account) if wake is None else 0.0
            self._last_seen[account] = leg.at
            if wake is None:
                if silent < p.silent_days * DAY:
                    continue
                wake = self._woken[account] = _Wake(leg.at, silent)
                self._wake_order.append((leg.at, account))
            wake.legs.append(leg)
            if inflow:
                wake.in_cents += leg.usd_cents
            else:
                wake.out_cents += leg.usd_cents
            if wake.in_cents + wake.out_cents >= p.min_usd * 100 and not self._quiet.holds(
                account, leg.at
            ):
                self._quiet.hold(account, wake.start + p.window_s)
                alerts = alerts or []
                alerts.append(_alert(account, wake, leg, regime))
        return alerts or NO_ALERTS

    def state_size(self) -> int:
        woken = sum(len(w.legs) for w in self._woken.values())
        return len(self._last_seen) + woken + len(self._quiet)

    def _known_from(self, account: str) -> float:
        """Since when the account's silence is known: its last payment, opening, or our start."""
        last = self._last_seen.get(account)
        if last is not None:
            return last
        opened = self._opened_at(account) if self._opened_at is not None else None
        since = self._since if self._since is not None else 0.0
        return since if opened is None else max(opened, since)

    def _forget(self, cutoff: float) -> None:
        """End the wake windows that started before ``cutoff``."""
        order, woken = self._wake_order, self._woken
        while order and order[0][0] < cutoff:
            start, account = order.popleft()
            wake = woken.get(account)
            if wake is not None and wake.start == start:
                del woken[account]


def _alert(subject: str, wake: _Wake, leg: Evidence, regime: Regime) -> Alert:
    evidence = tuple(wake.legs)
    return Alert(
        alert_id=f"{TYPOLOGY}:{subject}:{leg.txn_id}",
        typology=TYPOLOGY,
        subject=subject,
        jurisdiction=leg.jurisdiction,
        raised_at=leg.ts,
        trigger_txn_id=leg.txn_id,
        evidence=evidence,
        path=(),
        params={**params_dict(regime.params.dormant), "silent_days_seen": wake.silent_s / DAY},
        pack_version=regime.pack_version,
        summary=(
            f"{subject}, silent for {wake.silent_s / DAY:.0f} days, received "
            f"{usd(wake.in_cents)} and sent {usd(wake.out_cents)} within "
            f"{hours(evidence[-1].at - wake.start)} of waking"
        ),
    )
