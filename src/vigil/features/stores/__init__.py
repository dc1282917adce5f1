"""State stores: where per-entity feature state lives (in-process now, Redis for scale-out)."""

from vigil.features.stores.base import StateStore, StoreUnavailable, TxnKeys
from vigil.features.stores.memory import MemoryStateStore

__all__ = ["MemoryStateStore", "StateStore", "StoreUnavailable", "TxnKeys"]
