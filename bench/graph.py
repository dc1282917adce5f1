"""Graph layer benchmarks: node classifiers compared on one split, and the cost of training and
of serving, on the demo graph and on a generated graph of a million nodes.

    python bench/graph.py models [--data data/demo]     # GeniePath vs GNN and LightGBM baselines
    python bench/graph.py timing [--data data/demo] [--nodes 1000000]
    python bench/graph.py live --bundle MODELS [--reference-bundle CORE] [--data DIR]

``models``: accounts labelled bad by what was known on day 14 train every model; validation (for
early stopping) is the accounts newly known bad by day 18, on the graph as of then; the test is
every account on the graph as of day 23 that was not known bad by day 18, labelled in hindsight
(bad accounts whose bad payments all come later are left out). All models see the same node
features, the same sampled trees (fan-out 10, 5, most recent neighbours) and the same class
weighting; LightGBM sees each account's own features and the means of its one- and two-hop
neighbours' (full neighbourhoods). Recall is read at 1% false-positive rate among test
accounts.

``timing``: on the demo graph, seconds per training epoch of GeniePath, and the block's per
payment cost (``process``, which includes the on-the-fly inference of accounts the fit never
saw) while the block replays the held-out week, with the on-the-fly inference's own p50/p99. On
the generated graph (accounts, devices, addresses; payees drawn by popularity; rings of four
accounts sharing a phone as the positives), the same: bulk build, training seconds per batch and
per epoch, and per-payment cost while the block streams the last payments in.

``live``: the held-out payments (from the bundle's training end) decided one at a time by
``Engine.decide``, as the API and the worker decide them, under the default budgets (graph
inference 2 ms a payment), labels fed back as they mature: how many decisions were degraded
and how many of those for want of graph values, the on-the-fly inferences and those left out,
and decision latency; the reference is a bundle without the graph block on the same payments.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import torch
from rich.console import Console
from rich.table import Table

from vigil.features.replay import sorted_transactions, transactions_of
from vigil.graph.account_features import account_nodes, bad_accounts
from vigil.graph.block import BlockConfig, GraphBlock
from vigil.graph.nn import MODEL_NAMES
from vigil.graph.store import GraphStore, NodeType, to_micros
from vigil.graph.train import (
    GraphData,
    Split,
    TrainConfig,
    fit,
    fit_lightgbm,
    hindsight_split,
    known_split,
    ranking_metrics,
    score,
    score_lightgbm,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
FRAUD_RUN = ("account_takeover", "mule_ring", "synthetic_identity")


def day(n: int) -> datetime:
    return START + timedelta(days=n)


# -- models -----------------------------------------------------------------------------------


def compare_models(args: argparse.Namespace, console: Console) -> dict:
    frame = sorted_transactions(args.data).filter(pl.col("ts") < day(args.test_day))
    store = GraphStore.from_transactions(frame)
    bad = bad_accounts(frame)
    t1, t2, t3 = day(args.train_day), day(args.valid_day), day(args.test_day)
    train = known_split(store, bad, t1)
    valid = known_split(store, bad, t2, since=t1)
    test = hindsight_split(store, bad, t3, since=t2)
    groups = _groups(store, bad, test)
    console.print(
        f"{store.num_nodes:,} nodes, {store.num_edges:,} edges; accounts (positives): "
        f"train {len(train.nodes):,} ({train.positives}), valid {len(valid.nodes):,} "
        f"({valid.positives}), test {len(test.nodes):,} ({test.positives}: "
        + ", ".join(f"{k} {int(v.sum())}" for k, v in groups.items())
        + ")"
    )
    data = GraphData(store, tuple(args.fanouts))
    rows = {}
    for name in args.models:
        config = TrainConfig(
            model=name,
            fanouts=tuple(args.fanouts),
            epochs=args.epochs,
            patience=args.patience,
            seed=args.seed,
        )
        began = time.perf_counter()
        result = fit(data, train, valid, config, progress=console.print if args.verbose else None)
        seconds = time.perf_counter() - began
        scores = score(data, result.model, test, config)
        rows[name] = _row(test, scores, groups) | {
            "seconds_per_epoch": result.seconds_per_epoch,
            "epochs": len(result.epochs),
            "best_epoch": result.best_epoch,
            "fit_s": seconds,
        }
        console.print(f"{name}: {rows[name]}")
    began = time.perf_counter()
    trees = fit_lightgbm(store, train, valid, seed=args.seed)
    scores = score_lightgbm(store, trees, test)
    rows["lightgbm_neighbour_agg"] = _row(test, scores, groups) | {
        "seconds_per_epoch": None,
        "epochs": trees.rounds,
        "best_epoch": trees.rounds,
        "fit_s": time.perf_counter() - began,
    }
    console.print(f"lightgbm: {rows['lightgbm_neighbour_agg']}")
    table = Table(title=f"Account classification on {args.data} (test: day {args.test_day})")
    for column in (
        "model",
        "AUPRC",
        "recall@1%FPR",
        "recall: fraud-run",
        "recall: laundering",
        "s/epoch",
        "epochs (best)",
        "fit s",
    ):
        table.add_column(column, justify="right")
    for name, r in rows.items():
        table.add_row(
            name,
            f"{r['auprc']:.4f}",
            f"{r['recall']:.1%}",
            f"{r['recall_fraud_run']:.1%}",
            f"{r['recall_laundering']:.1%}",
            "-" if r["seconds_per_epoch"] is None else f"{r['seconds_per_epoch']:.1f}",
            f"{r['epochs']} ({r['best_epoch']})",
            f"{r['fit_s']:.0f}",
        )
    console.print(table)
    return {
        "nodes": store.num_nodes,
        "edges": store.num_edges,
        "train": [len(train.nodes), train.positives],
        "valid": [len(valid.nodes), valid.positives],
        "test": [len(test.nodes), test.positives],
        "models": rows,
    }


def _groups(store: GraphStore, bad: pl.DataFrame, test: Split) -> dict[str, np.ndarray]:
    """Test positives split by the typology that first named them: accounts run for fraud
    (mules, collectors, synthetic identities) and laundering participants."""
    keys = store.keys()
    typology = dict(zip(bad.get_column("account_id"), bad.get_column("typology"), strict=True))
    kinds = np.array([typology.get(keys[n]) for n in test.nodes.tolist()], dtype=object)
    positive = test.labels > 0
    run = positive & np.isin(kinds, FRAUD_RUN)
    return {"fraud-run": run, "laundering": positive & ~run}


def _row(test: Split, scores: np.ndarray, groups: dict[str, np.ndarray]) -> dict:
    metrics = ranking_metrics(test.labels, scores)
    negatives = np.sort(scores[test.labels == 0])
    threshold = negatives[len(negatives) - int(0.01 * len(negatives)) - 1]
    out = {"auprc": metrics["auprc"], "recall": metrics["recall"]}
    for name, members in groups.items():
        key = "recall_" + name.replace("-", "_")
        out[key] = float((scores[members] > threshold).mean()) if members.any() else None
    return out


# -- timing -----------------------------------------------------------------------------------


def timing(args: argparse.Namespace, console: Console) -> dict:
    out = {"demo": demo_timing(args, console)} if args.demo else {}
    if args.nodes:
        out["generated"] = generated_timing(args, console)
    return out


def demo_timing(args: argparse.Namespace, console: Console) -> dict:
    """Fit the block on the demo's first 23 days, then replay the held-out week through it."""
    frame = sorted_transactions(args.data)
    cut = day(args.test_day)
    began = time.perf_counter()
    block = GraphBlock.fit(frame.filter(pl.col("ts") < cut), seed=args.seed)
    fit_s = time.perf_counter() - began
    walk_s, process_us = _stream(block, frame, to_micros(cut))
    result = {
        "nodes": block.store.num_nodes,
        "edges": block.store.num_edges,
        "fit_s": fit_s,
        "seconds_per_epoch": block.training["seconds_per_epoch"],
        "seeds_per_epoch": block.training["train_positives"]
        * (1 + block.config.train.negatives_per_positive),
        "epochs": len(block.training["epochs"]),
        "walk_s": walk_s,
        "process_us": _percentiles(process_us),
        "inference": block.latency(),
    }
    console.print(f"demo graph: {result}")
    return result


