"""Flows to bytes and back, for stores outside this process.

msgpack rather than pickle: a shared store is written by many processes, and unpickling what
another process wrote would run whatever code it named. Integers stay integers and floats stay
IEEE doubles, so a flow read back computes bit-for-bit the features it would have in memory.
"""

from __future__ import annotations

from collections import deque

import msgpack

from vigil.features.state import Flow, Seen, Window


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
    flow = Flow.__new__(Flow)
    flow.windows = {name: _window(*fields) for name, fields in windows.items()}
    flow.seen = {name: _seen(cap, flat) for name, (cap, flat) in seen.items()}
    flow.events = events
    flow.total = total
    flow.log_mean = log_mean
    flow.log_m2 = log_m2
    flow.first = first
    flow.last = last
    flow.fraud_labels = fraud
    return flow


def _window(span: int, step: int, count: int, total: int, peak: int, flat: list[int]) -> Window:
    window = Window(span, step)
    window.buckets = deque(list(flat[i : i + 4]) for i in range(0, len(flat), 4))
    window.count = count
    window.total = total
    window.peak = peak
    return window


def _seen(cap: int, flat: list) -> Seen:
    seen = Seen(cap)
    seen.last = dict(zip(flat[0::2], flat[1::2], strict=True))
    return seen
