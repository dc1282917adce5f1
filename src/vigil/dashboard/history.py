"""Recent history with every feature, for backtests and the training score distribution.

A backtest needs each past payment's features, which only a replay of the feature code gives.
That replay takes about as long as a training run's, so it runs once, in a separate process
(the server's own process keeps its core for decisions), when the dashboard starts; the
dashboard says "preparing" until it is done. The same frame gives the reference distribution
of model scores on the training period, against which the live scores' drift (PSI) is measured.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from vigil.models.bundle import ModelBundle
from vigil.rules.backtest import BacktestReport, PackOutcome, backtest
from vigil.rules.pack import CompiledPack


def _build(data: str, out: str) -> None:
    """In the helper process: the feature frame of the whole world, written to ``out``; a
    failure is written beside it for the server to show."""
    try:
        from vigil.features.replay import feature_frame

        feature_frame(Path(data)).write_parquet(out)
    except Exception as error:
        Path(out + ".error").write_text(f"{type(error).__name__}: {error}")
        raise


class History:
    """The feature frame of the world in ``data``, built in the background."""

    def __init__(self, data: Path, bundle: ModelBundle | None, recent_days: float = 7.0):
        self.data = Path(data)
        self.bundle = bundle
        self.recent_days = recent_days
        self.frame: pl.DataFrame | None = None
        self.reference: np.ndarray | None = None  #: model scores on the training period
        self.error: str | None = None
        self.seconds: float | None = None
        self._ready = threading.Event()
        self._folder = tempfile.TemporaryDirectory(prefix="vigil-history-")

    def start(self) -> None:
        """Build in a daemon process (it dies with the server) watched by a daemon thread."""
        out = str(Path(self._folder.name) / "features.parquet")
        process = multiprocessing.get_context("spawn").Process(
            target=_build, args=(str(self.data), out), name="vigil-dashboard-history", daemon=True
        )
        process.start()
        threading.Thread(
            target=self._loaded, args=(process, out, time.perf_counter()), daemon=True
        ).start()

    def _loaded(
        self, process: multiprocessing.process.BaseProcess, out: str, started: float
    ) -> None:
        process.join()
        try:
            if process.exitcode != 0:
                failure = Path(out + ".error")
                raise RuntimeError(
                    failure.read_text() if failure.exists() else f"exit code {process.exitcode}"
                )
            frame = pl.read_parquet(out)
            self.reference = self._reference(frame)
            self.frame = frame
            self.seconds = time.perf_counter() - started
        except Exception as error:  # shown on the rules and health pages
            self.error = str(error)
        finally:
            self._ready.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    @property
    def status(self) -> str:
        if self.frame is not None:
            return "ready"
        return "failed" if self.error else "preparing"

    def _reference(self, frame: pl.DataFrame, rows: int = 50_000) -> np.ndarray | None:
        """Model scores on the last ``rows`` payments of the training period."""
        bundle = self.bundle
        if bundle is None or not set(bundle.features) <= set(frame.columns):
            return None
        train = frame
        if bundle.trained_until is not None:
            train = frame.filter(pl.col("ts") < bundle.trained_until)
        train = train.tail(rows)
        if train.height == 0:
            return None
        matrix = train.select(bundle.features).to_numpy().astype(np.float64)
        return np.asarray(bundle.scores(matrix), dtype=np.float64)

    def recent(self) -> pl.DataFrame:
        if self.frame is None:
            raise LookupError(
                f"history is {self.status}" + (f": {self.error}" if self.error else "")
            )
        end = self.frame.get_column("ts").max()
        assert isinstance(end, datetime)
        return self.frame.filter(pl.col("ts") >= end - timedelta(days=self.recent_days))

    def backtest(self, candidate: CompiledPack, live: CompiledPack | None) -> dict[str, Any]:
        frame = self.recent()
        report = backtest(candidate, live, frame)
        return report_dict(report, frame)


def report_dict(report: BacktestReport, frame: pl.DataFrame) -> dict[str, Any]:
    """A backtest as JSON: both packs' figures side by side, with the window it ran on."""
    ts = frame.get_column("ts")
    return {
        "jurisdiction": report.jurisdiction,
        "rows": report.rows,
        "frauds": report.frauds,
        "fraud_amount": report.fraud_amount,
        "amount_unit": report.amount_unit,
        "from": ts.min().isoformat() if frame.height else None,  # type: ignore[union-attr]
        "until": ts.max().isoformat() if frame.height else None,  # type: ignore[union-attr]
        "missing_columns": list(report.missing_columns),
        "candidate": _outcome(report.candidate, report.rows, report.frauds),
        "live": _outcome(report.live, report.rows, report.frauds) if report.live else None,
        "seconds": round(report.seconds, 3),
    }


def _outcome(p: PackOutcome, rows: int, frauds: int | None) -> dict[str, Any]:
    legit = None if frauds is None else rows - frauds
    false_positives = (
        None
        if p.false_positive_rate is None or legit is None
        else round(p.false_positive_rate * legit)
    )
    return {
        "version": p.version,
        "hits": p.hits,
        "alerted": p.alerted,
        "reviews": p.reviews,
        "declines": p.declines,
        "precision": p.precision,
        "recall": p.recall,
        "false_positive_rate": p.false_positive_rate,
        "false_positives": false_positives,
        "fraud_amount_caught": p.fraud_amount_caught,
        "by_rule": {k: {"hits": v[0], "fraud": v[1]} for k, v in sorted(p.by_rule.items())},
    }


#: Score bins for drift: fraud scores crowd near zero and calibrated scores take few distinct
#: values, so quantile bins of the reference collapse into two or three; fixed bins on a log
#: scale keep the tail, where drift matters, in bins of its own.
SCORE_EDGES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3)


def psi(
    reference: np.ndarray, current: np.ndarray, edges: tuple[float, ...] = SCORE_EDGES
) -> dict[str, Any]:
    """Population stability index of ``current`` against ``reference`` over ``edges``; each
    share is floored at 1e-4 so an empty bin does not give infinity.

    Rule of thumb: below 0.1 stable, 0.1-0.25 moderate shift, above 0.25 a shift to act on.
    """
    bounds = np.array([-np.inf, *edges, np.inf])
    expected = np.histogram(reference, bounds)[0] / max(len(reference), 1)
    actual = np.histogram(current, bounds)[0] / max(len(current), 1)
    e, a = np.maximum(expected, 1e-4), np.maximum(actual, 1e-4)
    value = float(np.sum((a - e) * np.log(a / e)))
    labels = [f"< {edges[0]:g}"]
    labels += [f"{lo:g}-{hi:g}" for lo, hi in pairwise(edges)]
    labels.append(f">= {edges[-1]:g}")
    return {
        "psi": round(value, 4),
        "labels": labels,
        "expected": [round(float(x), 5) for x in expected],
        "actual": [round(float(x), 5) for x in actual],
        "reference_n": len(reference),
        "current_n": len(current),
    }


def utc_now() -> datetime:
    return datetime.now(UTC)
