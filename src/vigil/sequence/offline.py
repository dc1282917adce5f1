"""A block's values for a whole frame at once: the torch GRU over whole sequences, batched.

This is the training code path (same event walk, same chunked batches, the torch module), used
to check serving against it and to encode history without stepping each payment in Python.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import torch

from vigil.sequence.batches import chunks_at, levels
from vigil.sequence.block import SequenceBlock
from vigil.sequence.sequences import walk


def encode_offline(
    block: SequenceBlock,
    frame: pl.DataFrame,
    chunk: int = 256,
    batch: int = 1_024,
    threads: int = 1,
) -> np.ndarray:
    """``(rows, len(block.names))``: what ``block.process`` returns for each row of a
    time-ordered frame when every account starts cold (a freshly loaded block)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _encode(block, frame, chunk, batch)
    finally:
        torch.set_num_threads(previous)


def _encode(block: SequenceBlock, frame: pl.DataFrame, chunk: int, batch: int) -> np.ndarray:
    table = walk(frame, block.inputs)
    model, size = block.model, block.config.hidden
    inputs = torch.from_numpy(table.inputs)
    mcc = torch.from_numpy(table.mcc)
    incoming = torch.from_numpy(table.incoming)
    before = np.empty((table.events, size), dtype=np.float32)
    probability = np.empty(table.events, dtype=np.float32)
    with torch.no_grad():
        carry = torch.zeros(len(table.lengths), size)
        for level in range(levels(table, chunk)):
            for part in chunks_at(table, level, chunk, batch):
                index = torch.from_numpy(part.index)
                group = torch.from_numpy(part.accounts)
                start = model.h0.expand(len(group), size) if level == 0 else carry[group]
                states = model(inputs[index], mcc[index], start)
                carry[group] = states[:, -1]
                previous = torch.cat([start.unsqueeze(1), states[:, :-1]], dim=1)
                p = torch.sigmoid(model.logits(states, incoming[index]))
                rows = part.index[part.valid]
                before[rows] = previous.numpy()[part.valid]
                probability[rows] = p.numpy()[part.valid]
    out = np.empty((frame.height, len(block.names)), dtype=np.float64)
    paying, paid = ~table.incoming, table.incoming
    out[table.row[paying], 0] = probability[paying]
    out[table.row[paid], 1] = probability[paid]
    out[table.row[paying], 2 : 2 + size] = before[paying]
    out[table.row[paying], -1] = table.position[paying]
    return out
