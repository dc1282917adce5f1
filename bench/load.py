"""Sustained load on `vigil serve`, and scale-out throughput with 1 and 2 `vigil worker`s.

    python bench/load.py sustained [--rate 350] [--seconds 300] [--backend scaleout]
    python bench/load.py workers [--payments 20000]               # NATS + Redis + PostgreSQL

`sustained` sends payments at a fixed rate from a separate process (bench/loadgen.py, open
loop) and samples the server's resident memory every 5 s: memory is flat when its slope over
the second half of the run is near zero. `workers` publishes the scored days' payments to NATS
JetStream, then times N workers draining them (first to last decision stored in PostgreSQL),
for N = 1 and 2. Both use the demo world and models that `make run` builds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import psycopg
from rich.console import Console
from rich.table import Table

from latency import SECRET, free_port, load, wait_healthy
from vigil.features.replay import sorted_transactions, transactions_of
from vigil.features.stores.redis_store import RedisStateStore
from vigil.store.postgres import drop_schema
from vigil.stream.publish import publish

console = Console()
TRAINED_UNTIL = datetime(2026, 1, 24, tzinfo=UTC)  # make run's --until


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def sustained(args: argparse.Namespace, root: Path) -> None:
    live = (
        sorted_transactions(args.data)
        .filter(pl.col("ts") >= TRAINED_UNTIL)
        .drop("is_fraud", "typology", "label_ts")
    )
    needed = int(args.rate * (args.seconds + 2))
    if live.height < needed:
        raise SystemExit(f"{live.height:,} payments after the cut; the run needs {needed:,}")
    warm, bodies = root / "warm.jsonl", root / "bodies.jsonl"
    warm_n = int(args.rate * 2)
    for path, rows in ((warm, live.head(warm_n)), (bodies, live.slice(warm_n, needed))):
        with path.open("w") as handle:
            for row in rows.iter_rows(named=True):
                handle.write(json.dumps({**row, "ts": row["ts"].isoformat()}) + "\n")
    keys = root / "keys.json"
    digest = __import__("hashlib").sha256(SECRET.encode()).hexdigest()
    keys.write_text(json.dumps({"keys": [{"id": "b", "sha256": digest, "scopes": ["decide"]}]}))
    port = free_port()
    command = [sys.executable, "-m", "vigil.cli", "serve", "--models", str(args.models)]
    command += ["--data", str(args.data), "--keys", str(keys), "--port", str(port)]
    command += ["--backend", args.backend]
    namespace = f"bench{uuid.uuid4().hex[:8]}"  # scale-out: this run's keys and schema
    env = {
        **os.environ,
        "VIGIL_REDIS_URL": args.redis_url,
        "VIGIL_POSTGRES_URL": args.postgres_url,
        "VIGIL_NAMESPACE": namespace,
    }
    server = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=env,
    )
    samples: list[tuple[float, float]] = []
    try:
        wait_healthy(port, "/v1/health", server)
        header = [f"Authorization: Bearer {SECRET}"]
        load(port, "/v1/decisions", warm, args.rate, 2, header)
        started = time.monotonic()
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                samples.append((time.monotonic() - started, rss_mb(server.pid)))
                stop.wait(5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        console.print(f"{args.rate:g} payments/s for {args.seconds:g} s ...")
        result = load(port, "/v1/decisions", bodies, args.rate, args.seconds, header)
        stop.set()
        sampler.join()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        if args.backend == "scaleout":
            RedisStateStore(args.redis_url, namespace=namespace).clear()
            drop_schema(args.postgres_url, namespace)
    t, mb = np.asarray(samples).T
    second_half = t >= t[-1] / 2
    slope = np.polyfit(t[second_half], mb[second_half], 1)[0] * 60
    title = f"vigil serve --backend {args.backend}, {args.rate:g} payments/s for {args.seconds:g} s"
    table = Table(title=title)
    for column in ("achieved rps", "p50 ms", "p99 ms", "p99.9 ms", "RSS start / end / max MB",
                   "RSS slope, 2nd half (MB/min)", "statuses"):  # fmt: skip
        table.add_column(column, justify="right")
    table.add_row(
        f"{result['achieved_rps']:,.0f}",
        f"{result['p50_ms']:.2f}",
        f"{result['p99_ms']:.2f}",
        f"{result['p99.9_ms']:.2f}",
        f"{mb[0]:.0f} / {mb[-1]:.0f} / {mb.max():.0f}",
        f"{slope:+.2f}",
        json.dumps(result["statuses"]),
    )
    console.print(table)
    console.print("RSS samples (s, MB): " + ", ".join(f"{a:.0f}:{b:.0f}" for a, b in samples))


def workers(args: argparse.Namespace) -> None:
    frame = sorted_transactions(args.data).filter(pl.col("ts") >= TRAINED_UNTIL)
    txns = list(transactions_of(frame.head(args.payments)))
    rows = []
    for count in (1, 2):
        namespace = f"bench{uuid.uuid4().hex[:8]}"
        stream = namespace.upper()
        asyncio.run(publish(args.nats_url, stream, args.partitions, txns))
        command = [
            sys.executable, "-m", "vigil.cli", "worker", "--models", str(args.models),
            "--data", str(args.data), "--nats-url", args.nats_url, "--redis-url",
            args.redis_url, "--postgres-url", args.postgres_url, "--namespace", namespace,
            "--stream", stream, "--partitions", str(args.partitions), "--workers", str(count),
            "--idle-exit", "5",
        ]  # fmt: skip
        console.print(f"{count} worker(s) draining {len(txns):,} payments ...")
        procs = [
            subprocess.Popen([*command, "--index", str(i)], stdout=subprocess.DEVNULL)
            for i in range(count)
        ]
        for proc in procs:
            proc.wait()
        with psycopg.connect(args.postgres_url, autocommit=True) as conn:
            first, last, stored, degraded = conn.execute(
                f"SELECT MIN(decided_at), MAX(decided_at), COUNT(*), SUM(degraded) "
                f"FROM {namespace}.decisions"
            ).fetchone()
        span = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()
        rows.append((count, stored, span, stored / span, degraded))
        state = RedisStateStore(args.redis_url, namespace=namespace)
        if count == 1:
            flows, per_flow = len(state), state.memory_per_flow(sample=5_000)
            console.print(
                f"Redis state: {flows:,} flows, {per_flow:,.0f} bytes per flow (MEMORY USAGE, "
                f"5,000 sampled); an account has up to 2 flows (out, in), a device or IP one"
            )
        state.clear()
        drop_schema(args.postgres_url, namespace)
        asyncio.run(_delete_stream(args.nats_url, stream))
    table = Table(title=f"vigil worker on NATS + Redis + PostgreSQL, {args.partitions} partitions")
    for column in ("workers", "decisions stored", "first to last (s)", "payments/s", "degraded"):
        table.add_column(column, justify="right")
    for count, stored, span, rate, degraded in rows:
        table.add_row(str(count), f"{stored:,}", f"{span:.1f}", f"{rate:,.0f}", str(degraded))
    console.print(table)
    console.print(f"speed-up with 2 workers: {rows[1][3] / rows[0][3]:.2f}x (same machine)")


async def _delete_stream(url: str, stream: str) -> None:
    import nats

    nc = await nats.connect(url)
    try:
        await nc.jetstream().delete_stream(stream)
    finally:
        await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["sustained", "workers"])
    parser.add_argument("--data", type=Path, default=Path("data/demo"))
    parser.add_argument("--models", type=Path, default=Path("models/demo"))
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--payments", type=int, default=20_000)
    parser.add_argument(
        "--backend",
        choices=["embedded", "scaleout"],
        default="embedded",
        help="sustained: the server's state in memory, or in Redis + PostgreSQL",
    )
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument(
        "--nats-url", default=os.environ.get("VIGIL_NATS_URL", "nats://localhost:4222")
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("VIGIL_REDIS_URL", "redis://localhost:6379/0")
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("VIGIL_POSTGRES_URL", "postgresql://postgres@localhost:5432/test"),
    )
    args = parser.parse_args()
    if args.mode == "sustained":
        with tempfile.TemporaryDirectory() as root:
            sustained(args, Path(root))
    else:
        workers(args)


if __name__ == "__main__":
    main()
