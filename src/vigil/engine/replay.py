"""`vigil replay`: stream history through the real-time engine, labels hidden.

Each label reaches the engine only at its ``label_ts``, through the same feedback call a
chargeback feed would use. Decisions go to ``decisions.parquet`` in chunks, so a long replay
runs in bounded memory.
"""

from __future__ import annotations

import gc
import itertools
import json
import multiprocessing as mp
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from rich.progress import Progress

from vigil.engine.aml import AmlWatch
from vigil.engine.factory import build_engine
from vigil.engine.pipeline import Engine
from vigil.features.online import OnlineFeatures
from vigil.features.replay import (
    compute_features,
    label_events,
    merged_stream,
    sorted_transactions,
    transactions_of,
    world_features,
)
from vigil.models.bundle import ModelBundle
from vigil.money import to_usd_cents
from vigil.runtime import collector_paused
from vigil.schema.records import Decision, Transaction

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


class DecisionSink:
    """Writes decisions to Parquet in chunks, with the transactions' time and amounts.

    Decisions wait as (transaction, decision) pairs and become columns at flush, one list
    comprehension per column: on the per-payment path that costs less than the score of
    appends per decision that filling the columns row by row takes.
    """

    def __init__(self, path: Path, chunk: int = 50_000):
        self.path = path
        self.chunk = chunk
        self._rows: list[tuple[Transaction, Decision]] = []
        self._writer: pq.ParquetWriter | None = None
        self.written = 0

    @property
    def pending(self) -> int:
        return len(self._rows)

    @property
    def decided(self) -> int:
        return self.written + self.pending

    def add(self, txns: Sequence[Transaction], decisions: Sequence[Decision]) -> None:
        """Queue each transaction's decision; a full chunk is written out."""
        self._rows.extend(zip(txns, decisions, strict=True))
        if self.pending >= self.chunk:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        table = pa.Table.from_pydict(self._columns(), schema=DECISION_SCHEMA)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, DECISION_SCHEMA, compression="zstd")
        self._writer.write_table(table)
        self.written += self.pending
        self._rows = []

    def _columns(self) -> dict[str, list]:
        txns = [txn for txn, _ in self._rows]
        decisions = [decision for _, decision in self._rows]
        latency = [d.latency_us for d in decisions]
        return {
            "txn_id": [d.txn_id for d in decisions],
            "ts": [t.ts for t in txns],
            "decided_at": [d.decided_at for d in decisions],
            "action": [d.action for d in decisions],
            "score": [d.score for d in decisions],
            "reasons": [[r.to_dict() for r in d.reasons] for d in decisions],
            "shadow_reasons": [[r.to_dict() for r in d.shadow_reasons] for d in decisions],
            "jurisdiction": [d.jurisdiction for d in decisions],
            "rule_pack_version": [d.rule_pack_version for d in decisions],
            "model_bundle_version": [d.model_bundle_version for d in decisions],
            "degraded": [d.degraded for d in decisions],
            "amount": [t.amount for t in txns],
            "currency": [t.currency for t in txns],
            "amount_usd": [to_usd_cents(t.amount, t.currency) / 100.0 for t in txns],
            **{f"latency_us_{layer}": [x.get(layer, 0) for x in latency] for layer in LAYERS},
        }

    def close(self) -> None:
        self.flush()
        if self._writer is None:
            pq.ParquetWriter(self.path, DECISION_SCHEMA).close()
        else:
            self._writer.close()


@dataclass
class _Plan:
    """Where a replay starts: the history to warm up on, the payments to decide, and the labels
    still pending when the warm-up's last payment was seen."""

    start: datetime
    warm: pl.DataFrame
    live: pl.DataFrame
    pending: list[tuple[datetime, str, bool]]


def _plan(data_dir: Path, bundle: ModelBundle, start: datetime | None) -> _Plan:
    frame = sorted_transactions(data_dir)
    start = start or bundle.trained_until or frame.get_column("ts").min()
    warm = frame.filter(pl.col("ts") < start)
    live = frame.filter(pl.col("ts") >= start)
    # A label is released before the first payment strictly after it, so those not yet
    # released by the warm-up are the ones at or after its last payment.
    last_warm = warm.get_column("ts").max() if warm.height else None
    pending = [e for e in label_events(frame) if last_warm is None or e[0] >= last_warm]
    return _Plan(start, warm, live, pending)


