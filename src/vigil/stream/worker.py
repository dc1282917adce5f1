"""``vigil worker``: decide the payments of some partitions of the stream, one at a time.

Delivery is at least once; the effect is exactly once:

1. a payment whose decision is already in the decision log (delivered again after a crash
   between storing and acknowledging) is acknowledged and nothing else;
2. a payment the shared state already counted (a crash between the state write and the log)
   is decided on the state as it is, without counting it again, and marked degraded;
3. otherwise it is decided, the decision stored, and only then acknowledged.

A worker that cannot store a decision (PostgreSQL unreachable) does not acknowledge: the
payment is delivered again after ``ack_wait`` and the worker keeps trying.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nats
import psycopg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import api

from vigil.engine.factory import load_engine
from vigil.engine.pipeline import Budgets, Engine
from vigil.features.stores import StoreUnavailable
from vigil.schema.records import FieldError, Transaction
from vigil.store.decisions import SqlDecisionLog
from vigil.store.postgres import PostgresError
from vigil.stream.publish import ensure_stream
from vigil.stream.scaleout import ScaleOut, share
from vigil.stream.subjects import durable, owned, subject

_FETCH = 64  # messages per pull: amortises the round trip, keeps redelivery after a crash small


@dataclass
class WorkerStats:
    decided: int = 0
    redelivered: int = 0  #: already in the log: acknowledged only
    recounted: int = 0  #: already in the state: decided without counting it again
    rejected: int = 0  #: not a valid payment: acknowledged, never retried
    store_failures: int = 0  #: decision log unreachable: left unacknowledged for redelivery
    degraded: int = 0
    started: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        rate = self.decided / max(time.monotonic() - self.started, 1e-9)
        return (
            f"decided {self.decided:,} ({rate:,.0f}/s) · redelivered {self.redelivered} · "
            f"recounted {self.recounted} · rejected {self.rejected} · degraded {self.degraded} · "
            f"store failures {self.store_failures}"
        )


@dataclass(frozen=True)
class WorkerConfig:
    nats_url: str
    stream: str
    partitions: int
    index: int = 0
    workers: int = 1
    ack_wait_seconds: float = 30.0
    #: stop after this long without a message (None: run until stopped)
    idle_exit_seconds: float | None = None


async def run_worker(
    engine: Engine,
    log: SqlDecisionLog,
    config: WorkerConfig,
    report: Callable[[WorkerStats], None] | None = None,
) -> WorkerStats:
    """Consume the worker's partitions until idle for ``idle_exit_seconds`` (or forever).

    One task per partition: each keeps its partition in order, and an empty partition waits
    in its own fetch without holding up the others. The engine itself is synchronous, so the
    tasks take turns between batches; state stays per payment and in arrival order.
    """
    mine = owned(config.partitions, config.index, config.workers)
    nc = await nats.connect(config.nats_url, max_reconnect_attempts=-1)
    stats = WorkerStats()
    activity = {"last": time.monotonic()}
    try:
        js = nc.jetstream()
        await ensure_stream(js, config.stream, config.partitions)
        tasks = [
            asyncio.ensure_future(_consume(js, p, engine, log, config, stats, activity))
            for p in mine
        ]
        try:
            while True:
                await asyncio.sleep(0.25)
                for task in tasks:
                    if task.done():
                        task.result()  # a consumer that failed stops the worker, loudly
                idle = time.monotonic() - activity["last"]
                if config.idle_exit_seconds is not None and idle >= config.idle_exit_seconds:
                    return stats
                if report is not None and time.monotonic() - activity.get("reported", 0) >= 5:
                    report(stats)
                    activity["reported"] = time.monotonic()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await nc.close()


async def _consume(
    js: nats.js.JetStreamContext,
    partition: int,
    engine: Engine,
    log: SqlDecisionLog,
    config: WorkerConfig,
    stats: WorkerStats,
    activity: dict[str, float],
) -> None:
    sub = await js.pull_subscribe(
        subject(config.stream, partition),
        durable=durable(config.stream, partition),
        stream=config.stream,
        config=api.ConsumerConfig(
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=config.ack_wait_seconds,
            max_ack_pending=_FETCH,  # in order: nothing beyond one batch in flight
        ),
    )
    while True:
        try:
            messages = await sub.fetch(_FETCH, timeout=1.0)
        except (TimeoutError, NatsTimeout):  # nothing waiting
            continue
        activity["last"] = time.monotonic()
        await _handle_batch(engine, log, messages, stats)
        activity["last"] = time.monotonic()  # busy is not idle, however long a batch took


async def _handle_batch(
    engine: Engine, log: SqlDecisionLog, messages: list, stats: WorkerStats
) -> None:
    """Decide a batch, store its decisions in one transaction, then acknowledge them; if the
    store fails nothing is acknowledged and the batch comes again (decided the same way: the
    engine remembers its decisions, and the shared state knows what it has counted)."""
    parsed: list[tuple[object, Transaction]] = []
    for message in messages:
        try:
            parsed.append((message, Transaction.from_mapping(json.loads(message.data))))
        except (FieldError, ValueError, TypeError) as error:
            stats.rejected += 1
            print(f"rejected message {message.metadata.sequence.stream}: {error}", flush=True)
            await message.term()  # a malformed payment never becomes valid: do not redeliver
    try:
        stored = log.known([txn.txn_id for _, txn in parsed])
        decided = []
        for message, txn in parsed:
            if txn.txn_id in stored:
                stats.redelivered += 1
                continue
            counted = message.metadata.num_delivered > 1 and _counted(engine, txn.txn_id)
            decided.append((engine.decide(txn, count_in_state=not counted), counted))
        log.record_many([decision for decision, _ in decided])
    except (psycopg.OperationalError, PostgresError) as error:
        stats.store_failures += 1
        print(f"decision log unreachable, batch left for redelivery: {error}", flush=True)
        await asyncio.sleep(0.5)
        return
    for decision, counted in decided:
        stats.recounted += counted
        stats.degraded += decision.degraded
        stats.decided += 1
    for message, _ in parsed:
        await message.ack()


def _counted(engine: Engine, txn_id: str) -> bool:
    """Whether the shared state already counted this payment (a crash after its state write
    and before its decision was stored)."""
    try:
        return engine.features.store.recall(txn_id) is not None
    except StoreUnavailable:
        return False  # decided without state anyway, and marked degraded


def start_engine(
    models: Path, data: Path | None, config: ScaleOut, budgets: Budgets
) -> tuple[Engine, SqlDecisionLog]:
    """A serving engine on the shared state and decision log of ``config``."""
    engine = load_engine(models, data)
    engine.budgets = budgets
    return engine, share(engine, config)
