"""The PD model: LightGBM with monotone constraints, calibrated by a logistic map of its margin.

**Monotone constraints** come from :data:`vigil.credit.features.FEATURES`: a constrained
feature can only push the margin one way, whatever the other features say, so a firm that
borrows more against the same revenue, or sells more to defaulted buyers, is never scored
safer for it. That is the property a credit officer (and a regulator) checks first, and on a
few thousand defaults it also keeps the trees from fitting noise in the wrong direction.
Features without an economic direction (counterparty size, relationship age, days since a
partner's default) stay free.

**Calibration.** PD is ``sigmoid(a * margin + b)``, with ``a > 0`` and ``b`` fitted by logistic
regression on a later time slice than the trees (Platt scaling), rather than the isotonic map
the fraud model uses (:mod:`vigil.models.calibration`): the demo world has about a hundred
defaults, too few for a step function, and an affine map of log-odds is what lets the
scorecard turn each feature's margin contribution into points exactly
(:mod:`vigil.credit.scorecard`). The later slice also carries the base rate forward, which
matters here because defaults cascade and the rate rises through the year.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from vigil.credit.features import BY_NAME, FEATURES

MANIFEST = "manifest.json"
BOOSTER = "model.txt"
FORMAT = 1

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    # Shallow trees keep the model near-additive, like a scorecard: reason codes per feature
    # stay faithful, and on the 20,000-firm worlds they ranked as well as 15 leaves or better.
    "learning_rate": 0.03,
    "num_leaves": 4,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 10.0,
    "cat_smooth": 20,
    "min_data_per_group": 50,
    "monotone_constraints_method": "advanced",
    "verbose": -1,
    # One thread: with two, OpenMP's spinning threads on the shared 2-core VM turned a
    # 0.2 s fit into 25 s. Pass more in params on a machine of one's own.
    "num_threads": 1,
    "seed": 7,
    "deterministic": True,
    "force_row_wise": True,
}


class CreditModelError(ValueError):
    pass


@dataclass(frozen=True)
class Platt:
    """``PD = sigmoid(slope * margin + intercept)``; ``slope > 0`` keeps PD monotone."""

    slope: float = 1.0
    intercept: float = 0.0

    @classmethod
    def fit(cls, margin: np.ndarray, labels: np.ndarray, min_defaults_for_slope: int = 30) -> Platt:
        """Maximum likelihood by Newton's method (no scikit-learn needed), with Platt's target
        smoothing so a slice with few defaults cannot pin PD at 0 or 1.

        With fewer than ``min_defaults_for_slope`` defaults in the slice, or if the fitted
        slope is not positive, only the intercept is fitted (slope 1: the trees' own scale,
        shifted to the slice's default rate); a slope from a dozen defaults is noise, and a
        negative one would turn the scorecard upside down."""
        labels = labels.astype(np.float64)
        positives, n = labels.sum(), len(labels)
        if positives == 0 or positives == n:
            raise CreditModelError("calibration needs both defaulted and repaid loans")
        target = np.where(labels > 0, (positives + 1) / (positives + 2), 1 / (n - positives + 2))
        if positives >= min_defaults_for_slope:
            slope, intercept = _newton(np.column_stack([margin, np.ones(n)]), target, [1.0, 0.0])
            if slope > 0:
                return cls(slope, intercept)
        (shift,) = _newton(np.ones((n, 1)), target, [0.0], offset=np.asarray(margin))
        return cls(1.0, shift)

    def log_odds(self, margin: np.ndarray) -> np.ndarray:
        """ln(PD / (1 - PD))."""
        return self.slope * np.asarray(margin) + self.intercept

    def __call__(self, margin: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.log_odds(margin)))


def _newton(
    x: np.ndarray, target: np.ndarray, start: list[float], offset: np.ndarray | float = 0.0
) -> list[float]:
    """Logistic regression of ``target`` on ``x`` (plus a fixed ``offset``) by Newton steps."""
    w = np.array(start, dtype=np.float64)
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(x @ w + offset)))
        gradient = x.T @ (p - target)
        hessian = (x * (p * (1 - p))[:, None]).T @ x + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return [float(v) for v in w]


@dataclass
class CreditModel:
    """A trained PD model: booster, the features it reads, their encoding, its calibration."""

    booster: lgb.Booster
    features: list[str]
    sectors: list[str]  #: vocabulary of the categorical ``sector``; others read as missing
    calibration: Platt
    metrics: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)  #: trained_until, data, network params
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    version: str = field(init=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha256(self.booster.model_to_string().encode()).hexdigest()[:8]
        self.version = f"credit-{self.created_at:%Y%m%dT%H%M%S}-{digest}"

    @property
    def monotone(self) -> list[int]:
        return [BY_NAME[name].monotone for name in self.features]

    def matrix(self, frame: pl.DataFrame) -> np.ndarray:
        """The booster's input from a feature frame: sector as its vocabulary code."""
        return encode(frame, self.features, self.sectors)

    def margin(self, matrix: np.ndarray) -> np.ndarray:
        return self.booster.predict(matrix, raw_score=True, num_threads=1)

    def pd(self, matrix: np.ndarray) -> np.ndarray:
        return self.calibration(self.margin(matrix))

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Per row, each feature's TreeSHAP share of the margin, then the expected margin;
        the row sums to the margin."""
        return self.booster.predict(matrix, pred_contrib=True, num_threads=1)

    # -- persistence -----------------------------------------------------------------------

    def save(self, folder: Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(folder / BOOSTER))
        manifest = {
            "format": FORMAT,
            "version": self.version,
            "created_at": self.created_at.isoformat(),
            "features": self.features,
            "monotone": dict(zip(self.features, self.monotone, strict=True)),
            "sectors": self.sectors,
            "calibration": {
                "slope": self.calibration.slope,
                "intercept": self.calibration.intercept,
            },
            "metrics": self.metrics,
            "info": self.info,
        }
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        return folder

    @classmethod
    def load(cls, folder: Path) -> CreditModel:
        folder = Path(folder)
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except (OSError, ValueError) as error:
            raise CreditModelError(f"{folder}: not a credit model ({error})") from None
        if manifest.get("format") != FORMAT:
            raise CreditModelError(
                f"{folder}: unknown credit model format {manifest.get('format')}"
            )
        unknown = set(manifest["features"]) - set(BY_NAME)
        if unknown:
            raise CreditModelError(f"{folder}: features this code does not make: {sorted(unknown)}")
        model = cls(
            booster=lgb.Booster(model_file=str(folder / BOOSTER)),
            features=list(manifest["features"]),
            sectors=list(manifest["sectors"]),
            calibration=Platt(**manifest["calibration"]),
            metrics=dict(manifest.get("metrics", {})),
            info=dict(manifest.get("info", {})),
            created_at=datetime.fromisoformat(manifest["created_at"]),
        )
        model.version = manifest["version"]
        return model


def encode(frame: pl.DataFrame, features: list[str], sectors: list[str]) -> np.ndarray:
    """The booster's matrix: numeric columns as they are (missing as NaN), ``sector`` as its
    position in ``sectors`` (NaN when unseen). One conversion for all numeric columns: per
    column, polars' overhead made up most of a single applicant's scoring time."""
    if not features:
        return np.zeros((frame.height, 0))
    numeric = [f for f in features if not BY_NAME[f].categorical]
    values = frame.select(pl.col(numeric).cast(pl.Float64)).to_numpy() if numeric else None
    columns = {name: values[:, i] for i, name in enumerate(numeric)} if values is not None else {}
    code = {s: float(i) for i, s in enumerate(sectors)}
    for name in features:
        if BY_NAME[name].categorical:
            columns[name] = np.array([code.get(v, np.nan) for v in frame[name].to_list()])
    matrix = np.column_stack([columns[name] for name in features]).astype(np.float64)
    return np.where(np.isnan(matrix), np.nan, matrix)  # nulls (None) read as missing too


def fit_booster(
    train: np.ndarray,
    train_labels: np.ndarray,
    valid: np.ndarray,
    valid_labels: np.ndarray,
    features: list[str],
    params: dict[str, Any] | None = None,
    rounds: int = 2_000,
    patience: int = 100,
) -> lgb.Booster:
    """Trees on ``train``, stopped early on the later ``valid`` slice's log loss."""
    config = {
        **DEFAULT_PARAMS,
        **(params or {}),
        "monotone_constraints": [BY_NAME[f].monotone for f in features],
        "metric": "binary_logloss",
    }
    categorical = [i for i, f in enumerate(features) if BY_NAME[f].categorical]
    data = lgb.Dataset(
        train,
        train_labels,
        feature_name=features,
        categorical_feature=categorical,
        free_raw_data=False,
    )
    check = lgb.Dataset(valid, valid_labels, reference=data)
    return lgb.train(
        config,
        data,
        num_boost_round=rounds,
        valid_sets=[check],
        callbacks=[lgb.early_stopping(patience, verbose=False)],
    )


def constrained_features() -> list[tuple[str, int, str]]:
    """(feature, direction, why) of every monotone constraint, for docs and reports."""
    return [(f.name, f.monotone, f.why) for f in FEATURES if f.monotone]
