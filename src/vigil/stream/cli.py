"""``vigil worker`` and ``vigil stream publish``: the scale-out path on NATS, Redis, PostgreSQL.

Every URL comes from an option or its environment variable (VIGIL_NATS_URL, VIGIL_REDIS_URL,
VIGIL_POSTGRES_URL), so N workers on N hosts share one configuration.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vigil.cli_support import fail, instant

console = Console()
stream_app = typer.Typer(
    help="Payments on NATS JetStream for `vigil worker`.", no_args_is_help=True
)

NatsUrl = Annotated[str, typer.Option(envvar="VIGIL_NATS_URL", help="NATS server.")]
Stream = Annotated[str, typer.Option(help="JetStream stream name.")]
Partitions = Annotated[
    int, typer.Option(min=1, help="Payer partitions (subjects); fixed for a stream's life.")
]


@stream_app.command("publish")
def publish_command(
    data: Annotated[Path, typer.Option(help="World folder whose transactions to publish.")],
    nats_url: NatsUrl = "nats://localhost:4222",
    stream: Stream = "VIGIL",
    partitions: Partitions = 8,
    start: Annotated[str | None, typer.Option("--from", help="First payment time.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many payments.")] = None,
) -> None:
    """Publish a world's payments, in time order, each on its payer's partition."""
    import polars as pl

    from vigil.features.replay import sorted_transactions, transactions_of
    from vigil.stream.publish import publish

    try:
        frame = sorted_transactions(data)
        if start is not None:
            frame = frame.filter(pl.col("ts") >= instant(start, "--from"))
        if limit is not None:
            frame = frame.head(limit)
        sent = asyncio.run(publish(nats_url, stream, partitions, transactions_of(frame)))
    except (OSError, ValueError) as error:
        raise fail(error) from error
    console.print(f"published {sent:,} payments to {stream} ({partitions} partitions)")


@stream_app.command("archive")
def archive_command(
    before: Annotated[str, typer.Option(help="Archive decisions made before this time (UTC).")],
    to: Annotated[Path, typer.Option(help="Folder for the Parquet files.")],
    log: Annotated[
        str,
        typer.Option(
            envvar="VIGIL_POSTGRES_URL",
            help="Decision log: a postgresql:// URL or a SQLite file.",
        ),
    ] = "postgresql://postgres@localhost:5432/test",
    namespace: Annotated[str, typer.Option(help="PostgreSQL schema of the deployment.")] = "vigil",
) -> None:
    """Retention: move old decisions from the log to Parquet (one transaction)."""
    from vigil.store.decisions import open_decision_log

    try:
        store = open_decision_log(log, schema=namespace)
        try:
            path = store.archive(instant(before, "--before"), to)
        finally:
            store.close()
    except (OSError, ValueError) as error:
        raise fail(error) from error
    console.print(f"archived -> {path}" if path else "nothing older than that in the log")


def worker_command(
    models: Annotated[Path, typer.Option(help="Model bundle folder.")],
    data: Annotated[
        Path | None, typer.Option(help="World folder for the accounts reference table.")
    ] = None,
    nats_url: NatsUrl = "nats://localhost:4222",
    redis_url: Annotated[
        str, typer.Option(envvar="VIGIL_REDIS_URL", help="Redis for the shared feature state.")
    ] = "redis://localhost:6379/0",
    postgres_url: Annotated[
        str,
        typer.Option(envvar="VIGIL_POSTGRES_URL", help="PostgreSQL for the decision log."),
    ] = "postgresql://postgres@localhost:5432/test",
    namespace: Annotated[
        str, typer.Option(help="Redis key prefix and PostgreSQL schema of this deployment.")
    ] = "vigil",
    stream: Stream = "VIGIL",
    partitions: Partitions = 8,
    index: Annotated[int, typer.Option(min=0, help="This worker's number, from 0.")] = 0,
    workers: Annotated[int, typer.Option(min=1, help="How many workers share the stream.")] = 1,
    ack_wait: Annotated[
        float, typer.Option(help="Seconds before an unacked payment is redelivered.")
    ] = 30.0,
    idle_exit: Annotated[
        float | None, typer.Option(help="Stop after this many seconds without a payment.")
    ] = None,
    deadline_us: Annotated[int, typer.Option(help="Decision deadline in microseconds.")] = 5_000,
    rules_us: Annotated[int, typer.Option(help="Rules layer budget in microseconds.")] = 300,
    model_us: Annotated[int, typer.Option(help="Model layer budget in microseconds.")] = 600,
    blocks_us: Annotated[
        int,
        typer.Option(min=0, help="Graph layer's on-the-fly inference budget in microseconds."),
    ] = 2_000,
    redis_timeout: Annotated[
        float, typer.Option(help="Seconds a Redis call may take before the payment is degraded.")
    ] = 0.25,
) -> None:
    """Decide payments from NATS JetStream with state in Redis and decisions in PostgreSQL."""
    from vigil.engine.pipeline import Budgets
    from vigil.stream.scaleout import ScaleOut
    from vigil.stream.worker import WorkerConfig, run_worker, start_engine

    config = WorkerConfig(nats_url, stream, partitions, index, workers, ack_wait, idle_exit)
    try:
        shared = ScaleOut(redis_url, postgres_url, namespace, redis_timeout)
        engine, log = start_engine(
            models,
            data,
            shared,
            Budgets(
                rules_us=rules_us, model_us=model_us, blocks_us=blocks_us, deadline_us=deadline_us
            ),
        )
    except (OSError, ValueError, RuntimeError) as error:
        raise fail(error) from error
    console.print(
        f"worker {index}/{workers}: partitions "
        f"{', '.join(map(str, range(index, partitions, workers)))} of {stream} at {nats_url}; "
        f"state {redis_url} ({namespace}); decisions {postgres_url.split('@')[-1]}",
        highlight=False,
    )
    started = datetime.now()
    try:
        stats = asyncio.run(
            run_worker(engine, log, config, lambda s: console.print(s.line(), highlight=False))
        )
    except KeyboardInterrupt:
        console.print("stopped")
        return
    finally:
        log.close()
    console.print(
        f"idle since {datetime.now():%H:%M:%S} (up from {started:%H:%M:%S}): {stats.line()}"
    )
