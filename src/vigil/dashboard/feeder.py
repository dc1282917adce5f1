"""A replay fed to the running server: history's payments decided live, one by one, paced.

An admin starts it from the dashboard to watch the engine work on real traffic: each payment
goes through :meth:`Engine.decide` (the live path, with its deadlines), into the live feed,
and past the AML monitor, whose alerts are filed as cases in the dashboard's case store.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from vigil.aml.cases.store import CaseStore
from vigil.aml.detectors import AmlMonitor
from vigil.dashboard.feed import DecisionFeed
from vigil.engine.pipeline import Engine
from vigil.features.replay import sorted_transactions, transactions_of


@dataclass
class FeedStatus:
    running: bool = False
    decided: int = 0
    planned: int = 0
    alerts: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    actor: str | None = None
    first_ts: str | None = None
    last_ts: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "extra"}
        return out | self.extra


class ReplayFeeder:
    """At most one replay at a time into ``engine``, ``feed`` and ``cases``."""

    def __init__(self, data: Path, engine: Engine, feed: DecisionFeed, cases: CaseStore | None):
        self.data = Path(data)
        self.engine = engine
        self.feed = feed
        self.cases = cases
        self.status = FeedStatus()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._monitor: AmlMonitor | None = None

    def start(self, since: datetime, count: int, rate: float, actor: str) -> FeedStatus:
        """Decide ``count`` payments from ``since`` on at ``rate`` a second (0: flat out)."""
        if count < 1:
            raise ValueError("count: must be at least 1")
        if rate < 0:
            raise ValueError("rate: must be >= 0 (0 means as fast as possible)")
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise RuntimeError("a replay is already running; stop it first")
            frame = sorted_transactions(self.data).filter(pl.col("ts") >= since).head(count)
            if frame.height == 0:
                raise ValueError(f"from: no payments at or after {since.isoformat()}")
            self._stop.clear()
            self.status = FeedStatus(
                running=True, planned=frame.height, started_at=time.time(), actor=actor
            )
            self._thread = threading.Thread(
                target=self._run, args=(frame, rate), name="vigil-dashboard-replay", daemon=True
            )
            self._thread.start()
            return self.status

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=10)

    def _run(self, frame: pl.DataFrame, rate: float) -> None:
        status = self.status
        try:
            if self.cases is not None and self._monitor is None:
                self._monitor = AmlMonitor(
                    self.engine.rules, accounts=self.engine.features.accounts
                )
            began = time.perf_counter()
            for i, txn in enumerate(transactions_of(frame)):
                if self._stop.is_set():
                    break
                if rate > 0:
                    wait = began + i / rate - time.perf_counter()
                    if wait > 0:
                        time.sleep(wait)
                decision = self.engine.decide(txn)
                self.feed.publish(txn, decision, "replay")
                if self._monitor is not None and self.cases is not None:
                    for alert in self._monitor.observe(txn):
                        self.cases.add_alert(alert, now=alert.raised_at)
                        status.alerts += 1
                status.decided += 1
                status.first_ts = status.first_ts or txn.ts.isoformat()
                status.last_ts = txn.ts.isoformat()
        except Exception as error:  # shown to the admin on the live page
            status.error = f"{type(error).__name__}: {error}"
        finally:
            status.running = False
            status.finished_at = time.time()
