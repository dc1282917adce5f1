"""The embedded state store: flows in a dict, snapshots with pickle.

Pickle is safe here because a snapshot is only ever read back by the process family that wrote
it (the engine restoring its own state); snapshots carry the feature spec's fingerprint, so
state written for another feature set is refused instead of silently misread.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vigil.features.state import Flow
from vigil.features.stores.base import TxnKeys

#: 2: the compiled state classes (vigil.features.state), which format 1's objects do not fit
_FORMAT = 2


class SnapshotError(ValueError):
    pass


def load_snapshot(path: Path, what: str = "snapshot") -> Any:
    """Unpickle one of our own snapshots; one that cannot be read back (written by an older
    Vigil, whose state classes no longer fit, or damaged) is a SnapshotError naming the remedy."""
    with Path(path).open("rb") as handle:
        try:
            return pickle.load(handle)
        except (AttributeError, TypeError, ValueError, pickle.UnpicklingError) as error:
            raise SnapshotError(
                f"{path}: unreadable {what} ({error}); written by an older Vigil? "
                "Retrain the bundle (vigil train) to rebuild it"
            ) from error


class MemoryStateStore:
    def __init__(self) -> None:
        self.flows: dict[str, Flow] = {}
        self.txns: dict[str, TxnKeys] = {}

    def get_many(self, keys: Sequence[str | None]) -> list[Flow | None]:
        get = self.flows.get
        return [None if key is None else get(key) for key in keys]

    def put_many(
        self, flows: Mapping[str, Flow], txn_id: str | None = None, keys: TxnKeys | None = None
    ) -> bool:
        self.flows.update(flows)
        if txn_id is not None and keys is not None:
            self.txns[txn_id] = keys
        return True

    def recall(self, txn_id: str) -> TxnKeys | None:
        return self.txns.get(txn_id)

    def evict_idle(self, now: int, idle_seconds: int) -> int:
        """Forget flows and transaction keys untouched for ``idle_seconds``; memory stays bounded
        by the active population, not by history."""
        horizon = now - idle_seconds
        stale = [key for key, flow in self.flows.items() if flow.last < horizon]
        for key in stale:
            del self.flows[key]
        old = [txn for txn, keys in self.txns.items() if keys.ts < horizon]
        for txn in old:
            del self.txns[txn]
        return len(stale) + len(old)

    def snapshot(self, path: Path, fingerprint: str) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        with partial.open("wb") as handle:
            pickle.dump(
                {
                    "format": _FORMAT,
                    "fingerprint": fingerprint,
                    "flows": self.flows,
                    "txns": self.txns,
                },
                handle,
                protocol=pickle.HIGHEST_PROTOCOL,
            )
        os.replace(partial, path)

    def restore(self, path: Path, fingerprint: str) -> None:
        data = load_snapshot(path)
        if data.get("format") != _FORMAT:
            raise SnapshotError(
                f"{path}: snapshot format {data.get('format')} is not {_FORMAT}; "
                "retrain the bundle (vigil train) to rebuild it"
            )
        if data.get("fingerprint") != fingerprint:
            raise SnapshotError(
                f"{path}: snapshot was written for feature spec {data.get('fingerprint')}, "
                f"this engine computes {fingerprint}"
            )
        self.flows = data["flows"]
        self.txns = data["txns"]

    def __len__(self) -> int:
        return len(self.flows)
