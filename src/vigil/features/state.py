"""Per-entity state: bucketed sliding windows, remembered values, lifetime statistics.

Written by hand rather than taken from a streaming library because the hot path needs three
properties at once that none offers together: bounded memory per entity (buckets, capped value
maps), integer arithmetic so that adding and expiring is exact (online and offline must agree
bit for bit), and a few microseconds per update in plain CPython. river's rolling statistics
keep every event of the window; that is unbounded for a busy merchant.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque


class Window:
    """count, sum and max over a sliding window, in ``BUCKETS`` time buckets.

    A bucket counts while any part of it is inside the window, so the window reaches back at
    most one bucket further than its span; every reader and writer shares that rule.
    """

    __slots__ = ("buckets", "count", "peak", "span", "step", "total")

    def __init__(self, span: int, step: int):
        self.span = span
        self.step = step
        self.buckets: deque[list[int]] = deque()  # [start, count, total, peak]
        self.count = 0
        self.total = 0
        self.peak = 0

    def expire(self, now: int) -> None:
        """Drop buckets wholly outside the window; always called before the window is read."""
        buckets = self.buckets
        if not buckets:
            return
        horizon = now - self.span - self.step
        if buckets[0][0] > horizon:
            return
        rescan = False
        while buckets and buckets[0][0] <= horizon:
            _, count, total, peak = buckets.popleft()
            self.count -= count
            self.total -= total
            rescan = rescan or peak == self.peak
        if not buckets:
            self.peak = 0
        elif rescan:
            self.peak = max(b[3] for b in buckets)

    def add(self, now: int, amount: int) -> None:
        start = now - now % self.step
        buckets = self.buckets
        if buckets and buckets[-1][0] == start:
            last = buckets[-1]
            last[1] += 1
            last[2] += amount
            if amount > last[3]:
                last[3] = amount
        else:
            buckets.append([start, 1, amount, amount])
        self.count += 1
        self.total += amount
        if amount > self.peak:
            self.peak = amount


class Seen:
    """The last time each distinct value was seen, capped so a merchant's map stays small.

    Past the cap the stalest value is forgotten; distinct counts then saturate at the cap and
    a long-forgotten value counts as new again, which is the right bias for risk.
    """

    __slots__ = ("cap", "last")

    def __init__(self, cap: int):
        self.cap = cap
        self.last: dict[str, int] = {}

    def knows(self, value: str) -> bool:
        return value in self.last

    def note(self, value: str, now: int) -> None:
        last = self.last
        if value in last:
            del last[value]  # re-insert so dict order stays oldest-first
        elif len(last) >= self.cap:
            del last[next(iter(last))]
        last[value] = now

    def distinct_since(self, horizons: list[int]) -> list[int]:
        """Distinct values seen after each horizon.

        The map is kept oldest-first (``note`` re-inserts), so its times are sorted when events
        arrive in time order and a binary search counts them; a late event only blurs the
        count by its lateness, identically online and in replay.
        """
        times = list(self.last.values())
        size = len(times)
        return [size - bisect_right(times, horizon) for horizon in horizons]


class Flow:
    """One direction of one entity: an account's money out, its money in, a device, an IP."""

    __slots__ = (
        "events",
        "first",
        "fraud_labels",
        "last",
        "log_m2",
        "log_mean",
        "seen",
        "total",
        "windows",
    )

    def __init__(self, windows: dict[str, tuple[int, int]], seen_fields: tuple[str, ...], cap: int):
        self.windows = {name: Window(span, step) for name, (span, step) in windows.items()}
        self.seen = {name: Seen(cap) for name in seen_fields}
        self.events = 0
        self.total = 0
        self.log_mean = 0.0
        self.log_m2 = 0.0
        self.first = -1
        self.last = -1
        self.fraud_labels = 0

    def record(self, now: int, amount: int, values: dict[str, str | None]) -> None:
        for window in self.windows.values():
            window.add(now, amount)  # expired by the read that precedes every record
        for name, seen in self.seen.items():
            value = values.get(name)
            if value is not None:
                seen.note(value, now)
        # Welford on log amounts: payment sizes are log-normal, so a z-score on raw amounts
        # would be dominated by the few largest payments.
        self.events += 1
        self.total += amount
        log_amount = math.log1p(amount)
        delta = log_amount - self.log_mean
        self.log_mean += delta / self.events
        self.log_m2 += delta * (log_amount - self.log_mean)
        if self.first < 0:
            self.first = now
        self.last = now
