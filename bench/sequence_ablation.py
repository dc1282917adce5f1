"""The engine with and without the sequence layer, on a full world and on a sparse one.

For each world, two bundles are trained on the same days (`train_bundle(blocks=[])` and
`blocks=["sequence"]`), the held-out days are replayed through each engine, and the scorecards
are set side by side: AUPRC overall and recall at 1% FPR per fraud typology. The sparse world
is the same payments with only payer, payee, amount, currency and time: no device, IP, merchant
category or countries, one channel, no accounts table.

    python bench/sequence_ablation.py --data data/demo --until 2026-01-24
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import datetime
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.table import Table

from vigil.engine.replay import replay
from vigil.models.train import train_bundle
from vigil.schema.io import read_table

TYPOLOGIES = ("account_takeover", "card_testing", "first_party", "mule_ring", "synthetic_identity")
SPARSE_KEEP = ("txn_id", "ts", "payer_id", "payee_id", "amount", "currency", "jurisdiction")
LABELS = ("is_fraud", "typology", "label_ts")


def sparse_copy(data: Path, out: Path) -> Path:
    """The world's payments with the bare minimum of fields, and nothing else."""
    frame = read_table(data, "transactions")
    kept = [c for c in (*SPARSE_KEEP, *LABELS) if c in frame.columns]
    out.mkdir(parents=True, exist_ok=True)
    frame.select(kept).with_columns(channel=pl.lit("transfer")).write_parquet(
        out / "transactions.parquet"
    )
    return out


def scorecard(data: Path, root: Path, until: datetime, blocks: list[str]) -> dict:
    name = "+".join(blocks) or "core"
    models, run = root / f"models-{name}", root / f"run-{name}"
    began = time.perf_counter()
    train_bundle(data, models, until=until, progress=False, blocks=blocks, compile=False)
    trained = time.perf_counter() - began
    summary = replay(data, models, run, progress=False)
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["train_s"], metrics["replay_per_s"] = trained, summary.per_second
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/demo"))
    parser.add_argument("--until", default="2026-01-24")
    parser.add_argument("--worlds", default="full,sparse", help="which of: full, sparse")
    parser.add_argument("--json", type=Path, help="also write every scorecard here")
    args = parser.parse_args()
    until = datetime.fromisoformat(f"{args.until}T00:00:00+00:00")
    console = Console(width=200)
    cards: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        chosen = args.worlds.split(",")
        worlds = {"full": args.data, "sparse": root / "sparse"}
        worlds = {name: data for name, data in worlds.items() if name in chosen}
        if "sparse" in worlds:
            sparse_copy(args.data, worlds["sparse"])
        table = Table(title=f"Sequence layer ablation ({args.data}, held out from {args.until})")
        for column in ("world", "engine", "AUPRC", *TYPOLOGIES, "train s", "replay tx/s"):
            table.add_column(column, justify="right")
        for world, data in worlds.items():
            for blocks in ([], ["sequence"]):
                m = scorecard(data, root / world, until, blocks)
                cards[f"{world}/{'+'.join(blocks) or 'core'}"] = m
                per = m["per_typology"]
                table.add_row(
                    world,
                    "core + sequence" if blocks else "core",
                    f"{m['overall']['auprc']:.4f}",
                    *(
                        f"{per[t]['recall_at_1pct_fpr']:.1%} (n={per[t]['n']})" if t in per else "-"
                        for t in TYPOLOGIES
                    ),
                    f"{m['train_s']:.0f}",
                    f"{m['replay_per_s']:,.0f}",
                )
                console.print(f"done: {world} world, {'+'.join(blocks) or 'core'} engine")
        console.print(table)
        if args.json:
            args.json.write_text(json.dumps(cards, indent=2, default=str))
        console.print("recall: share of the typology's payments scored above the 1%-FPR threshold")


if __name__ == "__main__":
    main()
