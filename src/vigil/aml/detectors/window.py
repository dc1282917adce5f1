"""Per-account sliding windows with running aggregates, updated and expired in O(1).

River's habit: a windowed statistic is an update when an item enters and a revert when it
leaves, never a recomputation. Each account's pane holds the recent transactions it needs as
evidence, a running sum in US cents, a count per counterparty (so "distinct payers" is
``len(counts)``) and the largest amount, kept as a monotonic queue (the window maximum in
amortised O(1)). Panes of accounts that went quiet are dropped by an amortised sweep, so
memory follows the transactions inside the horizon, not the length of history.
"""

from __future__ import annotations

from collections import deque

from vigil.aml.alerts import Evidence


class Pane:
    """One account's window: ``(leg, counterparty)`` in arrival order, and their aggregates."""

    __slots__ = ("_peaks", "counts", "legs", "usd_cents")

    def __init__(self) -> None:
        self.legs: deque[tuple[Evidence, str]] = deque()
        self.usd_cents = 0
        self.counts: dict[str, int] = {}
        self._peaks: deque[Evidence] = deque()  # decreasing amounts: the head is the largest

    def push(self, leg: Evidence, other: str) -> None:
        self.legs.append((leg, other))
        self.usd_cents += leg.usd_cents
        self.counts[other] = self.counts.get(other, 0) + 1
        peaks = self._peaks
        while peaks and peaks[-1].usd_cents <= leg.usd_cents:
            peaks.pop()
        peaks.append(leg)

    @property
    def peak(self) -> Evidence:
        """The largest transaction in the window (the latest of equals)."""
        return self._peaks[0]

    def trim(self, cutoff: float) -> None:
        """Revert every leg older than ``cutoff`` (epoch seconds)."""
        legs, counts = self.legs, self.counts
        while legs and legs[0][0].at < cutoff:
            leg, other = legs.popleft()
            if self._peaks[0] is leg:
                self._peaks.popleft()
            self.usd_cents -= leg.usd_cents
            left = counts[other] - 1
            if left:
                counts[other] = left
            else:
                del counts[other]

    def evidence(self) -> tuple[Evidence, ...]:
        return tuple(leg for leg, _ in self.legs)


class Panes:
    """The panes of every account, and the sweep that forgets stale ones.

    ``horizon_s`` grows to the longest window any caller has used, so the sweep never drops a
    leg that some jurisdiction's window still covers.
    """

    __slots__ = ("_order", "_panes", "horizon_s")

    def __init__(self) -> None:
        self._panes: dict[str, Pane] = {}
        self._order: deque[tuple[float, str]] = deque()  # (at, account) of each add
        self.horizon_s = 0.0

    def add(self, account: str, leg: Evidence, other: str, window_s: float) -> Pane:
        """Put ``leg`` (with ``other`` as the counterparty) in ``account``'s window."""
        if window_s > self.horizon_s:
            self.horizon_s = window_s
        self._sweep(leg.at)
        pane = self._panes.get(account)
        if pane is None:
            pane = self._panes[account] = Pane()
        else:
            pane.trim(leg.at - window_s)
        pane.push(leg, other)
        self._order.append((leg.at, account))
        return pane

    def get(self, account: str, at: float, window_s: float) -> Pane | None:
        """``account``'s pane trimmed to the window ending at ``at``; None when empty."""
        pane = self._panes.get(account)
        if pane is not None:
            pane.trim(at - window_s)
            if not pane.legs:
                return None
        return pane

    def size(self) -> int:
        return sum(len(p.legs) for p in self._panes.values())

    def _sweep(self, now: float) -> None:
        cutoff = now - self.horizon_s
        order, panes = self._order, self._panes
        while order and order[0][0] < cutoff:
            _, account = order.popleft()
            pane = panes.get(account)
            if pane is not None:
                pane.trim(cutoff)
                if not pane.legs:
                    del panes[account]