def replay(
    data_dir: Path,
    models: Path,
    out: Path,
    start: datetime | None = None,
    progress: bool = True,
    batch: int = 512,
    workers: int = 2,
    aml: bool = False,
) -> ReplaySummary:
    """Decide every transaction from ``start`` on (default: where training stopped).

    With ``workers=2`` the stateful feature walk runs in a second process and streams feature
    vectors to this one, which runs rules, model and policy: the two halves of the engine on
    the two cores. The decisions are the same as with one worker. ``aml`` also runs the AML
    typology detectors over the stream, filing alerts into ``cases.sqlite`` and ``alerts.jsonl``.
    """
    from vigil.evaluation.metrics import compute_metrics

    bundle = ModelBundle.load(models)
    engine = build_engine(data_dir, bundle)
    plan = _plan(data_dir, bundle, start)
    out.mkdir(parents=True, exist_ok=True)
    sink = DecisionSink(out / "decisions.parquet")
    watch = AmlWatch(engine.rules, engine.features.accounts, out) if aml else None
    with collector_paused(), Progress(disable=not progress, transient=True) as bar:
        if watch is not None:
            watch.warm(plan.warm)
        task = bar.add_task("replay", total=plan.live.height)
        tick = lambda: bar.update(task, completed=sink.decided)  # noqa: E731
        if workers >= 2:
            warmed, released, seconds = _replay_two_stages(
                data_dir, models, plan, engine, sink, batch, tick, watch
            )
        else:
            warmed = warm_up(engine.features, bundle, plan, progress)
            began = time.perf_counter()
            released = _replay_one_stage(engine, plan, sink, batch, tick, watch)
            seconds = time.perf_counter() - began
    sink.close()
    if watch is not None:
        watch.close()
    summary = ReplaySummary(sink.decided, warmed, released, seconds, out)
    live = plan.live
    if "is_fraud" in live.columns:
        labels = live.select([c for c in ("txn_id", "is_fraud", "typology") if c in live.columns])
        labels.write_parquet(out / "labels.parquet")
        metrics = compute_metrics(pl.read_parquet(out / "decisions.parquet"), labels)
        metrics["throughput_per_s"] = summary.per_second
        if watch is not None:
            metrics["aml"] = watch.summary(labels)
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
    return summary


def _replay_one_stage(
    engine: Engine, plan: _Plan, sink: DecisionSink, batch: int, tick, watch: AmlWatch | None
) -> int:
    released = 0
    queue: list[Transaction] = []
    for txn, label in merged_stream(plan.live, labels=plan.pending):
        if txn is not None:
            queue.append(txn)
            if len(queue) >= batch:
                _flush(engine, queue, sink, watch)
                tick()
        elif label[1]:  # a legitimate label changes no state: no need to cut the batch
            _flush(engine, queue, sink, watch)
            engine.feedback(*label)
            released += 1
    _flush(engine, queue, sink, watch)
    return released


def _flush(engine: Engine, pending: list, sink: DecisionSink, watch: AmlWatch | None) -> None:
    if not pending:
        return
    _sink_all(pending, engine.decide_batch(pending), sink, watch)
    pending.clear()


def _sink_all(
    txns: list[Transaction], decisions: list[Decision], sink: DecisionSink, watch: AmlWatch | None
) -> None:
    sink.add(txns, decisions)
    if watch is not None:
        for txn in txns:
            watch.observe(txn)


