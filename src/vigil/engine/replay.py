"""`vigil replay`: stream history through the real-time engine, labels hidden.

Each label reaches the engine only at its ``label_ts``, through the same feedback call a
chargeback feed would use. Decisions go to ``decisions.parquet`` in chunks, so a long replay
runs in bounded memory.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from rich.progress import Progress

from vigil.engine.pipeline import Engine
from vigil.features.accounts import AccountBook
from vigil.features.online import OnlineFeatures
from vigil.features.replay import (
    compute_features,
    label_events,
    merged_stream,
    sorted_transactions,
)
from vigil.models.bundle import ModelBundle
from vigil.money import to_usd_cents
from vigil.rules.pack import context_names
from vigil.rules.registry import RuleRegistry
from vigil.schema.io import read_table
from vigil.schema.records import Decision, Transaction

DEFAULT_PACKS = Path(__file__).resolve().parent.parent / "rules" / "packs"
LAYERS = ("total", "features", "rules", "model", "policy")
REASON = pa.struct(
    [
        ("layer", pa.string()),
        ("code", pa.string()),
        ("detail", pa.string()),
        ("weight", pa.float64()),
    ]
)
DECISION_SCHEMA = pa.schema(
    [
        ("txn_id", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("decided_at", pa.timestamp("us", tz="UTC")),
        ("action", pa.string()),
        ("score", pa.float64()),
        ("reasons", pa.list_(REASON)),
        ("shadow_reasons", pa.list_(REASON)),
        ("jurisdiction", pa.string()),
        ("rule_pack_version", pa.string()),
        ("model_bundle_version", pa.string()),
        ("degraded", pa.bool_()),
        ("amount", pa.int64()),
        ("currency", pa.string()),
        ("amount_usd", pa.float64()),
        *[(f"latency_us_{layer}", pa.int64()) for layer in LAYERS],
    ]
)


@dataclass
class ReplaySummary:
    decided: int
    warmed: int
    labels_released: int
    seconds: float
    run_dir: Path

    @property
    def per_second(self) -> float:
        return self.decided / self.seconds if self.seconds else 0.0


def build_engine(data_dir: Path, bundle: ModelBundle, packs_dir: Path | None = None) -> Engine:
    accounts = AccountBook.from_frame(read_table(data_dir, "accounts", required=False))
    features = OnlineFeatures(accounts=accounts)
    rules = RuleRegistry(packs_dir or DEFAULT_PACKS, context_names())
    return Engine(features, rules, bundle)


class DecisionSink:
    """Writes decisions to Parquet in chunks, with the transactions' time and amounts."""

    def __init__(self, path: Path, chunk: int = 50_000):
        self.path = path
        self.chunk = chunk
        self._rows: list[dict] = []
        self._writer: pq.ParquetWriter | None = None
        self.written = 0

    @property
    def decided(self) -> int:
        return self.written + len(self._rows)

    def add(self, decision: Decision, ts: datetime, amount: int, currency: str) -> None:
        row = decision.to_dict()
        row["decided_at"] = decision.decided_at
        row["ts"] = ts
        row["amount"] = amount
        row["currency"] = currency
        row["amount_usd"] = to_usd_cents(amount, currency) / 100.0
        for layer in LAYERS:
            row[f"latency_us_{layer}"] = decision.latency_us.get(layer, 0)
        self._rows.append(row)
        if len(self._rows) >= self.chunk:
            self.flush()

    def flush(self) -> None:
        if not self._rows:
            return
        table = pa.Table.from_pylist(self._rows, schema=DECISION_SCHEMA)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, DECISION_SCHEMA, compression="zstd")
        self._writer.write_table(table)
        self.written += len(self._rows)
        self._rows = []

    def close(self) -> None:
        self.flush()
        if self._writer is None:
            pq.ParquetWriter(self.path, DECISION_SCHEMA).close()
        else:
            self._writer.close()


def replay(
    data_dir: Path,
    models: Path,
    out: Path,
    start: datetime | None = None,
    progress: bool = True,
    batch: int = 256,
) -> ReplaySummary:
    """Decide every transaction from ``start`` on (default: where training stopped)."""
    from vigil.evaluation.metrics import compute_metrics

    bundle = ModelBundle.load(models)
    engine = build_engine(data_dir, bundle)
    frame = sorted_transactions(data_dir)
    start = start or bundle.trained_until or frame.get_column("ts").min()
    warm = frame.filter(pl.col("ts") < start)
    live = frame.filter(pl.col("ts") >= start)
    out.mkdir(parents=True, exist_ok=True)
    warmed = _warm_up(engine, bundle, warm, start, progress)
    # Labels still unreleased when the warm-up's last payment was seen, by the same rule the
    # warm-up used (a label is released before the first payment strictly after it).
    last_warm = warm.get_column("ts").max() if warm.height else None
    pending = [e for e in label_events(frame) if last_warm is None or e[0] >= last_warm]
    began = time.perf_counter()
    sink = DecisionSink(out / "decisions.parquet")
    released = 0
    queue: list[Transaction] = []
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("replay", total=live.height)
        for txn, label in merged_stream(live, labels=pending):
            if txn is not None:
                queue.append(txn)
                if len(queue) >= batch:
                    _flush(engine, queue, sink)
                    bar.update(task, completed=sink.decided)
            elif label[1]:  # a legitimate label changes no state: no need to cut the batch
                _flush(engine, queue, sink)
                engine.feedback(*label)
                released += 1
        _flush(engine, queue, sink)
    sink.close()
    summary = ReplaySummary(sink.decided, warmed, released, time.perf_counter() - began, out)
    if "is_fraud" in live.columns:
        labels = live.select([c for c in ("txn_id", "is_fraud", "typology") if c in live.columns])
        labels.write_parquet(out / "labels.parquet")
        metrics = compute_metrics(pl.read_parquet(out / "decisions.parquet"), labels)
        metrics["throughput_per_s"] = summary.per_second
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
    return summary


def _flush(engine: Engine, pending: list, sink: DecisionSink) -> None:
    if not pending:
        return
    for txn, decision in zip(pending, engine.decide_batch(pending), strict=True):
        sink.add(decision, txn.ts, txn.amount, txn.currency)
    pending.clear()


def _warm_up(
    engine: Engine, bundle: ModelBundle, warm: pl.DataFrame, start: datetime, progress: bool
) -> int:
    """Bring the state to ``start``: from the bundle's snapshot when it ends there, else by replay."""
    features = engine.features
    if bundle.state_path is not None and bundle.trained_until == start:
        features.store.restore(bundle.state_path, features.fingerprint)
        return 0
    compute_features(warm, features, progress=progress, description="warm-up")
    return warm.height