def _stream(block: GraphBlock, frame: pl.DataFrame, measure_from: int) -> tuple[float, np.ndarray]:
    """Every payment through ``block.process`` (labels released in time); per-payment wall
    times of those at or after ``measure_from``."""
    from vigil.features.replay import merged_stream
    from vigil.runtime import collector_paused

    times = []
    began = time.perf_counter()
    with collector_paused():
        for txn, label in merged_stream(frame):
            if txn is None:
                block.observe_label(*label)
                continue
            t = time.perf_counter_ns()
            block.process(txn)
            if to_micros(txn.ts) >= measure_from:
                times.append(time.perf_counter_ns() - t)
    return time.perf_counter() - began, np.asarray(times, dtype=np.float64) / 1_000


def _percentiles(values: np.ndarray) -> dict:
    return {
        "n": len(values),
        "p50": float(np.percentile(values, 50)),
        "p99": float(np.percentile(values, 99)),
        "mean": float(values.mean()),
    }


def live(args: argparse.Namespace, console: Console) -> dict:
    result = {"graph": _live(args.bundle, args.data)}
    if args.reference_bundle is not None:
        result["reference"] = _live(args.reference_bundle, args.data)
    table = Table(title=f"Live decisions on {args.data} (Engine.decide, default budgets)")
    counts = ("bundle", "decided", "degraded", "of which graph", "inferred", "left out")
    times = ("inference", "features", "total")
    for column in (*counts, *(f"{t} p50 / p99 µs" for t in times)):
        table.add_column(column, justify="right")
    for name, r in result.items():
        table.add_row(
            name,
            f"{r['decided']:,}",
            f"{r['degraded']:,}",
            f"{r['graph_degraded']:,}",
            f"{r['inferred']:,}",
            f"{r['left_out']:,}",
            *(
                f"{r[key]['p50']:.0f} / {r[key]['p99']:.0f}" if r[key] else "-"
                for key in (f"{t}_us" for t in times)
            ),
        )
    console.print(table)
    return result


