"""The sequence encoder's settings: its shape (saved with the weights) and how it is trained."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class EncoderConfig:
    """Everything that decides what the encoder computes; part of its fingerprint."""

    hidden: int = 24
    mcc_buckets: int = 64
    mcc_dim: int = 4
    peers: int = 8  # recent distinct counterparties remembered for novelty
    devices: int = 3
    ips: int = 3


@dataclass(frozen=True)
class TrainConfig:
    """Truncated back-propagation through time over each account's sequence.

    ``pos_weight`` None weighs fraud by sqrt(legit / fraud): full inverse frequency (~100x on
    these worlds) makes the gradient noisy and the scores poorly spread; no weight lets the
    rare class starve.
    """

    chunk: int = 32  # events back-propagated through, per account and step
    batch: int = 64  # accounts per step
    epochs: int = 12
    lr: float = 1e-2
    weight_decay: float = 1e-5
    clip: float = 1.0
    pos_weight: float | None = None
    #: torch threads while fitting: small recurrent batches gain nothing from more, and on a
    #: shared 2-core machine a second thread made a 6 s fit take 64 s
    threads: int = 1


def split_params(params: dict[str, Any]) -> tuple[EncoderConfig, TrainConfig]:
    """Keyword parameters of ``fit`` to the two configs; an unknown name is an error."""
    known = {kind: {f.name for f in fields(kind)} for kind in (EncoderConfig, TrainConfig)}
    unknown = set(params) - known[EncoderConfig] - known[TrainConfig]
    if unknown:
        raise TypeError(
            f"unknown sequence parameters {sorted(unknown)}; "
            f"known: {sorted(known[EncoderConfig] | known[TrainConfig])}"
        )
    return (
        EncoderConfig(**{k: v for k, v in params.items() if k in known[EncoderConfig]}),
        TrainConfig(**{k: v for k, v in params.items() if k in known[TrainConfig]}),
    )
