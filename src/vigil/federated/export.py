"""The federated global model as the engine's artifacts.

The federated GBDT becomes an ordinary :class:`vigil.models.ModelBundle`: a LightGBM booster, an
isotonic calibrator (fitted from the clients' score-bin counts), the feature list and spec
fingerprint, and a manifest recording where it came from. `vigil serve` and `vigil replay` load
it like any trained bundle. It has no end-of-training feature state (that state is each pool's
own and stays there), so a replay warms up from history and a server starts cold.

The federated MLP becomes a bundle of ``model_kind`` "mlp": the same manifest, calibrator and
feature contract, with the weights served by a numpy forward pass
(:class:`vigil.models.mlp.MlpScorer`) instead of a booster.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from vigil.features.spec import CATEGORICAL_FEATURES
from vigil.models.bundle import ModelBundle
from vigil.models.calibration import Calibrator
from vigil.models.mlp import MlpScorer


def federated_fingerprint(data_fingerprints: Sequence[str]) -> str:
    """One lineage hash over the pools' own data fingerprints (each computed in its pool)."""
    digest = hashlib.sha256()
    for fp in sorted(data_fingerprints):
        digest.update(fp.encode())
    return digest.hexdigest()[:16]


def export_gbdt_bundle(
    booster: lgb.Booster,
    calibrator: Calibrator,
    names: list[str],
    spec_fingerprint: str,
    data_fingerprints: Sequence[str],
    metrics: dict[str, float],
    trained_until: datetime,
    federated: dict[str, Any],
    out: Path,
    compile: bool = False,
) -> ModelBundle:
    bundle = ModelBundle(
        booster=booster,
        calibrator=calibrator,
        features=list(names),
        categorical=[c for c in CATEGORICAL_FEATURES if c in names],
        spec_fingerprint=spec_fingerprint,
        data_fingerprint=federated_fingerprint(data_fingerprints),
        metrics=metrics,
        trained_until=trained_until,
        extra={"federated": federated},
    )
    bundle.save(Path(out), compile=compile)
    return bundle


def export_mlp_bundle(
    arrays: list[np.ndarray],
    calibrator: Calibrator,
    names: list[str],
    spec_fingerprint: str,
    data_fingerprints: Sequence[str],
    metrics: dict[str, float],
    trained_until: datetime,
    federated: dict[str, Any],
    out: Path,
) -> ModelBundle:
    """The federated MLP as a bundle of ``model_kind`` "mlp": its weights for a numpy forward
    pass (:class:`vigil.models.mlp.MlpScorer`) behind the training's fixed input transform,
    and the calibration fitted from the pools' counts."""
    scorer = MlpScorer.from_arrays(arrays)
    if scorer.n_features != len(names):
        raise ValueError(f"the MLP reads {scorer.n_features} inputs, the engine has {len(names)}")
    bundle = ModelBundle(
        booster=None,
        scorer=scorer,
        calibrator=calibrator,
        features=list(names),
        categorical=[],  # the MLP reads category codes as numbers, like every other input
        spec_fingerprint=spec_fingerprint,
        data_fingerprint=federated_fingerprint(data_fingerprints),
        metrics=metrics,
        trained_until=trained_until,
        extra={
            "federated": federated,
            "input_transform": "nan->0, sign(x) * log1p(|x|)",
            "hidden": list(scorer.hidden),
        },
    )
    bundle.save(Path(out))
    return bundle