def _live(bundle: Path, data: Path) -> dict:
    from vigil.engine.factory import load_engine
    from vigil.features.replay import label_events, merged_stream
    from vigil.runtime import collector_paused

    engine = load_engine(bundle, data)  # warm from the end-of-training state
    everything = sorted_transactions(data)
    until = engine.bundle.trained_until
    frame = everything.filter(pl.col("ts") >= until)
    # labels the training state had not yet seen: those at or after its last payment
    seen_until = everything.filter(pl.col("ts") < until).get_column("ts").max()
    pending = [e for e in label_events(everything) if e[0] >= seen_until]
    graph = [b for b in engine.features.blocks if b.kind == "graph"]
    decided = degraded = graph_degraded = 0
    features_us, total_us = [], []
    with collector_paused():
        for txn, label in merged_stream(frame, pending):
            if txn is None:
                engine.feedback(*label)
                continue
            decision = engine.decide(txn)
            decided += 1
            degraded += decision.degraded
            graph_degraded += engine.features.blocks_degraded
            features_us.append(decision.latency_us["features"])
            total_us.append(decision.latency_us["total"])
    inference = np.asarray(graph[0].inference_us, dtype=np.float64) if graph else np.empty(0)
    return {
        "decided": decided,
        "degraded": degraded,
        "graph_degraded": graph_degraded,
        "inferred": graph[0].inferred if graph else 0,
        "left_out": graph[0].skipped if graph else 0,
        "inference_us": _percentiles(inference) if len(inference) else None,
        "features_us": _percentiles(np.asarray(features_us, dtype=np.float64)),
        "total_us": _percentiles(np.asarray(total_us, dtype=np.float64)),
    }


