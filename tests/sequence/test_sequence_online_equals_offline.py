"""Serving (numpy, one payment at a time) equals the batched torch encoding of whole sequences."""

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from vigil.features.replay import transactions_of
from vigil.sequence import SequenceBlock, encode_offline


def online(block: SequenceBlock, frame: pl.DataFrame) -> np.ndarray:
    return np.asarray([block.process(txn) for txn in transactions_of(frame)])


def test_process_equals_offline_encoding_on_a_generated_world(saved_block, world_frame):
    block = SequenceBlock.load(saved_block)
    live = online(block, world_frame)
    batched = encode_offline(block, world_frame)
    assert live.shape == batched.shape == (world_frame.height, len(block.names))
    np.testing.assert_allclose(live, batched, rtol=0, atol=1e-5)
    # the check has teeth: every output moves, and long sequences were crossed chunk to chunk
    assert (live.std(axis=0) > 0).all()
    assert live[:, block.names.index("seq_events")].max() > 256


def test_sparse_rows_and_payments_to_oneself_agree_too(saved_block):
    """Only the required money fields, and an account paying itself (both halves of one
    payment land in one sequence, outgoing first)."""
    start = datetime(2026, 3, 1, tzinfo=UTC)
    rows = [
        ("A", "B", 5_000),
        ("A", "A", 12_000),
        ("B", "A", 700),
        ("A", "A", 90_000),
        ("C", "A", 2_500),
        ("A", "C", 2_400),
    ]
    frame = pl.DataFrame(
        {
            "txn_id": [f"T{i}" for i in range(len(rows))],
            "ts": [start + timedelta(minutes=7 * i) for i in range(len(rows))],
            "payer_id": [r[0] for r in rows],
            "payee_id": [r[1] for r in rows],
            "amount": [r[2] for r in rows],
            "currency": ["SGD"] * len(rows),
        }
    )
    block = SequenceBlock.load(saved_block)
    np.testing.assert_allclose(
        online(block, frame), encode_offline(block, frame, chunk=2, batch=2), atol=1e-5
    )
