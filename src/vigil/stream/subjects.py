"""Where a payment goes on the stream: one subject per partition of payers.

Partitioning by payer keeps one payer's payments on one subject, and a subject is consumed by
one worker in order, so a payer's velocity features see its payments in the order they were
sent. Payments of different payers may be decided in another order than they were sent; that
is the price of scale-out (docs/deploy.md says what it changes).
"""

from __future__ import annotations

import zlib

from nats.js import api

DEFAULT_STREAM = "VIGIL"
DEFAULT_PARTITIONS = 8


def partition_of(payer_id: str, partitions: int) -> int:
    """Stable across processes and Python versions (``hash()`` is salted per process)."""
    return zlib.crc32(payer_id.encode()) % partitions


def subject(stream: str, partition: int) -> str:
    return f"{stream.lower()}.payments.{partition}"


def durable(stream: str, partition: int) -> str:
    return f"{stream.lower()}-decide-{partition}"


def owned(partitions: int, index: int, workers: int) -> list[int]:
    """The partitions worker ``index`` of ``workers`` consumes: each exactly one worker's."""
    if not 0 <= index < workers:
        raise ValueError(f"--index must be in [0, {workers}), got {index}")
    if workers > partitions:
        raise ValueError(f"{workers} workers for {partitions} partitions: some would idle")
    return [p for p in range(partitions) if p % workers == index]


def stream_config(stream: str, partitions: int) -> api.StreamConfig:
    """File storage (messages survive a server restart) and a 2-minute duplicate window, in
    which a payment published twice under its ``txn_id`` is stored once."""
    return api.StreamConfig(
        name=stream,
        subjects=[subject(stream, p) for p in range(partitions)],
        storage=api.StorageType.FILE,
        duplicate_window=120.0,
    )
