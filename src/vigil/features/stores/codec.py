"""Flows to bytes and back, for stores outside this process.

msgpack rather than pickle: a shared store is written by many processes, and unpickling what
another process wrote would run whatever code it named. Integers stay integers and floats stay
IEEE doubles, so a flow read back computes bit-for-bit the features it would have in memory.
"""

from __future__ import annotations

import msgpack

from vigil.features.state import Flow, Seen, Window, flow_from_fields


def encode_flow(flow: Flow) -> bytes:
    windows = {
        name: [w.span, w.step, w.count, w.total, w.peak, [v for b in w.buckets for v in b]]
        for name, w in flow.windows.items()
    }
    seen = {
        name: [s.cap, [v for pair in s.last.items() for v in pair]] for name, s in flow.seen.items()
    }
    return msgpack.packb(
        [
            windows,
            seen,
            flow.events,
            flow.total,
            flow.log_mean,
            flow.log_m2,
            flow.first,
            flow.last,
            flow.fraud_labels,
        ],
        use_bin_type=True,
    )


def decode_flow(data: bytes) -> Flow:
    windows, seen, events, total, log_mean, log_m2, first, last, fraud = msgpack.unpackb(
        data, raw=False, strict_map_key=False
    )
    return flow_from_fields(
        {name: _window(*fields) for name, fields in windows.items()},
        {
            name: Seen(cap, dict(zip(flat[0::2], flat[1::2], strict=True)))
            for name, (cap, flat) in seen.items()
        },
        events,
        total,
        log_mean,
        log_m2,
        first,
        last,
        fraud,
    )


def _window(span: int, step: int, count: int, total: int, peak: int, flat: list[int]) -> Window:
    buckets = [flat[i : i + 4] for i in range(0, len(flat), 4)]
    return Window.restored(span, step, count, total, peak, buckets)
