"""Model bundles: a versioned folder the engine loads, swaps and records on every decision.

A bundle is everything needed to reproduce a score: the booster, its calibration, the exact
feature list and spec fingerprint it was trained on, where its data came from, its metrics,
and optionally the feature state at the end of training so that serving can start warm.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from vigil.models.calibration import Calibrator

MANIFEST = "manifest.json"
BOOSTER = "model.txt"
CALIBRATION = "calibration.json"
STATE = "state.snapshot"


class BundleError(ValueError):
    pass


@dataclass
class ModelBundle:
    booster: lgb.Booster
    calibrator: Calibrator
    features: list[str]
    categorical: list[str]
    spec_fingerprint: str
    data_fingerprint: str
    metrics: dict[str, float]
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    trained_until: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    version: str = field(init=False)

    def __post_init__(self) -> None:
        # Computed once: the version is stamped on every decision, the model text is megabytes.
        digest = hashlib.sha256(self.booster.model_to_string().encode()).hexdigest()[:8]
        self.version = f"gbdt-{self.created_at:%Y%m%dT%H%M%S}-{digest}"

    def raw_scores(self, matrix: np.ndarray, threads: int = 1) -> np.ndarray:
        return self.booster.predict(matrix, num_threads=threads)

    def scores(self, matrix: np.ndarray, threads: int = 1) -> np.ndarray:
        """Calibrated probabilities of fraud for each row; one thread for single payments (a
        thread pool costs more than it saves on one row), more for replay batches."""
        return self.calibrator(self.raw_scores(matrix, threads))

    def contributions(self, row: np.ndarray) -> np.ndarray:
        """SHAP values (TreeSHAP, in log-odds) of one row; the last entry is the base value."""
        return self.booster.predict(row.reshape(1, -1), pred_contrib=True, num_threads=1)[0]

    def save(self, folder: Path, state: Path | None = None) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(folder / BOOSTER)
        (folder / CALIBRATION).write_text(json.dumps(self.calibrator.to_dict()))
        if state is not None:
            shutil.copyfile(state, folder / STATE)
        manifest = {
            "version": self.version,
            "kind": "gbdt",
            "features": self.features,
            "categorical": self.categorical,
            "spec_fingerprint": self.spec_fingerprint,
            "data_fingerprint": self.data_fingerprint,
            "metrics": self.metrics,
            "created_at": self.created_at.isoformat(),
            "trained_until": self.trained_until.isoformat() if self.trained_until else None,
            "has_state": (folder / STATE).exists(),
            **self.extra,
        }
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        self.path = folder
        return folder

    @classmethod
    def load(cls, folder: Path) -> ModelBundle:
        folder = Path(folder)
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except FileNotFoundError:
            raise BundleError(
                f"{folder}: not a model bundle (no {MANIFEST}); run `vigil train`"
            ) from None
        missing = [name for name in (BOOSTER, CALIBRATION) if not (folder / name).exists()]
        if missing:
            raise BundleError(f"{folder}: bundle is incomplete, missing {missing}")
        booster = lgb.Booster(model_file=str(folder / BOOSTER))
        if booster.feature_name() != manifest["features"]:
            raise BundleError(f"{folder}: the booster's features differ from the manifest's")
        known = {
            "version",
            "kind",
            "features",
            "categorical",
            "spec_fingerprint",
            "data_fingerprint",
            "metrics",
            "created_at",
            "trained_until",
            "has_state",
        }
        until = manifest.get("trained_until")
        bundle = cls(
            booster=booster,
            calibrator=Calibrator.from_dict(json.loads((folder / CALIBRATION).read_text())),
            features=manifest["features"],
            categorical=manifest["categorical"],
            spec_fingerprint=manifest["spec_fingerprint"],
            data_fingerprint=manifest["data_fingerprint"],
            metrics=manifest["metrics"],
            created_at=datetime.fromisoformat(manifest["created_at"]),
            trained_until=datetime.fromisoformat(until) if until else None,
            extra={k: v for k, v in manifest.items() if k not in known},
            path=folder,
        )
        if bundle.version != manifest["version"]:
            raise BundleError(
                f"{folder}: model file does not match manifest version {manifest['version']}"
            )
        return bundle

    @property
    def state_path(self) -> Path | None:
        if self.path is None or not (self.path / STATE).exists():
            return None
        return self.path / STATE


def fingerprint_files(paths: list[Path], salt: str = "") -> str:
    """A content hash of the data a bundle was trained on, for lineage in the manifest."""
    digest = hashlib.sha256(salt.encode())
    for path in sorted(paths):
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]
