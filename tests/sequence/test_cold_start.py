"""A new account starts from the learnt prior h0, not from zeros."""

from datetime import UTC, datetime

import numpy as np
import torch

from vigil.schema.records import Transaction
from vigil.sequence import SequenceBlock
from vigil.sequence.config import EncoderConfig
from vigil.sequence.inputs import AccountState
from vigil.sequence.model import OUTGOING, SequenceModel


def payment(payer: str, payee: str) -> Transaction:
    return Transaction(
        txn_id="T1",
        ts=datetime(2026, 2, 1, 3, 15, tzinfo=UTC),
        payer_id=payer,
        payee_id=payee,
        amount=250_000,
        currency="SGD",
        channel="transfer",
        jurisdiction="SG",
        payer_country="SG",
        payee_country="SG",
        device_id="dv000000000000001",
        ip="10.0.0.1",
    )


def test_h0_is_learnt(saved_block, fit_params):
    block = SequenceBlock.load(saved_block)
    h0 = block.model.h0.detach().numpy()
    torch.manual_seed(fit_params["seed"])  # the draw fit starts from
    initial = SequenceModel(EncoderConfig()).h0.detach().numpy()
    assert np.abs(h0).max() > 0
    assert np.abs(h0 - initial).max() > 1e-2  # training moved it


def test_first_event_of_a_new_account_reads_h0(saved_block):
    block = SequenceBlock.load(saved_block)
    txn = payment("NEW-PAYER", "NEW-PAYEE")
    values = dict(zip(block.names, block.process(txn), strict=True))
    h0 = block.model.h0.detach().numpy()
    embedding = np.array([values[f"seq_emb_{i}"] for i in range(block.config.hidden)])
    np.testing.assert_array_equal(embedding, h0)
    assert values["seq_events"] == 0.0
    # the score is the head on GRUCell(h0, x), computed here with torch
    x, bucket = block.inputs.step(AccountState(), txn, incoming=False)
    with torch.no_grad():
        states = block.model(
            torch.tensor([[x]], dtype=torch.float32),
            torch.tensor([[bucket]]),
            block.model.h0.unsqueeze(0),
        )
        expected = torch.sigmoid(block.model.head(states[0, 0])[OUTGOING]).item()
    assert abs(values["seq_score"] - expected) < 1e-6
    # both accounts now hold state; the next payment of the payer reads it, not h0
    assert block.states["NEW-PAYEE"].events == 1
    again = dict(zip(block.names, block.process(payment("NEW-PAYER", "X")), strict=True))
    assert again["seq_events"] == 1.0
    assert again["seq_emb_0"] != values["seq_emb_0"]
