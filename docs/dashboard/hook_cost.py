"""CPU cost of the dashboard's publish hook per decision, with no browser listening.

    .venv/bin/python docs/dashboard/hook_cost.py

Runs under the server's own collector settings (:func:`vigil.runtime.collector_frozen`) and
reads thread CPU time, so a busy shared machine inflates it less than wall time would.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from datetime import UTC, datetime

from vigil.dashboard.feed import DecisionFeed
from vigil.runtime import collector_frozen
from vigil.schema.records import Decision, Transaction

N = 100_000


def main() -> None:
    txn = Transaction.from_mapping(
        {
            "txn_id": "t",
            "ts": "2026-01-05T10:00:00Z",
            "payer_id": "A1",
            "payee_id": "A2",
            "amount": 1000,
            "currency": "SGD",
            "channel": "card",
            "jurisdiction": "SG",
        }
    )
    decision = Decision(
        txn_id="t",
        decided_at=datetime.now(UTC),
        action="approve",
        score=0.01,
        reasons=[],
        jurisdiction="SG",
        rule_pack_version="x",
        model_bundle_version=None,
        degraded=False,
        latency_us={"total": 1},
        shadow_reasons=[],
    )
    txns = [dataclasses.replace(txn, txn_id=f"t{i}") for i in range(N)]
    runs = []
    with collector_frozen():
        for _ in range(5):
            publish = DecisionFeed().publish  # full after 20,000: evicting from then on
            started = time.thread_time_ns()
            for t in txns:
                publish(t, decision)
            runs.append((time.thread_time_ns() - started) / N)
    print(
        f"publish, no listener: CPU ns per decision over 5 runs of {N:,}: "
        f"{[round(r) for r in runs]}, median {statistics.median(runs):.0f}"
    )


if __name__ == "__main__":
    main()
