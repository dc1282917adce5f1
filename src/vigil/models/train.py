"""`vigil train`: replay history through the online feature code, then fit the model layers.

The training matrix is built by :func:`vigil.features.replay.compute_features`, the same code
that serves, so there is no training/serving skew. Targets are the labels in the data (known in
hindsight); features only ever see labels that had matured at the time of each event.

Learnt feature blocks (sequence encoder, graph layer) are stacked under the GBDT: each block is
fitted on the first ``block_share`` of the training span, then the whole span is replayed with
the blocks in the feature path. On the rows the blocks were fitted on their outputs are
in-sample, better than they will ever be live, so the GBDT sees them as missing there and learns
how far to trust each block only from the later, out-of-sample rows; the earlier rows still
teach it every other feature.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
from rich.console import Console

from vigil.engine.graph_signals import signal_rates
from vigil.features.blocks import FeatureBlock, block_class
from vigil.features.extras import ExtraFeatures
from vigil.features.replay import compute_features, sorted_transactions, world_features
from vigil.features.spec import CATEGORICAL_FEATURES
from vigil.models.bundle import ModelBundle, fingerprint_files
from vigil.models.gbdt import train_gbdt
from vigil.schema.io import find_table
from vigil.schema.mapping import ExtraColumns


def train_bundle(
    data_dir: Path,
    out: Path,
    until: datetime | None = None,
    progress: bool = True,
    console: Console | None = None,
    blocks: Sequence[str] = (),
    block_share: float = 0.5,
    seed: int = 0,
    compile: bool = True,
    extra_columns: ExtraColumns | None = None,
) -> ModelBundle:
    """Train on events before ``until`` (all events when None) and write a bundle to ``out``.

    ``blocks`` names the learnt feature blocks to stack under the GBDT (``sequence``, ``graph``);
    ``compile`` adds the booster compiled to machine code for fast scoring. Columns beyond the
    contract become features as ``extra_columns`` (a mapping's ``features`` section) says, by
    default every one whose kind can be inferred; the manifest records which and how.
    """
    console = console or Console(quiet=not progress)
    frame = sorted_transactions(data_dir)
    if until is not None:
        frame = frame.filter(pl.col("ts") < until)
    if frame.height == 0:
        raise ValueError(f"{data_dir}: no transactions before {until}")
    if "is_fraud" not in frame.columns or frame.get_column("is_fraud").null_count() == frame.height:
        raise ValueError(f"{data_dir}: transactions carry no is_fraud labels; training needs them")
    labelled = frame.get_column("is_fraud").is_not_null()
    extras = ExtraFeatures.fit(frame, selection=extra_columns)
    stacked = [extras] if extras.names else []  # not learnt from labels: never masked below
    fitted, fitted_until = _fit_blocks(frame, blocks, block_share, seed, progress, console)
    features = world_features(data_dir, blocks=[*stacked, *fitted])
    console.print(f"replaying {frame.height:,} transactions through the online feature code")
    matrix = compute_features(frame, features, progress=progress, description="features")
    keep = labelled.to_numpy()
    labels = frame.get_column("is_fraud").fill_null(False).to_numpy().astype(np.int8)
    signals = {}
    if fitted:
        in_sample = (frame.get_column("ts") < fitted_until).to_numpy()
        first = len(features.spec.names()) + len(extras.names) * bool(stacked)
        matrix[np.ix_(in_sample, np.arange(first, matrix.shape[1]))] = np.nan
        later = keep & ~in_sample
        signals = signal_rates(features.names, matrix[later], labels[later])
    console.print(
        f"training LightGBM on {int(keep.sum()):,} labelled rows, {features.names.__len__()} features"
    )
    categorical = [*CATEGORICAL_FEATURES, *extras.categorical]
    model = train_gbdt(matrix[keep], labels[keep], features.names, categorical)
    sources = [
        p for t in ("transactions", "accounts") if (p := find_table(data_dir, t)) is not None
    ]
    bundle = ModelBundle(
        booster=model.booster,
        calibrator=model.calibrator,
        features=features.names,
        categorical=[c for c in categorical if c in features.names],
        spec_fingerprint=features.fingerprint,
        data_fingerprint=fingerprint_files(sources, salt=str(until)),
        metrics=model.metrics,
        trained_until=until if until is not None else frame.get_column("ts").max(),
        blocks=[block.kind for block in (*stacked, *fitted)],
        extra={
            **({"blocks_fitted_until": fitted_until.isoformat()} if fitted else {}),
            **({"graph_signals": signals} if signals else {}),
            **({"extra_columns": extras.describe()} if extras.names or extras.ignored else {}),
        },
    )
    with tempfile.TemporaryDirectory() as scratch:
        state = Path(scratch) / "state"
        features.snapshot(state)
        if compile:
            console.print("compiling the booster to machine code (lleaves)")
        bundle.save(out, state=state, blocks=[*stacked, *fitted], compile=compile)
    return bundle


def _fit_blocks(
    frame: pl.DataFrame,
    kinds: Sequence[str],
    share: float,
    seed: int,
    progress: bool,
    console: Console,
) -> tuple[list[FeatureBlock], datetime | None]:
    """Each block fitted on the first ``share`` of the span; and the instant that share ends."""
    if not kinds:
        return [], None
    if not 0.0 < share < 1.0:
        raise ValueError(f"block_share must lie strictly between 0 and 1, got {share}")
    first, last = frame.get_column("ts").min(), frame.get_column("ts").max()
    until = first + (last - first) * share
    early = frame.filter(pl.col("ts") < until)
    fitted = []
    for kind in kinds:
        console.print(f"fitting the {kind} block on {early.height:,} transactions before {until}")
        fitted.append(block_class(kind).fit(early, seed=seed, progress=progress))
    return fitted, until
