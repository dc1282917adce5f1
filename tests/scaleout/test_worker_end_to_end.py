"""Workers on NATS JetStream + Redis + PostgreSQL against the embedded engine, and a kill -9."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict

import polars as pl

from vigil.engine.factory import load_engine
from vigil.engine.pipeline import Budgets
from vigil.features.replay import sorted_transactions, transactions_of
from vigil.features.stores.redis_store import RedisStateStore
from vigil.store.decisions import PostgresDecisionLog
from vigil.stream.publish import publish
from vigil.stream.scaleout import ScaleOut
from vigil.stream.subjects import partition_of
from vigil.stream.worker import WorkerConfig, run_worker, start_engine

#: no layer skipped or marked degraded for time on a busy machine: runs comparable
SLOW_DEADLINE = Budgets(rules_us=1_000_000, model_us=1_000_000, deadline_us=60_000_000)


def _live(world, bundle, n: int):
    from datetime import UTC, datetime

    until = datetime(2026, 1, 9, tzinfo=UTC)  # the conftest bundle's training cut
    return list(transactions_of(sorted_transactions(world).filter(pl.col("ts") >= until).head(n)))


def _embedded(world, bundle, txns):
    engine = load_engine(bundle, world)
    engine.budgets = SLOW_DEADLINE
    return {t.txn_id: engine.decide(t) for t in txns}


def _worker_cmd(bundle, world, urls, deployment, partitions, index, workers, idle):
    return [
        sys.executable, "-m", "vigil.cli", "worker", "--models", str(bundle), "--data",
        str(world), "--nats-url", urls[0], "--redis-url", urls[1], "--postgres-url", urls[2],
        "--namespace", deployment["namespace"], "--stream", deployment["stream"],
        "--partitions", str(partitions), "--index", str(index), "--workers", str(workers),
        "--ack-wait", "3", "--idle-exit", str(idle), "--deadline-us", "60000000", "--rules-us", "1000000", "--model-us", "1000000",
        "--redis-timeout", "10",
    ]  # fmt: skip


def test_one_worker_decides_exactly_as_the_embedded_engine(
    tiny_world, tiny_bundle, redis_url, nats_url, postgres_url, deployment
):
    txns = _live(tiny_world, tiny_bundle, 300)
    stream, namespace = deployment["stream"], deployment["namespace"]
    assert asyncio.run(publish(nats_url, stream, 1, txns)) == 300
    engine, log = start_engine(
        tiny_bundle, tiny_world, ScaleOut(redis_url, postgres_url, namespace, 10.0), SLOW_DEADLINE
    )
    config = WorkerConfig(nats_url, stream, partitions=1, idle_exit_seconds=3.0)
    stats = asyncio.run(run_worker(engine, log, config))
    assert stats.decided == 300 and stats.redelivered == 0 and stats.degraded == 0
    expected = _embedded(tiny_world, tiny_bundle, txns)
    for txn in txns:
        stored = log.get(txn.txn_id)
        assert (stored["action"], stored["score"]) == (
            expected[txn.txn_id].action,
            expected[txn.txn_id].score,
        ), txn.txn_id
    log.close()


def test_two_workers_match_the_embedded_engine_except_across_partitions(
    tiny_world, tiny_bundle, redis_url, nats_url, postgres_url, deployment
):
    """Payments of one payer stay in order; payments of payers in different partitions may be
    decided in another order, so a payment can differ only when one of the flows it reads
    (its payee's or its own inflow, its device, its IP) is also written from another partition."""
    partitions, n = 4, 600
    txns = _live(tiny_world, tiny_bundle, n)
    asyncio.run(publish(nats_url, deployment["stream"], partitions, txns))
    urls = (nats_url, redis_url, postgres_url)
    procs = [
        subprocess.Popen(
            _worker_cmd(tiny_bundle, tiny_world, urls, deployment, partitions, i, 2, 3),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    log = PostgresDecisionLog(postgres_url, schema=deployment["namespace"])
    assert sorted(log.txn_ids()) == sorted(t.txn_id for t in txns)

    writers: dict[str, set[int]] = defaultdict(set)
    for t in txns:
        part = partition_of(t.payer_id, partitions)
        for key in (f"in:{t.payee_id}", f"dev:{t.device_id}", f"ip:{t.ip}"):
            writers[key].add(part)
    expected = _embedded(tiny_world, tiny_bundle, txns)
    same = exposed = 0
    for t in txns:
        part = partition_of(t.payer_id, partitions)
        reads = (f"in:{t.payee_id}", f"in:{t.payer_id}", f"dev:{t.device_id}", f"ip:{t.ip}")
        crossing = any(writers.get(key, set()) - {part} for key in reads)
        stored = log.get(t.txn_id)
        identical = stored["score"] == expected[t.txn_id].score
        same += identical
        exposed += crossing
        if not crossing:
            assert identical and stored["action"] == expected[t.txn_id].action, t.txn_id
    log.close()
    print(f"{same}/{n} identical; {n - exposed} read no flow written from another partition")
    assert n - exposed >= 30, f"only {n - exposed} payments read no shared flow: no teeth"


def test_a_worker_killed_mid_stream_loses_and_duplicates_nothing(
    tiny_world, tiny_bundle, redis_url, nats_url, postgres_url, deployment
):
    n = 1_500
    txns = _live(tiny_world, tiny_bundle, n)
    asyncio.run(publish(nats_url, deployment["stream"], 2, txns))
    urls = (nats_url, redis_url, postgres_url)
    command = _worker_cmd(tiny_bundle, tiny_world, urls, deployment, 2, 0, 1, 4)
    victim = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = PostgresDecisionLog(postgres_url, schema=deployment["namespace"])
    deadline = time.monotonic() + 180
    while log.count() < 300:
        assert victim.poll() is None and time.monotonic() < deadline, "worker never got going"
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert log.count() < n, "the worker finished before it could be killed"
    survivor = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert survivor.returncode == 0, survivor.stdout + survivor.stderr
    assert sorted(log.txn_ids()) == sorted(t.txn_id for t in txns)  # none lost, none twice
    log.close()

    # and the shared state counted each payment exactly once
    store = RedisStateStore(redis_url, namespace=deployment["namespace"])
    seeded = load_engine(tiny_bundle, tiny_world).features.store
    before = sum(
        f.events for k, f in seeded.flows.items() if k.startswith("acct:") and k.endswith(":out")
    )
    after = sum(flow.events for _, flow in store.flows("acct:*:out"))
    assert after - before == n
