"""The engine with and without the graph block, on the demo world and on a world whose rings
only their structure gives away.

For each world two bundles are trained on the same days (``train_bundle(blocks=[])`` and
``blocks=["graph"]``), the held-out days are replayed through each engine, and the scorecards
are set side by side: AUPRC overall and recall at 1% FPR per typology.

    python bench/graph_ablation.py --world demo                      # data/demo, until 01-24
    python bench/graph_ablation.py --world hidden --accounts 20000   # the hidden-rings preset

**The hidden-rings world** (:func:`hidden_rings`) changes only knobs of
:class:`~vigil.world.config.WorldConfig`; the default world is untouched. On the demo world
the engine without graph already catches mule rings and account takeovers at ~100% recall at
1% FPR: brand-new, thinly verified accounts receiving large sums and cashing out within hours
are visible to per-account features. Here the same crews are harder to see one account at a
time, and tied together in the network:

* mule accounts look aged (opened 200-1,500 days before first use instead of days), receive
  amounts in the range of ordinary transfers (median $120 instead of $700; account takeover
  drains $200 instead of $900) and forward or cash out slowly (12-72 h instead of minutes to
  hours), keeping more of it (60-90% forwarded);
* account takeovers come mostly from ordinary local addresses at ordinary hours (10% proxies,
  10% at night instead of 50% and 40%);
* synthetic identities pass stronger checks (KYC 2-3), build 10-25 days of history, bust out
  on ordinary tickets (median $250) and mostly come from identity farms (80% share a phone);
* criminal networks reuse their accounts: at most 0.8% of persons are opened for fraud
  (``fraud_account_cap``, 5% by default), so mules, collectors and synthetic identities recur
  across incidents, linked through the phones of every ring they served;
* fraud is confirmed faster (labels after ~4-6 days instead of 5-25), so that what is known
  about a network by the time it strikes again is a fact of the window, not of the month
  after it; mule rings are a little more frequent (40 instead of 25 per 10,000 accounts-month);
* honest look-alikes are commoner: half of the persons hold KYC 0-1 (15% by default), 10%
  open during the window and 10% start dormant, 60% of whom wake up (3%, 4%, 30%), and
  friends send each other more (P2P median $60, sigma 1.1, instead of $30, 1.0).

The knobs were chosen from the typology descriptions and checked on other seeds and sizes
(seed 11 at 5,000 and 8,000 accounts) than the one reported, never on its held-out days.
Per-typology recall is also read at 0.1% FPR, where it is not saturated.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from rich.console import Console
from rich.table import Table

from vigil.engine.replay import replay
from vigil.models.bundle import ModelBundle
from vigil.models.train import train_bundle
from vigil.world.config import (
    AccountTakeover,
    LabelDelay,
    MuleRing,
    SyntheticIdentity,
    WorldConfig,
)
from vigil.world.simulate import simulate_world

TYPOLOGIES = (
    "mule_ring",
    "account_takeover",
    "synthetic_identity",
    "card_testing",
    "first_party",
)
START = datetime(2026, 1, 1, tzinfo=UTC)
#: the stricter operating point also reported, where per-typology recall is not yet saturated
STRICT_FPR = 0.001


def hidden_rings() -> WorldConfig:
    """The hidden-rings preset (module docstring): rings visible through structure only."""
    base = WorldConfig()
    return replace(
        base,
        population=replace(
            base.population,
            fraud_account_cap=0.008,
            kyc_weights=(0.2, 0.3, 0.3, 0.2),
            new_account_share=0.10,
            dormant_share=0.10,
            dormant_wake_share=0.6,
        ),
        legit=replace(base.legit, p2p_median_usd=60.0, p2p_sigma=1.1),
        mule_ring=replace(
            MuleRing(),
            incidents_per_10k_month=40.0,
            account_age_days=(200.0, 1_500.0),
            payment_median_usd=120.0,
            payment_sigma=0.5,
            span_days=6.0,
            forward_share=(0.6, 0.9),
            forward_hours=(12.0, 72.0),
            cash_out_hours=(12.0, 72.0),
            label=LabelDelay(5.0),
        ),
        account_takeover=replace(
            AccountTakeover(),
            drain_median_usd=200.0,
            mule_age_days=(200.0, 1_500.0),
            cash_out_hours=(12.0, 72.0),
            proxy_share=0.1,
            night_share=0.1,
            label=LabelDelay(4.0),
        ),
        synthetic_identity=replace(
            SyntheticIdentity(),
            history_days=(10.0, 25.0),
            bust_median_usd=250.0,
            kyc=(2, 3),
            shared_device_share=0.8,
            label=LabelDelay(6.0),
        ),
    )


def scorecard(data: Path, root: Path, until: datetime, blocks: list[str], seed: int) -> dict:
    name = "+".join(blocks) or "core"
    models, run = root / f"models-{name}", root / f"run-{name}"
    began = time.perf_counter()
    train_bundle(data, models, until=until, progress=False, blocks=blocks, compile=False, seed=seed)
    trained = time.perf_counter() - began
    summary = replay(data, models, run, progress=False)
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["train_s"], metrics["replay_per_s"] = trained, summary.per_second
    metrics["strict"] = recall_at(run, STRICT_FPR)
    metrics["graph"] = _graph_details(models) if blocks else None
    return metrics


def recall_at(run: Path, fpr: float) -> dict:
    """Recall per typology (and of all fraud) at a stricter false-positive rate than the
    scorecard's 1%, read the scorecard's way: scores strictly above the threshold that lets
    ``fpr`` of the legitimate payments through."""
    scored = pl.read_parquet(run / "decisions.parquet").join(
        pl.read_parquet(run / "labels.parquet"), on="txn_id"
    )
    negatives = np.sort(scored.filter(~pl.col("is_fraud")).get_column("score").to_numpy())
    threshold = negatives[len(negatives) - int(fpr * len(negatives)) - 1]
    caught = scored.with_columns(caught=pl.col("score") > threshold).filter(pl.col("is_fraud"))
    out = {"all": float(caught.get_column("caught").mean())}
    for name, group in caught.group_by("typology"):
        out[name[0]] = float(group.get_column("caught").mean())
    return out


def _graph_details(models: Path) -> dict:
    """What the graph block learnt and how much the GBDT leaned on it."""
    bundle = ModelBundle.load(models)
    gains = dict(
        zip(
            bundle.booster.feature_name(),
            bundle.booster.feature_importance("gain").tolist(),
            strict=True,
        )
    )
    total = sum(gains.values()) or 1.0
    graph = {k: v / total for k, v in gains.items() if k.startswith("graph_")}
    manifest = json.loads((models / "blocks" / "graph" / "config.json").read_text())
    training = manifest["training"]
    return {
        "gain_share": sum(graph.values()),
        "top_features": sorted(graph.items(), key=lambda kv: -kv[1])[:8],
        "block_valid": training.get("valid"),
        "block_train_positives": training.get("train_positives"),
        "block_seconds_per_epoch": training.get("seconds_per_epoch"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", choices=("demo", "hidden"), default="demo")
    parser.add_argument("--data", type=Path, default=Path("data/demo"), help="the demo world")
    parser.add_argument("--until", default="2026-01-24", help="training ends (demo world)")
    parser.add_argument("--accounts", type=int, default=20_000, help="hidden world size")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--train-days", type=int, default=23)
    parser.add_argument("--seed", type=int, default=7, help="hidden world seed")
    parser.add_argument("--json", type=Path, help="also write both scorecards here")
    parser.add_argument("--keep", type=Path, help="keep worlds, bundles and runs here")
    args = parser.parse_args()
    console = Console()
    scratch = Path(tempfile.mkdtemp()) if args.keep is None else args.keep
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        if args.world == "demo":
            data = args.data
            until = datetime.fromisoformat(f"{args.until}T00:00:00+00:00")
            title = f"demo world ({data}), held out from {args.until}"
        else:
            data = scratch / "world"
            if not (data / "transactions.parquet").exists():
                simulate_world(
                    data,
                    accounts=args.accounts,
                    days=args.days,
                    seed=args.seed,
                    config=hidden_rings(),
                    progress=False,
                    start=START,
                )
            until = START + timedelta(days=args.train_days)
            title = (
                f"hidden-rings world ({args.accounts:,} accounts, {args.days} days, "
                f"seed {args.seed}), held out from day {args.train_days}"
            )
        cards = {}
        for blocks in ([], ["graph"]):
            cards["+".join(blocks) or "core"] = scorecard(data, scratch, until, blocks, 0)
            console.print(f"done: {'core + graph' if blocks else 'core'}")
        table = Table(title=f"Graph layer ablation: {title}")
        for column in ("engine", "AUPRC", *TYPOLOGIES, "train s", "replay tx/s"):
            table.add_column(column, justify="right")
        for name, m in cards.items():
            per = m["per_typology"]
            table.add_row(
                "core + graph" if name == "graph" else "core",
                f"{m['overall']['auprc']:.4f}",
                *(
                    f"{per[t]['recall_at_1pct_fpr']:.1%} (n={per[t]['n']})" if t in per else "-"
                    for t in TYPOLOGIES
                ),
                f"{m['train_s']:.0f}",
                f"{m['replay_per_s']:,.0f}",
            )
        console.print(table)
        console.print("recall: share of the typology's payments scored above the 1%-FPR threshold")
        strict = Table(title=f"Recall at {STRICT_FPR:.1%} FPR")
        for column in ("engine", "all fraud", *TYPOLOGIES):
            strict.add_column(column, justify="right")
        for name, m in cards.items():
            r = m["strict"]
            strict.add_row(
                "core + graph" if name == "graph" else "core",
                f"{r['all']:.1%}",
                *(f"{r[t]:.1%}" if t in r else "-" for t in TYPOLOGIES),
            )
        console.print(strict)
        details = cards["graph"]["graph"]
        console.print(
            f"graph features' share of the GBDT's gain: {details['gain_share']:.1%}; top: "
            + ", ".join(f"{k} {v:.1%}" for k, v in details["top_features"])
        )
        console.print(
            f"block GeniePath: {details['block_train_positives']} positive accounts at fit, "
            f"validation {details['block_valid']}, "
            f"{details['block_seconds_per_epoch']:.1f} s per epoch"
        )
        if args.json:
            args.json.write_text(json.dumps(cards, indent=2, default=_plain))
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


if __name__ == "__main__":
    main()
