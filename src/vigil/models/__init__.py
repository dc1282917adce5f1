"""Models: the GBDT layer, its calibration and the versioned bundle."""

from vigil.models.bundle import BundleError, ModelBundle
from vigil.models.calibration import Calibrator
from vigil.models.gbdt import TrainedModel, train_gbdt

__all__ = ["BundleError", "Calibrator", "ModelBundle", "TrainedModel", "train_gbdt"]
