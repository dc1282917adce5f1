"""The L2 model: LightGBM on the online features, validated and calibrated on later data.

The split is by time, never at random: fraud patterns drift, and a random split would let the
model peek at the same rings and campaigns it is then scored on.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from vigil.models.calibration import Calibrator

DEFAULT_PARAMS: dict[str, object] = {
    "objective": "binary",
    "learning_rate": 0.08,
    "num_leaves": 63,
    "min_data_in_leaf": 40,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "cat_smooth": 10,
    "max_cat_to_onehot": 8,
    "verbose": -1,
    "num_threads": 2,
    "seed": 7,
    "deterministic": True,
    "force_row_wise": True,
}


@dataclass
class TrainedModel:
    booster: lgb.Booster
    calibrator: Calibrator
    metrics: dict[str, float]


def time_split(n_rows: int, validation_share: float) -> int:
    """Index of the first validation row of a time-ordered matrix."""
    cut = int(n_rows * (1.0 - validation_share))
    if cut <= 0 or cut >= n_rows:
        raise ValueError(
            f"{n_rows} rows cannot be split {1 - validation_share:.0%} / {validation_share:.0%}"
        )
    return cut


def train_gbdt(
    features: np.ndarray,
    labels: np.ndarray,
    names: list[str],
    categorical: list[str],
    validation_share: float = 0.2,
    rounds: int = 600,
    params: dict[str, object] | None = None,
) -> TrainedModel:
    """Train on the earlier rows, stop early and calibrate on the later ones."""
    labels = labels.astype(np.int8)
    cut = time_split(len(labels), validation_share)
    if labels[:cut].sum() == 0 or labels[cut:].sum() == 0:
        raise ValueError("both the training and the validation period need fraud examples")
    config = {**DEFAULT_PARAMS, **(params or {})}
    cats = [c for c in categorical if c in names]
    train = lgb.Dataset(
        features[:cut],
        labels[:cut],
        feature_name=names,
        categorical_feature=cats,
        free_raw_data=False,
    )
    valid = lgb.Dataset(features[cut:], labels[cut:], reference=train)
    booster = lgb.train(
        {**config, "metric": "average_precision"},
        train,
        num_boost_round=rounds,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(50, verbose=False)],
    )
    raw = booster.predict(features[cut:], num_iteration=booster.best_iteration)
    calibrator = Calibrator.fit(raw, labels[cut:])
    calibrated = calibrator(raw)
    metrics = {
        "train_rows": float(cut),
        "validation_rows": float(len(labels) - cut),
        "validation_fraud_rate": float(labels[cut:].mean()),
        "validation_auprc": float(average_precision_score(labels[cut:], raw)),
        "validation_roc_auc": float(roc_auc_score(labels[cut:], raw)),
        "validation_brier_raw": float(brier_score_loss(labels[cut:], raw)),
        "validation_brier_calibrated": float(brier_score_loss(labels[cut:], calibrated)),
        "best_iteration": float(booster.best_iteration),
    }
    return TrainedModel(booster, calibrator, metrics)
