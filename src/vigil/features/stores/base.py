"""The state-store protocol the feature engine talks to.

Small on purpose (DESIGN principle 3): the embedded store is a dict in this process; a
scale-out store keeps the same flows in Redis. Everything the engine needs is here: flows by
key, and a short memory of which entities a transaction touched, so a label that arrives weeks
later can be credited to the payee, device and IP it concerns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

from vigil.features.state import Flow


class StoreUnavailable(ConnectionError):
    """The store cannot be reached: the payment is decided without its state, marked degraded."""


class TxnKeys(NamedTuple):
    """The flow keys a transaction updated, kept until its label arrives."""

    ts: int
    payer: str
    payee: str
    device: str | None
    ip: str | None


class StateStore(Protocol):
    """Flows by key, read and written a payment at a time.

    A payment reads all its flows at once (:meth:`get_many`) and writes back the ones it
    changed, with the keys to remember for its label, at once (:meth:`put_many`): one round
    trip each on a networked store. ``put_many`` returns False, and writes nothing, when a
    flow changed since this store's last ``get_many`` (another worker's payment touched the
    same payee, device or IP); the caller then reads again. The embedded store has no other
    writer and always returns True.
    """

    def get_many(self, keys: Sequence[str | None]) -> list[Flow | None]:
        """The flow of each key (None for an unknown key, or a None key)."""
        ...

    def put_many(
        self, flows: Mapping[str, Flow], txn_id: str | None = None, keys: TxnKeys | None = None
    ) -> bool: ...

    def recall(self, txn_id: str) -> TxnKeys | None: ...

    def evict_idle(self, now: int, idle_seconds: int) -> int: ...

    def snapshot(self, path: Path, fingerprint: str) -> None: ...

    def restore(self, path: Path, fingerprint: str) -> None: ...

    def __len__(self) -> int: ...
