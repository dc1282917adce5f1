"""Metrics a client may report, and calibration fitted from counts, not rows.

The engine prices decisions with calibrated probabilities (:class:`vigil.models.Calibrator`,
isotonic regression). Centrally it is fitted on the scores and labels of a later time slice;
federated, each client sends only how many frauds and how many legitimate payments of its
validation slice fell in each of a fixed set of score bins, the server adds those counts up and
fits the same isotonic regression on the bin centres, weighted by the counts.
"""

from __future__ import annotations

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import average_precision_score, roc_auc_score

from vigil.models.calibration import Calibrator

#: Fixed, data-independent bin edges over the model's probability, dense in logit space.
_LOGITS = np.linspace(-12.0, 12.0, 241)
EDGES = np.concatenate([[0.0], 1.0 / (1.0 + np.exp(-_LOGITS)), [1.0]])
CENTRES = np.concatenate([[EDGES[1] / 2], 1.0 / (1.0 + np.exp(-(_LOGITS[:-1] + 0.05))), [1.0]])


def score_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """AUPRC and ROC AUC (NaN where a slice lacks a class), with the slice's size."""
    labels = np.asarray(labels).astype(np.int8)
    both = 0 < labels.sum() < len(labels)
    return {
        "rows": float(len(labels)),
        "frauds": float(labels.sum()),
        "auprc": float(average_precision_score(labels, scores)) if both else float("nan"),
        "roc_auc": float(roc_auc_score(labels, scores)) if both else float("nan"),
    }


def calibration_counts(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frauds, legitimate) per score bin."""
    labels = np.asarray(labels).astype(bool)
    bins = np.clip(np.searchsorted(EDGES, scores, side="right") - 1, 0, len(CENTRES) - 1)
    frauds = np.bincount(bins[labels], minlength=len(CENTRES)).astype(np.float64)
    legit = np.bincount(bins[~labels], minlength=len(CENTRES)).astype(np.float64)
    return frauds, legit


def calibrator_from_counts(frauds: np.ndarray, legit: np.ndarray) -> Calibrator:
    """Isotonic calibration fitted on bin centres weighted by the summed counts."""
    frauds, legit = np.clip(frauds, 0, None), np.clip(legit, 0, None)
    if frauds.sum() <= 0 or legit.sum() <= 0:
        raise ValueError("calibration needs both fraud and legitimate examples")
    x = np.concatenate([CENTRES, CENTRES])
    y = np.concatenate([np.ones_like(CENTRES), np.zeros_like(CENTRES)])
    w = np.concatenate([frauds, legit])
    keep = w > 0
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    iso.fit(x[keep], y[keep], sample_weight=w[keep])
    return Calibrator(tuple(map(float, iso.X_thresholds_)), tuple(map(float, iso.y_thresholds_)))
