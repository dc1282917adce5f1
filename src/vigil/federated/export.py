"""The federated global model as the engine's artifacts.

The federated GBDT becomes an ordinary :class:`vigil.models.ModelBundle`: a LightGBM booster, an
isotonic calibrator (fitted from the clients' score-bin counts), the feature list and spec
fingerprint, and a manifest recording where it came from. `vigil serve` and `vigil replay` load
it like any trained bundle. It has no end-of-training feature state (that state is each pool's
own and stays there), so a replay warms up from history and a server starts cold.

The federated MLP is written as ``mlp.npz`` with a JSON manifest beside it. The engine's bundle
holds a LightGBM booster only; serving the MLP needs the bundle to admit a second scorer kind
(see docs/federated.md, "Serving the MLP").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from vigil.features.spec import CATEGORICAL_FEATURES
from vigil.models.bundle import ModelBundle
from vigil.models.calibration import Calibrator


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


def export_mlp(
    arrays: list[np.ndarray],
    calibrator: Calibrator,
    names: list[str],
    hidden: tuple[int, ...],
    spec_fingerprint: str,
    federated: dict[str, Any],
    out: Path,
) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "mlp.npz", *arrays)
    manifest = {
        "kind": "mlp",
        "features": list(names),
        "hidden": list(hidden),
        "input_transform": "nan->0, sign(x) * log1p(|x|)",
        "spec_fingerprint": spec_fingerprint,
        "calibration": calibrator.to_dict(),
        "federated": federated,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return out


def load_mlp_arrays(folder: Path) -> list[np.ndarray]:
    with np.load(Path(folder) / "mlp.npz") as data:
        return [data[f"arr_{i}"] for i in range(len(data.files))]


class MlpScorer:
    """The exported MLP as a scorer the engine could hold in place of a booster.

    A numpy forward pass (no torch at serving time) with the same input transform as training,
    and input-times-gradient attributions on the logit for reason codes. This is the piece the
    bundle would load for ``kind: mlp``; see docs/federated.md, "Serving the MLP".
    """

    def __init__(self, folder: Path):
        folder = Path(folder)
        self.manifest = json.loads((folder / "manifest.json").read_text())
        arrays = load_mlp_arrays(folder)
        self.weights = [a.astype(np.float64) for a in arrays[0::2]]
        self.biases = [a.astype(np.float64) for a in arrays[1::2]]
        self.features: list[str] = self.manifest["features"]
        self.calibrator = Calibrator.from_dict(self.manifest["calibration"])

    @staticmethod
    def _transform(matrix: np.ndarray) -> np.ndarray:
        x = np.nan_to_num(np.asarray(matrix, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        return np.sign(x) * np.log1p(np.abs(x))

    def logits(self, matrix: np.ndarray) -> np.ndarray:
        h = self._transform(np.atleast_2d(matrix))
        for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            h = np.maximum(h @ w.T + b, 0.0)
        return (h @ self.weights[-1].T + self.biases[-1]).ravel()

    def raw_scores(self, matrix: np.ndarray, threads: int = 1) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits(matrix)))

    def scores(self, matrix: np.ndarray, threads: int = 1) -> np.ndarray:
        return self.calibrator(self.raw_scores(matrix, threads))

    def contributions(self, row: np.ndarray) -> np.ndarray:
        """Per-feature input x gradient of the logit (transformed inputs), then the logit."""
        x = self._transform(row.reshape(1, -1))[0]
        activations, h = [], x
        for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            z = w @ h + b
            activations.append(z > 0)
            h = np.maximum(z, 0.0)
        grad = self.weights[-1][0]
        for w, active in zip(reversed(self.weights[:-1]), reversed(activations), strict=True):
            grad = (grad * active) @ w
        logit = float(self.logits(row.reshape(1, -1))[0])
        return np.append(grad * x, logit)
