"""The trained GRU cell and head in numpy, for one event at a time on the serving path.

Torch spends more on dispatching a call than this cell spends computing it, so serving runs the
same arithmetic on numpy arrays taken from the trained module (float32, as trained). The
merchant-category embedding is folded into a per-bucket table of input-gate contributions:
``W_ih @ [x; E[b]] + b_ih == W_x @ x + (W_e @ E[b] + b_ih)``, one row lookup instead of a
lookup and a wider product.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from vigil.sequence.inputs import DENSE_INPUTS
from vigil.sequence.model import SequenceModel


class GruStep:
    """``h_t = GRUCell(h_{t-1}, x_t)`` and the head's probability, as torch defines them."""

    def __init__(self, model: SequenceModel):
        with torch.no_grad():
            w_ih = model.gru.weight_ih_l0.numpy()
            by_bucket = model.mcc.weight.numpy() @ w_ih[:, DENSE_INPUTS:].T
            self.w_x = np.ascontiguousarray(w_ih[:, :DENSE_INPUTS])
            self.by_bucket = (by_bucket + model.gru.bias_ih_l0.numpy()).astype(np.float32)
            self.w_h = model.gru.weight_hh_l0.numpy().copy()
            self.b_h = model.gru.bias_hh_l0.numpy().copy()
            self.head_w = model.head.weight.numpy().copy()
            self.head_b = [float(b) for b in model.head.bias]
            self.h0 = model.h0.numpy().copy()
        self.size = len(self.h0)

    def __call__(self, h: np.ndarray, x: list[float], bucket: int) -> np.ndarray:
        """The state after the event; a new array (states are never changed in place, so an
        account's previous state may be handed out without a copy)."""
        size = self.size
        gi = self.w_x @ np.array(x, dtype=np.float32)
        gi += self.by_bucket[bucket]
        gh = self.w_h @ h
        gh += self.b_h
        rz = gi[: 2 * size] + gh[: 2 * size]
        np.negative(rz, out=rz)
        np.exp(rz, out=rz)
        rz += 1.0
        np.reciprocal(rz, out=rz)
        n = rz[:size] * gh[2 * size :]
        n += gi[2 * size :]
        np.tanh(n, out=n)
        # (1 - z) * n + z * h == n + z * (h - n)
        out = h - n
        out *= rz[size:]
        out += n
        return out

    def probability(self, h: np.ndarray, direction: int) -> float:
        logit = float(self.head_w[direction] @ h) + self.head_b[direction]
        if logit >= 0.0:
            return 1.0 / (1.0 + math.exp(-logit))
        odds = math.exp(logit)  # the form that cannot overflow for very negative logits
        return odds / (1.0 + odds)
