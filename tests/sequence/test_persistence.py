"""States survive a snapshot and restore; models survive save and load."""

import numpy as np
import pytest
import torch

from vigil.features.replay import transactions_of
from vigil.sequence import SequenceBlock
from vigil.sequence.block import SequenceError
from vigil.sequence.config import EncoderConfig
from vigil.sequence.model import SequenceModel


def test_snapshot_restore_resumes_exactly(saved_block, world_frame, tmp_path):
    txns = list(transactions_of(world_frame))
    half = len(txns) // 2
    straight = SequenceBlock.load(saved_block)
    expected = [straight.process(t) for t in txns]

    first = SequenceBlock.load(saved_block)
    for t in txns[:half]:
        first.process(t)
    first.snapshot(tmp_path / "states")
    second = SequenceBlock.load(saved_block)
    second.restore(tmp_path / "states")
    assert len(second.states) == len(first.states)
    resumed = [second.process(t) for t in txns[half:]]
    assert resumed == expected[half:]  # bit for bit


def test_save_load_keeps_fingerprint_and_values(saved_block, world_frame, tmp_path):
    block = SequenceBlock.load(saved_block)
    block.save(tmp_path / "copy")
    copy = SequenceBlock.load(tmp_path / "copy")
    assert copy.fingerprint == block.fingerprint
    assert copy.names == block.names
    txns = list(transactions_of(world_frame.head(500)))
    assert [block.process(t) for t in txns] == [copy.process(t) for t in txns]


def test_snapshot_of_another_model_is_refused(saved_block, world_frame, tmp_path):
    block = SequenceBlock.load(saved_block)
    for t in transactions_of(world_frame.head(10)):
        block.process(t)
    block.snapshot(tmp_path / "states")
    torch.manual_seed(0)
    other = SequenceBlock(SequenceModel(EncoderConfig()))
    with pytest.raises(SequenceError, match="snapshot was written by"):
        other.restore(tmp_path / "states")


def test_tampered_weights_are_refused(saved_block, tmp_path):
    block = SequenceBlock.load(saved_block)
    block.save(tmp_path / "copy")
    with np.load(tmp_path / "copy" / "weights.npz") as weights:
        arrays = {k: weights[k] for k in weights.files}
    arrays["h0"] = arrays["h0"] + 1.0
    np.savez(tmp_path / "copy" / "weights.npz", **arrays)
    with pytest.raises(SequenceError, match="weights hash to"):
        SequenceBlock.load(tmp_path / "copy")
