"""Detection quality of the engine against a LightGBM on the raw transaction fields only.

The reference is what a data scientist would ship first: one model on the payment as it
arrives (amount, channel, merchant category, hour, countries), no history, no state. Both are
trained on the same days and scored on the same later days, in one run.

    python bench/quality.py [--accounts 20000] [--days 30] [--train-days 23] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import datetime
from pathlib import Path

import lightgbm as lgb
import polars as pl
from rich.console import Console

from demo_world import add_world_options, build_trained_world, training_cut
from vigil.engine.replay import replay
from vigil.evaluation.metrics import compare, compute_metrics
from vigil.money import USD_CENTS_PER_MINOR

RAW_CATEGORICAL = ["channel", "mcc", "jurisdiction", "payer_country", "payee_country"]


def raw_fields(frame: pl.DataFrame) -> pl.DataFrame:
    """The payment as it arrives, numerically encoded; categories become LightGBM categories."""
    rate = pl.col("currency").replace_strict(USD_CENTS_PER_MINOR, return_dtype=pl.Float64)
    return frame.select(
        (pl.col("amount") * rate / 100).alias("amount_usd"),
        pl.col("ts").dt.hour().alias("hour"),
        pl.col("ts").dt.weekday().alias("weekday"),
        (pl.col("payer_country") != pl.col("payee_country")).cast(pl.Int8).alias("cross_border"),
        pl.col("device_id").is_null().cast(pl.Int8).alias("no_device"),
        *[pl.col(c).rank("dense").cast(pl.Int32).alias(c) for c in RAW_CATEGORICAL],
    )


def baseline_scores(data: Path, until: datetime) -> tuple[pl.DataFrame, float]:
    txns = pl.read_parquet(data / "transactions.parquet").sort("ts")
    x = raw_fields(txns)
    train = (txns.get_column("ts") < until).to_numpy()
    y = txns.get_column("is_fraud").to_numpy().astype(int)
    started = time.perf_counter()
    booster = lgb.train(
        {"objective": "binary", "learning_rate": 0.08, "num_leaves": 63, "verbose": -1, "seed": 7},
        lgb.Dataset(
            x.to_numpy()[train],
            y[train],
            feature_name=x.columns,
            categorical_feature=RAW_CATEGORICAL,
        ),
        num_boost_round=300,
    )
    seconds = time.perf_counter() - started
    scores = booster.predict(x.to_numpy()[~train])
    return txns.filter(~pl.Series(train)).select("txn_id").with_columns(
        score=pl.Series(scores)
    ), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_world_options(parser)
    parser.add_argument("--json", type=Path, help="also write both metric sets here")
    args = parser.parse_args()
    console = Console()
    until = training_cut(args)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        data, models, train_s = build_trained_world(root, args)
        run = root / "run"
        summary = replay(data, models, run, progress=False)
        engine = json.loads((run / "metrics.json").read_text())
        labels = pl.read_parquet(run / "labels.parquet")
        scores, baseline_s = baseline_scores(data, until)
        baseline = compute_metrics(scores, labels)
    console.print(
        f"world: {args.accounts:,} accounts, {args.days} days, seed {args.seed}; "
        f"trained on days < {args.train_days}, scored {summary.decided:,} later payments"
    )
    console.print(
        f"engine train {train_s:.1f} s (features + LightGBM); baseline LightGBM {baseline_s:.1f} s"
    )
    console.print(compare(engine, baseline, names=("vigil engine", "raw-fields LightGBM")))
    if args.json:
        args.json.write_text(
            json.dumps({"engine": engine, "baseline": baseline}, indent=2, default=str)
        )


if __name__ == "__main__":
    main()
