"""The live feed: recent decisions kept for the dashboard, pushed to browsers as they happen.

:meth:`DecisionFeed.publish` is the API's ``on_decision`` hook, so it runs inside the decision
request: it appends one tuple to a bounded deque and, only when a browser listens, hands the
decision to each listener's queue. Turning a decision into JSON happens on the listener's side,
off the decision's path. With no browser open the cost is building one tuple and appending it
(no lock); with browsers, one wake-up per listener per burst of decisions.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import deque
from typing import Any, NamedTuple

from vigil.money import to_usd_cents
from vigil.schema.records import Decision, Transaction


class Entry(NamedTuple):
    """A tuple, not a dataclass: it is built inside every API decision."""

    seq: int
    txn: Transaction
    decision: Decision
    source: str  #: api or replay


def typology_of(decision: Decision) -> str:
    """What the decision's strongest reason points at, for filtering: a rule code or a feature."""
    if not decision.reasons:
        return ""
    return max(decision.reasons, key=lambda r: r.weight).code


def summary(entry: Entry) -> dict[str, Any]:
    """One decision as a row of the live table."""
    txn, decision = entry.txn, entry.decision
    return {
        "seq": entry.seq,
        "txn_id": txn.txn_id,
        "ts": txn.ts.isoformat(),
        "decided_at": decision.decided_at.isoformat(),
        "payer_id": txn.payer_id,
        "payee_id": txn.payee_id,
        "amount": txn.amount,
        "currency": txn.currency,
        "amount_usd": round(to_usd_cents(txn.amount, txn.currency) / 100.0, 2),
        "jurisdiction": txn.jurisdiction,
        "channel": txn.channel,
        "action": decision.action,
        "score": decision.score,
        "typology": typology_of(decision),
        "reasons": [r.code for r in decision.reasons],
        "rule_pack_version": decision.rule_pack_version,
        "degraded": decision.degraded,
        "latency_us": decision.latency_us.get("total", 0),
        "source": entry.source,
    }


def detail(entry: Entry) -> dict[str, Any]:
    """Everything the decision page shows: the payment, every reason, latency, versions."""
    txn = entry.txn
    return summary(entry) | {
        "transaction": {k: _plain(v) for k, v in txn.to_dict().items()},
        "decision": entry.decision.to_dict(),
    }


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


class _Listener:
    """One browser's stream: woken at most once per burst, it then reads what is new."""

    __slots__ = ("event", "loop", "signalled")

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()
        self.signalled = False

    def wake(self) -> None:
        self.signalled = False
        self.event.set()


class DecisionFeed:
    """The last ``capacity`` decisions, by arrival, and the browsers listening for more."""

    def __init__(self, capacity: int = 20_000):
        self.capacity = capacity
        self._entries: deque[Entry] = deque(maxlen=capacity)
        self._by_id: dict[str, Entry] = {}
        self._counter = itertools.count(1)  # next() on it is atomic: no lock on the hot path
        self._listeners: tuple[_Listener, ...] = ()
        self._lock = threading.Lock()  # subscribers only

    def publish(self, txn: Transaction, decision: Decision, source: str = "api") -> None:
        entry = Entry(next(self._counter), txn, decision, source)
        entries = self._entries
        if len(entries) == self.capacity:
            self._by_id.pop(entries[0].txn.txn_id, None)
        entries.append(entry)
        self._by_id[txn.txn_id] = entry
        for listener in self._listeners:
            # one wake-up per burst, not one callback per decision
            if not listener.signalled:
                listener.signalled = True
                listener.loop.call_soon_threadsafe(listener.wake)

    def subscribe(self) -> _Listener:
        """A listener for what is published from now on; :meth:`unsubscribe` when done."""
        listener = _Listener()
        with self._lock:
            self._listeners = (*self._listeners, listener)
        return listener

    def unsubscribe(self, listener: _Listener) -> None:
        with self._lock:
            self._listeners = tuple(x for x in self._listeners if x is not listener)

    def since(self, seq: int, limit: int = 500) -> list[Entry]:
        """Entries published after ``seq``, oldest first; the newest ``limit`` when more."""
        out: list[Entry] = []
        for entry in reversed(self.recent()):
            if entry.seq <= seq or len(out) >= limit:
                break
            out.append(entry)
        out.reverse()
        return out

    @property
    def seq(self) -> int:
        latest = self.latest()
        return latest.seq if latest is not None else 0

    def get(self, txn_id: str) -> Entry | None:
        return self._by_id.get(txn_id)

    def recent(self, limit: int | None = None) -> list[Entry]:
        """The newest ``limit`` entries (all kept when None), oldest first.

        ``list(deque)`` copies in C without letting another thread in, so it needs no lock
        while the replay thread appends."""
        entries = list(self._entries)
        return entries if limit is None else entries[-limit:]

    def latest(self) -> Entry | None:
        try:
            return self._entries[-1]
        except IndexError:
            return None

    @property
    def listeners(self) -> int:
        return len(self._listeners)
