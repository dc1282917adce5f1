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
from vigil.features.stores import MemoryStateStore, StoreUnavailable
from vigil.features.stores.redis_store import RedisStateStore
from vigil.schema.records import FieldError, Transaction
from vigil.store.decisions import PostgresDecisionLog, SqlDecisionLog
from vigil.store.postgres import PostgresError
from vigil.stream.publish import ensure_stream
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
    """Consume the worker's partitions until idle for ``idle_exit_seconds`` (or forever)."""
    mine = owned(config.partitions, config.index, config.workers)
    nc = await nats.connect(config.nats_url, max_reconnect_attempts=-1)
    stats = WorkerStats()
    try:
        js = nc.jetstream()
        await ensure_stream(js, config.stream, config.partitions)
        subscriptions = [
            await js.pull_subscribe(
                subject(config.stream, p),
                durable=durable(config.stream, p),
                stream=config.stream,
                config=api.ConsumerConfig(
                    ack_policy=api.AckPolicy.EXPLICIT,
                    ack_wait=config.ack_wait_seconds,
                    max_ack_pending=_FETCH,  # in order: nothing beyond the batch in flight
                ),
            )
            for p in mine
        ]
        last_message = time.monotonic()
        last_report = time.monotonic()
        while True:
            got = 0
            for sub in subscriptions:
                try:
                    messages = await sub.fetch(_FETCH, timeout=0.2)
                except (TimeoutError, NatsTimeout):  # nothing waiting
                    continue
                got += len(messages)
                for message in messages:
                    if not await _handle(engine, log, message, stats):
                        break  # leave the rest of the batch for redelivery, in order
            now = time.monotonic()
            if got:
                last_message = now
            elif (
                config.idle_exit_seconds is not None
                and now - last_message >= config.idle_exit_seconds
            ):
                return stats
            if report is not None and now - last_report >= 5:
                report(stats)
                last_report = now
    finally:
        await nc.close()


async def _handle(engine: Engine, log: SqlDecisionLog, message, stats: WorkerStats) -> bool:
    """Decide one message; False when it must be delivered again (nothing acknowledged)."""
    try:
        txn = Transaction.from_mapping(json.loads(message.data))
    except (FieldError, ValueError, TypeError) as error:
        stats.rejected += 1
        print(f"rejected message {message.metadata.sequence.stream}: {error}", flush=True)
        await message.term()  # a malformed payment never becomes valid: do not redeliver
        return True
    try:
        if log.get(txn.txn_id) is not None:
            stats.redelivered += 1
            await message.ack()
            return True
        try:
            counted = engine.features.store.recall(txn.txn_id) is not None
        except StoreUnavailable:
            counted = False  # the decision goes ahead without state, marked degraded
        decision = engine.decide(txn, count_in_state=not counted)
        log.record(decision)
    except (psycopg.OperationalError, PostgresError) as error:
        stats.store_failures += 1
        print(f"decision log unreachable, {txn.txn_id} left for redelivery: {error}", flush=True)
        await asyncio.sleep(0.5)
        return False
    stats.recounted += counted
    stats.degraded += decision.degraded
    stats.decided += 1
    await message.ack()
    return True


def start_engine(
    models: Path,
    data: Path | None,
    redis_url: str,
    postgres_url: str,
    namespace: str,
    budgets: Budgets,
) -> tuple[Engine, SqlDecisionLog]:
    """A serving engine whose feature state lives in Redis (seeded once from the bundle's
    end-of-training state) and a decision log in PostgreSQL."""
    engine = load_engine(models, data)
    engine.budgets = budgets
    shared = RedisStateStore(redis_url, namespace=namespace)
    warm = engine.features.store
    if isinstance(warm, MemoryStateStore):
        shared.seed_once(warm)
    engine.features.store = shared
    return engine, PostgresDecisionLog(postgres_url, schema=namespace)