def generated_payments(nodes: int, seed: int) -> pl.DataFrame:
    """A payment graph of ``nodes`` nodes (give or take the phones rings take over): 50%
    accounts, 30% devices, 20% addresses; each account pays 3 times on average over 30 days,
    to payees drawn by a Zipf popularity (merchants);
    1% of accounts sit in rings of four sharing one phone, their payments labelled fraud four
    days later."""
    rng = np.random.default_rng(seed)
    accounts, devices = nodes // 2, nodes * 3 // 10
    ips = nodes - accounts - devices
    payments = accounts * 3
    # every account pays at least once, so every account, device and address is a node
    payer = np.concatenate(
        [rng.permutation(accounts), rng.integers(0, accounts, payments - accounts)]
    )
    popularity = 1.0 / np.arange(1, accounts + 1) ** 1.1
    payee = rng.choice(accounts, payments, p=popularity / popularity.sum())
    own_device = rng.permutation(np.arange(accounts) % devices)
    own_ip = rng.permutation(np.arange(accounts) % ips)
    ring = rng.random(accounts) < 0.01
    ring_ids = np.flatnonzero(ring)
    # four per phone: each ring takes over the phone of its first member
    own_device[ring_ids] = own_device[ring_ids[np.arange(len(ring_ids)) // 4 * 4]]
    device = own_device[payer]
    ip = own_ip[payer]
    ts = np.sort(rng.integers(0, 30 * 86_400_000_000, payments))
    fraud = ring[payer]
    return pl.DataFrame(
        {
            "txn_id": pl.Series(np.arange(payments)).cast(pl.String),
            "ts": pl.Series(ts + to_micros(START)).cast(pl.Datetime("us", "UTC")),
            "payer_id": pl.Series(payer).cast(pl.String).str.replace(r"^", "A"),
            "payee_id": pl.Series(payee).cast(pl.String).str.replace(r"^", "A"),
            "amount": rng.integers(500, 50_000, payments),
            "currency": "SGD",
            "channel": "card",
            "jurisdiction": "SG",
            "mcc": "5411",  # payees are merchants: only the ring members are bad
            "device_id": pl.Series(device).cast(pl.String).str.replace(r"^", "D"),
            "ip": pl.Series(ip).cast(pl.String).str.replace(r"^", "I"),
            "is_fraud": fraud,
            "typology": np.where(fraud, "synthetic_identity", "legit"),
            "label_ts": pl.Series(ts + to_micros(START) + 4 * 86_400_000_000).cast(
                pl.Datetime("us", "UTC")
            ),
        }
    )


def generated_timing(args: argparse.Namespace, console: Console) -> dict:
    frame = generated_payments(args.nodes, args.seed)
    began = time.perf_counter()
    store = GraphStore.from_transactions(frame)
    build_s = time.perf_counter() - began
    began = time.perf_counter()
    adjacency = store.adjacency()
    snapshot_s = time.perf_counter() - began
    console.print(
        f"generated graph: {store.num_nodes:,} nodes, {store.num_edges:,} edges, "
        f"{frame.height:,} payments; bulk build {build_s:.1f} s, CSR snapshot {snapshot_s:.1f} s"
    )
    del adjacency
    cut = day(20)
    bad = bad_accounts(frame)
    train = known_split(store, bad, cut)
    config = TrainConfig(seed=args.seed)
    data = GraphData(store, config.fanouts)
    began = time.perf_counter()
    data.features(train.as_of)
    features_s = time.perf_counter() - began
    batches = args.batches
    positives = train.nodes[train.labels > 0]
    negatives = train.nodes[train.labels == 0]
    seeds_per_epoch = len(positives) * (1 + config.negatives_per_positive)
    sample = replace(config, epochs=1)
    rng = np.random.default_rng(args.seed)
    subset = np.concatenate(
        [
            rng.choice(positives, batches * config.batch_size // 21, replace=False),
            rng.choice(negatives, batches * config.batch_size * 20 // 21, replace=False),
        ]
    )
    small = Split(train.as_of, subset, np.isin(subset, positives).astype(np.float32))
    began = time.perf_counter()
    trained = fit(data, small, None, replace(sample, negatives_per_positive=0))
    batch_s = (time.perf_counter() - began) / batches
    epoch_s = batch_s * seeds_per_epoch / config.batch_size
    console.print(
        f"training: node features {features_s:.1f} s; {batch_s:.2f} s per batch of "
        f"{config.batch_size} seeds, so {epoch_s:.0f} s per epoch of {seeds_per_epoch:,} seeds"
    )
    # the block: scores precomputed for the accounts of the first 20 days, streamed over them,
    # timed over the next payments; then again with nothing precomputed (every account of
    # every payment inferred on the spot: the worst case)
    began = time.perf_counter()
    known = account_nodes(store, train.as_of)
    probabilities = score(data, trained.model, config=config, nodes=known, as_of=train.as_of)
    keys = store.keys()
    scores = {keys[n]: float(p) for n, p in zip(known.tolist(), probabilities, strict=True)}
    precompute_s = time.perf_counter() - began
    block_config = BlockConfig(train=config, embedding=None)
    weights = {k: v.detach().numpy() for k, v in trained.model.state_dict().items()}
    block = GraphBlock(block_config, weights, scores, fitted_at=to_micros(cut))
    head = frame.filter(pl.col("ts") < cut)
    began = time.perf_counter()
    for txn in transactions_of(head):
        block.process(txn)
    warm_s = time.perf_counter() - began
    tail = frame.filter(pl.col("ts") >= cut)
    _, process_us = _stream(block, tail.head(args.timed), 0)
    inference = block.latency()
    block.scores = {}
    block.inference_us.clear()
    block.inferred = 0
    _, worst_us = _stream(block, tail.slice(args.timed, args.timed), 0)
    result = {
        "nodes": store.num_nodes,
        "edges": store.num_edges,
        "payments": frame.height,
        "bulk_build_s": build_s,
        "snapshot_s": snapshot_s,
        "features_s": features_s,
        "seconds_per_batch": batch_s,
        "seconds_per_epoch": epoch_s,
        "seeds_per_epoch": seeds_per_epoch,
        "precompute_s": precompute_s,
        "stream_s_per_payment_us": warm_s / head.height * 1e6,
        "process_us": _percentiles(process_us),
        "inference": inference,
        "process_us_all_inferred": _percentiles(worst_us),
        "inference_all_inferred": block.latency(),
        "accounts_in_block": sum(1 for k in block.kinds if k == NodeType.ACCOUNT),
    }
    console.print(f"generated graph: {result}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("models", "timing", "live"))
    parser.add_argument("--data", type=Path, default=Path("data/demo"))
    parser.add_argument("--train-day", type=int, default=14)
    parser.add_argument("--valid-day", type=int, default=18)
    parser.add_argument("--test-day", type=int, default=23)
    parser.add_argument("--models", nargs="+", default=list(MODEL_NAMES))
    parser.add_argument("--fanouts", nargs="+", type=int, default=[10, 5])
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--patience", type=int, default=TrainConfig.patience)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nodes", type=int, default=1_000_000, help="0: skip the generated graph")
    parser.add_argument("--demo", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--batches", type=int, default=20, help="batches timed (generated)")
    parser.add_argument("--timed", type=int, default=50_000, help="payments timed (generated)")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--bundle", type=Path, help="live: a bundle with the graph block")
    parser.add_argument("--reference-bundle", type=Path, help="live: one without it")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    console = Console(width=150)
    what = {"models": compare_models, "timing": timing, "live": live}[args.what]
    result = what(args, console)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
