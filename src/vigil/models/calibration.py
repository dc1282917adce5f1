"""Calibration: raw GBDT scores to probabilities the policy can price.

Isotonic regression, fitted on a later time slice than the trees were trained on (the trees'
own training rows are over-confident). It is stored as its breakpoints and applied with
``numpy.interp``, so calibrating one payment costs a microsecond and needs no scikit-learn
object at serving time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression


@dataclass(frozen=True)
class Calibrator:
    raw: tuple[float, ...]
    probability: tuple[float, ...]

    @classmethod
    def fit(cls, raw_scores: np.ndarray, labels: np.ndarray) -> Calibrator:
        if len(np.unique(labels)) < 2:
            raise ValueError("calibration needs both fraud and legitimate examples")
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(raw_scores, labels)
        return cls(tuple(map(float, iso.X_thresholds_)), tuple(map(float, iso.y_thresholds_)))

    def __call__(self, raw: np.ndarray | float) -> np.ndarray:
        return np.interp(raw, self.raw, self.probability)

    def to_dict(self) -> dict[str, list[float]]:
        return {"raw": list(self.raw), "probability": list(self.probability)}

    @classmethod
    def from_dict(cls, data: dict[str, list[float]]) -> Calibrator:
        return cls(tuple(data["raw"]), tuple(data["probability"]))
