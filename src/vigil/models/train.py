"""`vigil train`: replay history through the online feature code, then fit the model layers.

The training matrix is built by :func:`vigil.features.replay.compute_features`, the same code
that serves, so there is no training/serving skew. Targets are the labels in the data (known in
hindsight); features only ever see labels that had matured at the time of each event.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
from rich.console import Console

from vigil.features.replay import compute_features, sorted_transactions, world_features
from vigil.features.spec import CATEGORICAL_FEATURES
from vigil.models.bundle import ModelBundle, fingerprint_files
from vigil.models.gbdt import train_gbdt
from vigil.schema.io import find_table


def train_bundle(
    data_dir: Path,
    out: Path,
    until: datetime | None = None,
    progress: bool = True,
    console: Console | None = None,
) -> ModelBundle:
    """Train on events before ``until`` (all events when None) and write a bundle to ``out``."""
    console = console or Console(quiet=not progress)
    frame = sorted_transactions(data_dir)
    if until is not None:
        frame = frame.filter(pl.col("ts") < until)
    if frame.height == 0:
        raise ValueError(f"{data_dir}: no transactions before {until}")
    if "is_fraud" not in frame.columns or frame.get_column("is_fraud").null_count() == frame.height:
        raise ValueError(f"{data_dir}: transactions carry no is_fraud labels; training needs them")
    labelled = frame.get_column("is_fraud").is_not_null()
    features = world_features(data_dir)
    console.print(f"replaying {frame.height:,} transactions through the online feature code")
    matrix = compute_features(frame, features, progress=progress, description="features")
    keep = labelled.to_numpy()
    labels = frame.get_column("is_fraud").fill_null(False).to_numpy().astype(np.int8)
    console.print(
        f"training LightGBM on {int(keep.sum()):,} labelled rows, {features.names.__len__()} features"
    )
    model = train_gbdt(matrix[keep], labels[keep], features.names, list(CATEGORICAL_FEATURES))
    sources = [
        p for t in ("transactions", "accounts") if (p := find_table(data_dir, t)) is not None
    ]
    bundle = ModelBundle(
        booster=model.booster,
        calibrator=model.calibrator,
        features=features.names,
        categorical=[c for c in CATEGORICAL_FEATURES if c in features.names],
        spec_fingerprint=features.fingerprint,
        data_fingerprint=fingerprint_files(sources, salt=str(until)),
        metrics=model.metrics,
        trained_until=until if until is not None else frame.get_column("ts").max(),
    )
    with tempfile.TemporaryDirectory() as scratch:
        state = Path(scratch) / "state.snapshot"
        features.store.snapshot(state, features.fingerprint)
        bundle.save(out, state=state)
    return bundle
