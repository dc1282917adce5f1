"""Server-side strategies beyond Flower's own (one per file)."""

from vigil.federated.strategy.lgb_bagging import FedLgbBagging
from vigil.federated.strategy.lgb_cyclic import FedLgbCyclic

__all__ = ["FedLgbBagging", "FedLgbCyclic"]