def _replay_two_stages(
    data_dir: Path,
    models: Path,
    plan: _Plan,
    engine: Engine,
    sink: DecisionSink,
    batch: int,
    tick,
    watch: AmlWatch | None,
) -> tuple[int, int, float]:
    context = mp.get_context("spawn")  # no fork: LightGBM's OpenMP threads do not survive it
    receiver, sender = context.Pipe(duplex=False)
    stage = context.Process(
        target=_feature_stage,
        args=(data_dir, models, plan.start, batch, sender),
        name="vigil-features",
        daemon=True,
    )
    stage.start()
    sender.close()
    engine.batch_threads = 1  # the other core is the feature stage's
    # The two cores' halves: the feature stage walks the whole entity state (every role); this
    # process computes the stateless context features, runs the learnt blocks (their state is
    # their own), rules, model, policy and the sink. With the walk compiled
    # (vigil.features.state) this split costs about the same on either side.
    blocks = engine.features.blocks
    local = world_features(data_dir, blocks=blocks, roles=())
    if blocks:  # the same warm-up as the stage's, which reports how many payments it took
        warm_up(local, engine.bundle, plan, progress=False)
    txns = transactions_of(plan.live)
    began, warmed = None, 0
    try:
        while True:
            message = receiver.recv()
            if message[0] == "warmed":
                warmed = message[1]
                began = time.perf_counter()
                continue
            if message[0] == "error":
                raise RuntimeError(f"feature stage failed:\n{message[1]}")
            if message[0] == "done":
                released = message[1]
                break
            _, vectors, latency, labels = message
            chunk = list(itertools.islice(txns, len(vectors)))
            rows = _complete(local, chunk, vectors, latency, labels)
            _sink_all(chunk, engine.decide_with_features(chunk, rows, latency), sink, watch)
            tick()
    finally:
        stage.join(timeout=60)
        if stage.is_alive():
            stage.terminate()
    return warmed, released, time.perf_counter() - (began or time.perf_counter())


def _complete(
    local: OnlineFeatures,
    chunk: list[Transaction],
    vectors: np.ndarray,
    latency: np.ndarray,
    labels: list[tuple[int, str, bool]],
) -> list[list[float]]:
    """The context and learnt blocks' part of the vectors, labels released at the same points
    as in the feature stage; ``latency`` gains this part's time."""
    rows = vectors.tolist()
    due = iter(labels)
    label = next(due, None)
    for i, txn in enumerate(chunk):
        while label is not None and label[0] == i:
            local.observe_label(label[1], label[2])
            label = next(due, None)
        began = time.perf_counter_ns()
        local.process(txn, into=rows[i])
        latency[i] += (time.perf_counter_ns() - began) // 1_000
    return rows


def _feature_stage(
    data_dir: Path, models: Path, start: datetime, batch: int, sender: Connection
) -> None:
    """The entity-state walk: walks payments and labels, sends the partial vectors (context
    and learnt blocks left to the deciding process) and the labels released between them."""
    gc.disable()  # this process only walks the feature state: see vigil.runtime
    try:
        bundle = ModelBundle.load(models)
        features = world_features(data_dir)
        plan = _plan(data_dir, bundle, start)
        sender.send(("warmed", warm_up(features, bundle, plan, progress=False)))
        width = len(features.names)
        vectors = np.empty((batch, width), dtype=np.float64)
        latency = np.empty(batch, dtype=np.int64)
        labels: list[tuple[int, str, bool]] = []
        filled = released = 0
        for txn, label in merged_stream(plan.live, labels=plan.pending):
            if txn is None:
                if label[1]:  # a legitimate label changes no state
                    features.observe_label(*label)
                    labels.append((filled, *label))
                    released += 1
                continue
            began = time.perf_counter_ns()
            vectors[filled] = features.process(txn, context=False)  # context: the other half
            latency[filled] = (time.perf_counter_ns() - began) // 1_000
            filled += 1
            if filled == batch:
                sender.send(("vectors", vectors, latency, labels))
                filled, labels = 0, []
        if filled:
            sender.send(("vectors", vectors[:filled], latency[:filled], labels))
        sender.send(("done", released))
    except Exception:  # the parent must hear of any failure, not wait forever
        sender.send(("error", traceback.format_exc()))
    finally:
        sender.close()


def warm_up(features: OnlineFeatures, bundle: ModelBundle, plan: _Plan, progress: bool) -> int:
    """Bring the state to the plan's start: from the bundle's snapshot when it ends there,
    else by replaying the history before it."""
    if bundle.state_path is not None and bundle.trained_until == plan.start:
        features.restore(bundle.state_path)
        return 0
    compute_features(plan.warm, features, progress=progress, description="warm-up")
    return plan.warm.height
