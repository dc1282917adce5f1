"""The state-store protocol the feature engine talks to.

Small on purpose (DESIGN principle 3): the embedded store is a dict in this process; a
scale-out store keeps the same flows in Redis. Everything the engine needs is here: flows by
key, and a short memory of which entities a transaction touched, so a label that arrives weeks
later can be credited to the payee, device and IP it concerns.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Protocol

from vigil.features.state import Flow


class TxnKeys(NamedTuple):
    """The flow keys a transaction updated, kept until its label arrives."""

    ts: int
    payer: str
    payee: str
    device: str | None
    ip: str | None


class StateStore(Protocol):
    def get(self, key: str) -> Flow | None: ...

    def put(self, key: str, flow: Flow) -> None: ...

    def remember(self, txn_id: str, keys: TxnKeys) -> None: ...

    def recall(self, txn_id: str) -> TxnKeys | None: ...

    def evict_idle(self, now: int, idle_seconds: int) -> int: ...

    def snapshot(self, path: Path, fingerprint: str) -> None: ...

    def restore(self, path: Path, fingerprint: str) -> None: ...

    def __len__(self) -> int: ...
