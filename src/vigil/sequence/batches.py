"""How sequences are batched: fixed-length chunks, level by level, for truncated BPTT.

Account ``a``'s sequence is cut into chunks of ``length`` events; chunk ``k`` starts from the
hidden state chunk ``k - 1`` ended with (carried, not back-propagated through), so all chunks
at level ``k`` must run after level ``k - 1``. Within a level any grouping is valid, and
training shuffles it. Sequence lengths are heavy-tailed (a popular merchant receives thousands
of payments, a person a few dozen), and chunking bounds both the padding and the length of
the back-propagated graph whatever the tail.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from vigil.sequence.sequences import EventTable


@dataclass(frozen=True)
class Chunk:
    level: int
    accounts: np.ndarray  # (batch,) account index
    index: np.ndarray  # (batch, length) event row; padding points at row 0
    valid: np.ndarray  # (batch, length) False on padding


def levels(table: EventTable, length: int) -> int:
    """How many chunk levels the longest sequence needs."""
    return int(-(-table.lengths.max() // length)) if len(table.lengths) else 0


def chunks_at(
    table: EventTable,
    level: int,
    length: int,
    batch: int,
    rng: np.random.Generator | None = None,
) -> Iterator[Chunk]:
    """The chunks of one level, ``batch`` accounts at a time (shuffled when ``rng`` is given)."""
    accounts = np.flatnonzero(table.lengths > level * length)
    if rng is not None:
        accounts = rng.permutation(accounts)
    offsets = level * length + np.arange(length)
    for first in range(0, len(accounts), batch):
        group = accounts[first : first + batch]
        valid = offsets[None, :] < table.lengths[group, None]
        index = np.where(valid, table.starts[group, None] + offsets[None, :], 0)
        yield Chunk(level, group, index, valid)
