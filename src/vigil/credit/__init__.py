"""SME network credit scoring: probability of default from a firm and its trade network.

- :mod:`~vigil.credit.network`: the trade graph as of a moment, propagated default risk
- :mod:`~vigil.credit.features`: point-in-time firm and network features (one path)
- :mod:`~vigil.credit.model`: monotone LightGBM, Platt-calibrated PD, the saved model
- :mod:`~vigil.credit.scorecard`: points-to-double-odds scaling, grades, reason codes
- :mod:`~vigil.credit.scoring`: :class:`CreditScorer` for one firm, a record, or a batch
- :mod:`~vigil.credit.train`: training and the out-of-time measures
- :mod:`~vigil.credit.gnn`: the GeniePath comparison
- :mod:`~vigil.credit.cli`: ``vigil credit train | score``

Names are imported on first use, so ``vigil --help`` does not load LightGBM and SciPy.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "CreditHistory": "vigil.credit.features",
    "FEATURES": "vigil.credit.features",
    "CreditModel": "vigil.credit.model",
    "Scaling": "vigil.credit.scorecard",
    "CreditScore": "vigil.credit.scoring",
    "CreditScorer": "vigil.credit.scoring",
    "Loan": "vigil.credit.scoring",
    "TrainConfig": "vigil.credit.train",
    "train_from_dir": "vigil.credit.train",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'vigil.credit' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
