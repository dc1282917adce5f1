"""The recurrent encoder of an account's events: a GRU with a learnt starting state and a head.

Why a GRU and not attention: the engine updates an account's state once per payment and must
answer in microseconds. A GRU's state is one small vector and its update is a fixed amount of
work (a few matrix-vector products at hidden size 24), so serving keeps one vector per account
and never rereads history. Attention over the last N events needs those N events at every
payment (memory N times the event size per account, and work that grows with N); a recurrent
summary beside it would be a GRU anyway. The GRU also runs identically batched over whole
sequences (training, offline encoding) and step by step (serving), which is what lets a test
prove the two agree.

The head scores the event itself: ``head(h_t)`` with ``h_t = GRUCell(h_{t-1}, x_t)``, so an
event's score sees the account's past and the event's own inputs, never anything later. It has
one output per direction, because "this payment out of the account is fraud" and "this payment
into the account is fraud" are different questions of the same state.

A new account starts from ``h0``, a learnt vector: the state of "an account we know nothing
about" is itself evidence (most fraud-opened accounts are new), and zeros would only be a guess.
"""

from __future__ import annotations

import torch
from torch import nn

from vigil.sequence.config import EncoderConfig
from vigil.sequence.inputs import DENSE_INPUTS

OUTGOING, INCOMING = 0, 1


class SequenceModel(nn.Module):
    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        self.mcc = nn.Embedding(config.mcc_buckets + 1, config.mcc_dim)
        self.gru = nn.GRU(DENSE_INPUTS + config.mcc_dim, config.hidden, batch_first=True)
        # small and random rather than zero so that training moves it from a neutral start
        self.h0 = nn.Parameter(0.1 * torch.randn(config.hidden))
        self.head = nn.Linear(config.hidden, 2)

    def forward(self, inputs: torch.Tensor, mcc: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        """Hidden state after each event: ``(batch, steps, hidden)`` from dense inputs
        ``(batch, steps, DENSE_INPUTS)``, buckets ``(batch, steps)`` and the states before the
        first step ``(batch, hidden)``."""
        x = torch.cat([inputs, self.mcc(mcc)], dim=-1)
        states, _ = self.gru(x, start.unsqueeze(0).contiguous())
        return states

    def logits(self, states: torch.Tensor, incoming: torch.Tensor) -> torch.Tensor:
        """The head's logit for each event, from the output of its own direction."""
        return self.head(states).gather(-1, incoming.long().unsqueeze(-1)).squeeze(-1)
