"""SME credit: out-of-time quality, the network's lift, training time at scale, scoring latency.

Three runs, each writing JSON (and the demo run a calibration plot) into ``--out``:

``demo``
    The demo world (``data/demo``, not regenerated): train on loans issued between day
    ``--warmup`` (90) and day ``--train-days`` (250) of the trade history, score every later
    loan at its own ``issued_at``. LightGBM on firm-only features, LightGBM on firm + network
    features, and GeniePath on the trade neighbourhood: AUC, KS, Brier, mean PD against the
    default rate, and a paired bootstrap of the network's AUC lift.

``worlds``
    The same split on generated worlds (``build_sme`` with ``--firms`` firms, one world per
    ``--seeds``), where tens of times more defaults make the lift measurable.

``scale``
    ``build_sme`` with 230,000 firms (the issue's "thousandth of Ant's SME network"): wall time
    of each training stage on the same split, the out-of-time AUCs, then scoring latency per
    applicant (by id, and by record with its own invoices) after the network snapshot is warm.

    python bench/credit.py demo   [--data data/demo] [--out runs/credit] [--gnn-epochs 40]
    python bench/credit.py worlds [--firms 20000] [--seeds 3 4 5] [--out runs/credit]
    python bench/credit.py scale  [--firms 230000] [--seed 5] [--applicants 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import torch
from rich.console import Console
from rich.table import Table
from sklearn.metrics import roc_auc_score

from vigil.credit.features import CreditHistory, loan_applicants, loan_features
from vigil.credit.gnn import train_geniepath
from vigil.credit.network import build_snapshot, snapshot_time
from vigil.credit.scoring import CreditScorer, Loan
from vigil.credit.train import TrainConfig, evaluate, fit, training_loans
from vigil.runtime import collector_frozen
from vigil.schema.io import read_table
from vigil.world.sme import build_sme

console = Console()
NO_ACCOUNTS = pl.DataFrame(
    schema={
        "account_id": pl.String,
        "kind": pl.String,
        "name": pl.String,
        "country": pl.String,
        "created_at": pl.Datetime("us", "UTC"),
        "sector": pl.String,
    }
)
WORLD_START = datetime(2024, 1, 1, tzinfo=UTC)


# --- one out-of-time split ------------------------------------------------------------------


def split(history: CreditHistory, loans: pl.DataFrame, warmup: int, train_days: int):
    """Training loans (days ``warmup``-``train_days`` of the trade history) and test loans
    (issued from day ``train_days`` on), in issue order, and the cut."""
    first = history.trade.times[0] // 1_000_000
    cut = datetime.fromtimestamp(int(first), UTC) + timedelta(days=train_days)
    config = TrainConfig(until=cut, warmup_days=warmup)
    train = training_loans(history, loans, config)
    test = loans.filter(pl.col("issued_at") >= cut).sort("issued_at", "loan_id")
    return train, test, cut


def out_of_time(
    history: CreditHistory,
    loans: pl.DataFrame,
    warmup: int,
    train_days: int,
    gnn_epochs: int = 0,
    boot: int = 1_000,
) -> dict:
    """Firm-only and firm + network LightGBM (and GeniePath if ``gnn_epochs``) on one split."""
    clock = time.perf_counter()
    train, test, cut = split(history, loans, warmup, train_days)
    features_train, features_test = loan_features(history, train), loan_features(history, test)
    seconds = {"features": time.perf_counter() - clock}
    labels = test["defaulted"].to_numpy()
    result: dict = {
        "cut": cut.isoformat(),
        "train_loans": train.height,
        "train_defaults": int(train["defaulted"].sum()),
        "test_loans": test.height,
        "test_defaults": int(labels.sum()),
        "models": {},
    }
    predictions = {}
    variants = {
        "firm": TrainConfig(until=cut, groups=("firm",)),
        "firm+network": TrainConfig(until=cut),
        # The ablation: direct partner features only, no propagated risk, no embedding.
        "firm+network w/o PPR, embedding": TrainConfig(
            until=cut, exclude=("network_risk", "network_affinity")
        ),
    }
    for name, config in variants.items():
        clock = time.perf_counter()
        model = fit(history, train, config, features_train)
        seconds[f"fit {name}"] = time.perf_counter() - clock
        pd, _, _ = CreditScorer(model, history).assess(features_test)
        predictions[name] = pd
        result["models"][name] = evaluate(labels, pd) | {"trees": model.metrics["trees"]}
    if gnn_epochs:
        clock = time.perf_counter()
        a_train, a_test = loan_applicants(history, train), loan_applicants(history, test)
        gnn = train_geniepath(
            history,
            a_train,
            history.trade.pairs(a_train.firm, a_train.as_of),
            features_train,
            train["defaulted"].to_numpy(),
            epochs=gnn_epochs,
        )
        pd = gnn.pd(history, a_test, history.trade.pairs(a_test.firm, a_test.as_of), features_test)
        seconds["fit geniepath"] = time.perf_counter() - clock
        predictions["geniepath"] = pd
        result["models"]["geniepath"] = evaluate(labels, pd)
    result["lift"] = _lift(labels, predictions["firm"], predictions["firm+network"], boot)
    result["seconds"] = {k: round(v, 2) for k, v in seconds.items()}
    result["_predictions"] = predictions
    result["_labels"] = labels
    return result


def _lift(labels: np.ndarray, firm: np.ndarray, network: np.ndarray, boot: int) -> dict:
    """AUC(firm + network) - AUC(firm), with a paired bootstrap over test loans."""
    rng = np.random.default_rng(0)
    point = roc_auc_score(labels, network) - roc_auc_score(labels, firm)
    draws = []
    for _ in range(boot):
        i = rng.integers(0, len(labels), len(labels))
        if 0 < labels[i].sum() < len(i):
            draws.append(roc_auc_score(labels[i], network[i]) - roc_auc_score(labels[i], firm[i]))
    lo, hi = np.percentile(draws, [5, 95])
    return {
        "auc_lift": point,
        "ci90": [lo, hi],
        "share_above_0.03": float(np.mean(np.array(draws) >= 0.03)),
    }


def calibration_plot(labels: np.ndarray, predictions: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = 5 if labels.sum() < 100 else 10
    fig, ax = plt.subplots(figsize=(5.2, 4.0), dpi=100)
    top = 0.0
    for (name, pd), marker in zip(predictions.items(), "os^", strict=False):
        edges = np.quantile(pd, np.linspace(0, 1, bins + 1))
        which = np.clip(np.searchsorted(edges, pd, side="right") - 1, 0, bins - 1)
        mean = np.array([pd[which == b].mean() for b in range(bins)])
        rate = np.array([labels[which == b].mean() for b in range(bins)])
        n = np.array([(which == b).sum() for b in range(bins)])
        error = np.sqrt(rate * (1 - rate) / np.maximum(n, 1))
        ax.errorbar(mean, rate, yerr=error, marker=marker, capsize=3, label=name, alpha=0.8)
        top = max(top, mean.max(), (rate + error).max())
    ax.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=1, label="perfect")
    ax.set_xlabel("predicted PD (mean per quantile bin)")
    ax.set_ylabel("observed default rate (±1 s.e.)")
    ax.set_title("Out-of-time calibration, demo world")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _table(title: str, result: dict) -> Table:
    table = Table("model", "AUC", "KS", "Brier", "mean PD", "default rate", title=title)
    for name, m in result["models"].items():
        table.add_row(
            name,
            f"{m['auc']:.3f}",
            f"{m['ks']:.3f}",
            f"{m['brier']:.4f}",
            f"{m['mean_pd']:.2%}",
            f"{m['default_rate']:.2%}",
        )
    return table


def _public(result: dict) -> dict:
    return {k: v for k, v in result.items() if not k.startswith("_")}


# --- runs -----------------------------------------------------------------------------------


def run_demo(args: argparse.Namespace) -> dict:
    tables = [read_table(args.data, n) for n in ("businesses", "trade", "loans")]
    history = CreditHistory(*tables)  # type: ignore[arg-type]
    result = out_of_time(history, tables[2], args.warmup, args.train_days, args.gnn_epochs)  # type: ignore[arg-type]
    console.print(_table(f"demo world, out of time from {result['cut'][:10]}", result))
    path = args.out / "credit-calibration.png"
    shown = {k: v for k, v in result["_predictions"].items() if "w/o" not in k}
    calibration_plot(result["_labels"], shown, path)
    console.print(f"calibration plot -> {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return _public(result)


def run_worlds(args: argparse.Namespace) -> dict:
    out = {}
    for seed in args.seeds:
        clock = time.perf_counter()
        world = build_sme(
            np.random.default_rng(seed), NO_ACCOUNTS, WORLD_START, 30, n_businesses=args.firms
        )
        history = CreditHistory(world["businesses"], world["trade"], world["loans"])
        result = out_of_time(history, world["loans"], args.warmup, args.train_days, args.gnn_epochs)
        result["seconds"]["total"] = round(time.perf_counter() - clock, 1)
        console.print(_table(f"{args.firms:,} firms, seed {seed}", result))
        out[str(seed)] = _public(result)
    return out


def run_scale(args: argparse.Namespace) -> dict:
    clock = time.perf_counter()
    world = build_sme(
        np.random.default_rng(args.seed), NO_ACCOUNTS, WORLD_START, 30, n_businesses=args.firms
    )
    built = time.perf_counter() - clock
    sizes = {k: v.height for k, v in world.items()}
    console.print(f"world: {sizes} in {built:.1f} s")

    clock = time.perf_counter()
    history = CreditHistory(world["businesses"], world["trade"], world["loans"])
    indexed = time.perf_counter() - clock
    train, test, cut = split(history, world["loans"], args.warmup, args.train_days)
    clock = time.perf_counter()
    features = loan_features(history, train)
    featured = time.perf_counter() - clock
    clock = time.perf_counter()
    model = fit(history, train, TrainConfig(until=cut), features)
    fitted = time.perf_counter() - clock
    clock = time.perf_counter()
    firm_only = fit(history, train, TrainConfig(until=cut, groups=("firm",)), features)
    fitted_firm = time.perf_counter() - clock
    scorer = CreditScorer(model, history)
    test_features = loan_features(history, test)
    labels = test["defaulted"].to_numpy()
    quality = {
        "firm+network": evaluate(labels, scorer.assess(test_features)[0]),
        "firm": evaluate(labels, CreditScorer(firm_only, history).assess(test_features)[0]),
    }
    training = {
        "index (trade, loans)": indexed,
        "features (incl. network snapshots)": featured,
        "LightGBM + calibration": fitted,
    }
    training["total"] = sum(training.values())
    console.print(
        f"training on {train.height:,} loans ({int(train['defaulted'].sum()):,} defaults): "
        + ", ".join(f"{k} {v:.1f} s" for k, v in training.items())
        + f"; firm-only fit {fitted_firm:.1f} s"
    )
    console.print(
        f"out of time ({test.height:,} loans): AUC firm {quality['firm']['auc']:.3f} -> "
        f"firm + network {quality['firm+network']['auc']:.3f}"
    )

    # Latency per applicant, after the snapshot the scorer reads is built (once per
    # snapshot_days in production: a background refresh, not a request's cost).
    firms = world["businesses"]["business_id"].sample(args.applicants, seed=1).to_list()
    clock = time.perf_counter()
    latest = snapshot_time(history.end_us, history.params)
    build_snapshot(history.trade, history.firms.default_time, latest, history.params)
    warm = time.perf_counter() - clock
    scorer.score_business(firms[0])
    loan = Loan(10_000_000, "SGD", 180)
    by_id = _latencies(lambda f: scorer.score_business(f, loan=loan), firms)
    trade = world["trade"]
    businesses = world["businesses"]
    records = []
    for f in firms[: args.applicants // 4]:
        own = trade.filter((pl.col("supplier_id") == f) | (pl.col("buyer_id") == f))
        records.append((businesses.filter(pl.col("business_id") == f).row(0, named=True), own))
    by_record = _latencies(lambda r: scorer.score_record(r[0], r[1], loan), records)
    console.print(
        f"scoring: a network snapshot builds in {warm:.2f} s; by id p50 {by_id['p50_ms']:.2f} "
        f"ms, p99 {by_id['p99_ms']:.2f} ms; by record p50 {by_record['p50_ms']:.2f} ms, "
        f"p99 {by_record['p99_ms']:.2f} ms"
    )
    return {
        "firms": args.firms,
        "tables": sizes,
        "build_world_s": built,
        "train_loans": train.height,
        "train_defaults": int(train["defaulted"].sum()),
        "training_s": training,
        "firm_only_fit_s": fitted_firm,
        "trees": model.metrics["trees"],
        "out_of_time": quality,
        "scoring": {"snapshot_build_s": warm, "by_id": by_id, "by_record": by_record},
        "load_average": os.getloadavg(),
    }


def _latencies(call, items) -> dict:
    times = []
    with collector_frozen():
        for item in items:
            clock = time.perf_counter_ns()
            call(item)
            times.append((time.perf_counter_ns() - clock) / 1e6)
    ms = np.array(times)
    return {
        "n": len(ms),
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", choices=("demo", "worlds", "scale"))
    parser.add_argument("--out", type=Path, default=Path("runs/credit"))
    parser.add_argument("--data", type=Path, default=Path("data/demo"))
    parser.add_argument("--warmup", type=int, default=90)
    parser.add_argument("--train-days", type=int, default=250)
    parser.add_argument("--gnn-epochs", type=int, default=40)
    parser.add_argument("--firms", type=int, default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 4, 5])
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--applicants", type=int, default=2_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.run == "demo":
        result = run_demo(args)
    elif args.run == "worlds":
        args.firms = args.firms or 20_000
        result = run_worlds(args)
    else:
        args.firms = args.firms or 230_000
        result = run_scale(args)
    result = {"run": args.run, "at": datetime.now(UTC).isoformat(), "result": result}
    path = args.out / f"{args.run}.json"
    path.write_text(json.dumps(result, indent=2, default=float) + "\n")
    console.print(f"-> {path}")


if __name__ == "__main__":
    main()
