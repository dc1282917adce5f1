"""Cycles (round-tripping): money that comes back to where it started within days.

Found incrementally, when the closing payment arrives: a payment u → v closes a cycle if v
already paid, through at most ``max_length - 1`` hops, money that reached u. The search walks
backwards from u over a time-windowed adjacency of recent sizeable payments, each step to an
earlier payment of a similar amount (a launderer's fee is a few percent a hop), and stops at a
fixed number of edges, so its cost per payment is bounded no matter how large the graph grows.
"""

from __future__ import annotations

from collections.abc import Sequence

from vigil.aml.alerts import Alert, Evidence
from vigil.aml.detectors.base import NO_ALERTS, customer_sides, hours, params_dict, usd
from vigil.aml.detectors.params import CycleParams
from vigil.aml.detectors.quiet import Quiet
from vigil.aml.detectors.regime import Regime
from vigil.aml.detectors.window import Panes

TYPOLOGY = "cycle"


class CycleDetector:
    """Recent sizeable payments indexed by payee; a bounded backward search per payment."""

    typology = TYPOLOGY

    def __init__(self) -> None:
        self._into = Panes()  # payee -> (payment, payer), newest last
        self._quiet = Quiet()

    def observe(self, leg: Evidence, regime: Regime) -> Sequence[Alert]:
        p = regime.params.cycle
        if leg.usd_cents < p.min_usd * 100:
            return NO_ALERTS
        payer, payee = customer_sides(leg)
        if payer is None or payee is None or payer == payee:
            return NO_ALERTS
        hops = None if self._quiet.holds(payee, leg.at) else self._search(leg, p)
        self._into.add(payee, leg, payer, p.window_s)
        if hops is None:
            return NO_ALERTS
        self._quiet.hold(payee, leg.at + p.window_s)
        return [_alert((*hops, leg), leg, regime)]

    def state_size(self) -> int:
        return self._into.size() + len(self._quiet)

    def _search(self, closing: Evidence, p: CycleParams) -> list[Evidence] | None:
        """The earlier payments of a cycle that ``closing`` completes, oldest first, or None."""
        search = _Search(closing, p)
        return self._back(search, closing.payer_id, closing, p.max_length - 1)

    def _back(
        self, search: _Search, node: str, later: Evidence, hops_left: int
    ) -> list[Evidence] | None:
        """Depth-first, newest payment first, into ``node`` before ``later`` was paid on."""
        p = search.params
        pane = self._into.get(node, search.closing.at, p.window_s)
        if pane is None:
            return None
        followed = 0
        for leg, source in reversed(pane.legs):
            if leg.at < search.cutoff:
                break
            if leg.at > later.at or source in search.on_path:
                continue
            search.budget -= 1
            followed += 1
            if search.budget < 0 or followed > p.max_branching:
                return None
            ratio = later.usd_cents / leg.usd_cents
            if not 1.0 - p.max_hop_loss <= ratio <= 1.0 + p.max_hop_gain:
                continue
            if source == search.origin:
                return [leg]
            if hops_left > 1:
                search.on_path.add(source)
                found = self._back(search, source, leg, hops_left - 1)
                search.on_path.discard(source)
                if found is not None:
                    return [*found, leg]
        return None


class _Search:
    """One backward search: what it looks for and what it may still spend."""

    __slots__ = ("budget", "closing", "cutoff", "on_path", "origin", "params")

    def __init__(self, closing: Evidence, p: CycleParams):
        self.closing, self.params = closing, p
        self.origin = closing.payee_id
        self.cutoff = closing.at - p.window_s
        self.budget = p.max_expansions
        self.on_path = {closing.payer_id}


def _alert(hops: tuple[Evidence, ...], leg: Evidence, regime: Regime) -> Alert:
    origin = leg.payee_id
    path = (origin, *(h.payee_id for h in hops))
    span = hops[-1].at - hops[0].at
    return Alert(
        alert_id=f"{TYPOLOGY}:{origin}:{leg.txn_id}",
        typology=TYPOLOGY,
        subject=origin,
        jurisdiction=leg.jurisdiction,
        raised_at=leg.ts,
        trigger_txn_id=leg.txn_id,
        evidence=hops,
        path=path,
        params=params_dict(regime.params.cycle),
        pack_version=regime.pack_version,
        summary=(
            f"{usd(hops[0].usd_cents)} left {origin} and {usd(leg.usd_cents)} came back through "
            f"{len(hops) - 1} other accounts within {hours(span)}: {' -> '.join(path)}"
        ),
    )
