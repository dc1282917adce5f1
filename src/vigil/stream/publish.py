"""Publish payments to the stream, as a payment gateway would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable

import nats
from nats.js.errors import BadRequestError

from vigil.schema.records import Transaction
from vigil.stream.subjects import partition_of, stream_config, subject

_IN_FLIGHT = 256  # publishes awaiting their acknowledgement at once


def payload_of(txn: Transaction) -> bytes:
    body = {name: getattr(txn, name) for name in txn.__dataclass_fields__ if name != "extra"}
    body["ts"] = txn.ts.isoformat()
    body.update(txn.extra or {})
    return json.dumps(body, separators=(",", ":"), default=str).encode()


async def ensure_stream(js: nats.js.JetStreamContext, stream: str, partitions: int) -> None:
    config = stream_config(stream, partitions)
    try:
        await js.add_stream(config)
    except BadRequestError:  # exists with another configuration: keep it, say so
        info = await js.stream_info(stream)
        if sorted(info.config.subjects or []) != sorted(config.subjects):
            raise ValueError(
                f"stream {stream} exists with subjects {info.config.subjects}, not "
                f"{config.subjects}: was it made with another --partitions?"
            ) from None


async def publish(url: str, stream: str, partitions: int, txns: Iterable[Transaction]) -> int:
    """Publish every payment on its payer's partition; the ``txn_id`` is the message id, so
    a publisher retrying after a lost acknowledgement does not store a payment twice."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await ensure_stream(js, stream, partitions)
        pending: list[asyncio.Future] = []
        sent = 0
        for txn in txns:
            target = subject(stream, partition_of(txn.payer_id, partitions))
            headers = {"Nats-Msg-Id": txn.txn_id}
            pending.append(
                asyncio.ensure_future(js.publish(target, payload_of(txn), headers=headers))
            )
            sent += 1
            if len(pending) >= _IN_FLIGHT:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        return sent
    finally:
        await nc.close()
