"""Per-payment cost of the sequence layer, against re-encoding each account's recent history.

One run, one machine: the block is fitted on the days before the cut (or loaded with
``--models``), its state is warmed on those days, and then every later payment is timed
through ``SequenceBlock.process`` (state update of payer and payee, both scores, the payer's
embedding) with the garbage collector frozen as in serving. The reference is what a design
without per-account state pays: the torch GRU over the payer's last ``--history`` events
(inputs already prepared, which favours it) for each of ``--reference`` payments. Also printed:
fit time, memory per account state (tracemalloc over a restore), and the fraud head's AUPRC on
the later days, overall and per typology.

    python bench/sequence.py [--accounts 20000] [--days 30] [--train-days 23] [--seed 7]
                             [--data DIR] [--models DIR] [--history 50] [--reference 2000]
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
import tracemalloc
from collections import deque
from pathlib import Path

import numpy as np
import polars as pl
import torch
from rich.console import Console
from rich.table import Table
from sklearn.metrics import average_precision_score

from demo_world import add_world_options, training_cut
from vigil.features.replay import sorted_transactions, transactions_of
from vigil.runtime import collector_frozen, collector_paused
from vigil.sequence import SequenceBlock
from vigil.sequence.inputs import AccountState
from vigil.sequence.model import OUTGOING
from vigil.world.simulate import simulate_world

TYPOLOGIES = ("account_takeover", "card_testing", "first_party")


def timed_process(block: SequenceBlock, frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each row's values and the wall time of its ``process`` call in µs."""
    values = np.empty((frame.height, len(block.names)))
    times = np.empty(frame.height)
    with collector_frozen():
        for i, txn in enumerate(transactions_of(frame)):
            started = time.perf_counter_ns()
            values[i] = block.process(txn)
            times[i] = time.perf_counter_ns() - started
    return values, times / 1_000


def reference_times(
    block: SequenceBlock, history: pl.DataFrame, live: pl.DataFrame, events: int
) -> np.ndarray:
    """µs per payment to score it by running the GRU over the payer's last ``events`` events."""
    payers = set(live.get_column("payer_id").to_list())
    inputs, states = block.inputs, {}
    recent: dict[str, deque] = {p: deque(maxlen=events) for p in payers}

    def record(account: str, txn, incoming: bool) -> tuple[list[float], int]:
        state = states.setdefault(account, AccountState())
        x, bucket = inputs.step(state, txn, incoming)
        if account in recent:
            recent[account].append((x, bucket))
        return x, bucket

    with collector_paused():
        for txn in transactions_of(history):
            record(txn.payer_id, txn, False)
            record(txn.payee_id, txn, True)
    model, times = block.model, []
    with torch.no_grad():
        for txn in transactions_of(live):
            record(txn.payer_id, txn, False)
            started = time.perf_counter_ns()
            past = recent[txn.payer_id]
            x = torch.tensor([[e[0] for e in past]], dtype=torch.float32)
            buckets = torch.tensor([[e[1] for e in past]])
            states_after = model(x, buckets, model.h0.unsqueeze(0))
            float(torch.sigmoid(model.head(states_after[0, -1])[OUTGOING]))
            times.append(time.perf_counter_ns() - started)
            record(txn.payee_id, txn, True)
    return np.asarray(times) / 1_000


def bytes_per_account(block: SequenceBlock, folder: Path) -> float:
    """Traced memory of the restored states over their number."""
    block.snapshot(folder / "states")
    fresh = SequenceBlock.load(folder / "model")
    gc.collect()
    tracemalloc.start()
    fresh.restore(folder / "states")
    gc.collect()
    used = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return used / len(fresh.states)


def quality(values: np.ndarray, frame: pl.DataFrame, names: tuple[str, ...]) -> dict[str, float]:
    fraud = frame.get_column("is_fraud").to_numpy().astype(bool)
    typology = frame.get_column("typology").to_numpy()
    score = values[:, names.index("seq_score")]
    out = {"all": average_precision_score(fraud, score)}
    for name in TYPOLOGIES:
        keep = (typology == "legit") | (typology == name)
        if (typology == name).any():
            out[name] = average_precision_score(fraud[keep], score[keep])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_world_options(parser)
    parser.add_argument("--data", type=Path, help="an existing world (default: simulate one)")
    parser.add_argument("--models", type=Path, help="a saved sequence block (default: fit one)")
    parser.add_argument("--history", type=int, default=50)
    parser.add_argument("--reference", type=int, default=2_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    console = Console()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        data = args.data
        if data is None:
            data = root / "world"
            simulate_world(
                data, accounts=args.accounts, days=args.days, seed=args.seed, progress=False
            )
        frame = sorted_transactions(data)
        cut = training_cut(args)
        history = frame.filter(pl.col("ts") < cut)
        live = frame.filter(pl.col("ts") >= cut)
        fit_s = float("nan")
        if args.models is not None:
            block = SequenceBlock.load(args.models)
        else:
            started = time.perf_counter()
            block = SequenceBlock.fit(history, seed=args.seed, progress=True)
            fit_s = time.perf_counter() - started
        block.save(root / "model")
        block = SequenceBlock.load(root / "model")
        started = time.perf_counter()
        with collector_paused():
            for txn in transactions_of(history):
                block.process(txn)
        warm_s = time.perf_counter() - started
        values, times = timed_process(block, live)
        reference = reference_times(block, history, live.head(args.reference), args.history)
        per_account = bytes_per_account(block, root)
        scores = quality(values, live, block.names)

    table = Table(title=f"sequence layer, {len(block.states):,} accounts (µs per payment)")
    for column in ("", "payments", "p50", "p99", "p99.9", "mean"):
        table.add_column(column, justify="right")
    for label, t in (
        ("SequenceBlock.process", times),
        (f"reference: GRU over last {args.history} events", reference),
    ):
        p50, p99, p999 = np.percentile(t, [50, 99, 99.9])
        table.add_row(
            label, f"{len(t):,}", f"{p50:.1f}", f"{p99:.1f}", f"{p999:.1f}", f"{t.mean():.1f}"
        )
    console.print(table)
    console.print(
        f"fit {fit_s:.0f} s on {history.height:,} payments; warm-up "
        f"{history.height / warm_s:,.0f} payments/s; state {per_account:,.0f} bytes per account "
        f"(hidden {block.config.hidden}); fingerprint {block.fingerprint}"
    )
    console.print(
        "fraud head AUPRC on the later days: "
        + ", ".join(f"{k} {v:.3f}" for k, v in scores.items())
    )


if __name__ == "__main__":
    main()
