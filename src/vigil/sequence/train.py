"""Fit the encoder: class-weighted BCE of the fraud head, truncated BPTT over every sequence.

Each epoch walks the chunk levels in order, carrying every account's state from one chunk to
the next, so the state a chunk starts from is the one the (current) model would have built
over the account's history, as serving will. Loss is summed over labelled events and divided
by a constant (a full batch of full chunks) rather than averaged per batch: the last levels hold
only the few longest sequences (busy merchants), and a per-batch mean would give their small
batches the weight of a full one, every epoch, right before it ends.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from rich.progress import Progress
from torch import nn

from vigil.sequence.batches import chunks_at, levels
from vigil.sequence.config import TrainConfig
from vigil.sequence.model import SequenceModel
from vigil.sequence.sequences import EventTable


def train(
    model: SequenceModel,
    table: EventTable,
    labels: np.ndarray,
    config: TrainConfig,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, float]:
    """Fit ``model`` in place on ``table``'s events; ``labels`` is per event, NaN if unknown.

    Deterministic given ``seed``: batches are shuffled with a seeded generator and the CPU
    kernels run on ``config.threads`` threads in a fixed order.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        return _train(model, table, labels, config, seed, progress)
    finally:
        torch.set_num_threads(threads)


def _train(
    model: SequenceModel,
    table: EventTable,
    labels: np.ndarray,
    config: TrainConfig,
    seed: int,
    progress: bool,
) -> dict[str, float]:
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    inputs = torch.from_numpy(table.inputs)
    mcc = torch.from_numpy(table.mcc)
    incoming = torch.from_numpy(table.incoming)
    known = torch.from_numpy(~np.isnan(labels))
    target = torch.from_numpy(np.nan_to_num(labels, nan=0.0).astype(np.float32))
    fraud = float(target[known].sum())
    legit = float(known.sum()) - fraud
    if fraud == 0 or legit == 0:
        raise ValueError("the sequence encoder needs both fraud and legit labelled events")
    weight = config.pos_weight if config.pos_weight is not None else (legit / fraud) ** 0.5
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(weight), reduction="sum")
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scale = 1.0 / (config.batch * config.chunk)
    depth = levels(table, config.chunk)
    per_epoch = sum(
        -(-int((table.lengths > k * config.chunk).sum()) // config.batch) for k in range(depth)
    )
    hidden = model.config.hidden
    model.train()
    epoch_loss = 0.0
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("sequence encoder", total=config.epochs * per_epoch)
        for epoch in range(config.epochs):
            # cosine decay per epoch: large steps while the state is learnt, small at the end
            for group in optimiser.param_groups:
                group["lr"] = config.lr * 0.5 * (1.0 + math.cos(math.pi * epoch / config.epochs))
            carry = torch.zeros(len(table.lengths), hidden)
            epoch_loss = 0.0
            for level in range(depth):
                for chunk in chunks_at(table, level, config.chunk, config.batch, rng):
                    index = torch.from_numpy(chunk.index)
                    group = torch.from_numpy(chunk.accounts)
                    start = model.h0.expand(len(group), hidden) if level == 0 else carry[group]
                    states = model(inputs[index], mcc[index], start)
                    carry[group] = states[:, -1].detach()
                    mask = torch.from_numpy(chunk.valid) & known[index]
                    bar.advance(task)
                    if not mask.any():
                        continue
                    logits = model.logits(states, incoming[index])
                    loss = loss_fn(logits[mask], target[index][mask]) * scale
                    optimiser.zero_grad(set_to_none=True)
                    loss.backward()
                    nn.utils.clip_grad_norm_(model.parameters(), config.clip)
                    optimiser.step()
                    epoch_loss += loss.item()
    model.eval()
    return {
        "events": float(table.events),
        "accounts": float(len(table.lengths)),
        "pos_weight": weight,
        "last_epoch_loss": epoch_loss,
        "seconds": time.perf_counter() - started,
    }
