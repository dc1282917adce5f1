"""Server-side strategies beyond Flower's own (one per file)."""

from vigil.federated.strategy.lgb_bagging import FedLgbBagging

__all__ = ["FedLgbBagging"]
