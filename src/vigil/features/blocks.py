"""Learnt feature blocks: layers with their own per-entity state whose outputs join the vector.

The sequence encoder and the graph layer are models trained offline whose online state moves
with every payment, just like the window aggregates. Running them inside
:meth:`vigil.features.online.OnlineFeatures.process` rather than beside it keeps the one-path
guarantee: training replays history through the same blocks that serve, so their features are
point-in-time correct and identical online and offline. Blocks are loaded by kind from a
bundle, lazily, so an engine without them never imports torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import polars as pl

from vigil.schema.records import Transaction

#: Where each kind of block lives: imported only when a bundle asks for it.
BLOCK_CLASSES = {
    "sequence": "vigil.sequence.block:SequenceBlock",
    "graph": "vigil.graph.block:GraphBlock",
    "extras": "vigil.features.extras:ExtraFeatures",
}


@runtime_checkable
class FeatureBlock(Protocol):
    """A stateful, learnt producer of features for each payment."""

    kind: str
    names: tuple[str, ...]
    fingerprint: str
    #: the latest payment's values left out work to keep within the live budget, or overran it
    degraded: bool

    def process(self, txn: Transaction) -> Sequence[float]:
        """Values for ``names`` from the state before ``txn``; then ``txn`` enters the state."""
        ...

    def live(self, budget_us: int | None) -> None:
        """Serve within ``budget_us`` of wall time per payment, or (None) do all the work.

        A live decision must not wait on a block's variable-cost work (the graph layer's
        inference for an account it has never scored); a batch (training replay, backtest)
        must compute every value, so that its vectors never depend on how busy the machine was.
        """
        ...

    def observe_label(self, txn_id: str, is_fraud: bool) -> None: ...

    def snapshot(self, path: Path) -> None: ...

    def restore(self, path: Path) -> None: ...

    def save(self, folder: Path) -> None: ...


class BlockClass(Protocol):
    """What a block kind offers besides the per-payment verbs: fitting and loading."""

    @classmethod
    def fit(cls, frame: pl.DataFrame, seed: int = 0, progress: bool = False) -> FeatureBlock: ...

    @classmethod
    def load(cls, folder: Path) -> FeatureBlock: ...


def block_class(kind: str) -> BlockClass:
    try:
        target = BLOCK_CLASSES[kind]
    except KeyError:
        raise ValueError(
            f"unknown feature block {kind!r}; choose from {', '.join(BLOCK_CLASSES)}"
        ) from None
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def load_blocks(folder: Path, kinds: Sequence[str]) -> list[FeatureBlock]:
    """The blocks a bundle was trained with, from its ``blocks/<kind>`` folders, cold."""
    return [block_class(kind).load(folder / kind) for kind in kinds]
