"""Fitting is deterministic and refuses what it cannot use."""

import polars as pl
import pytest

from vigil.sequence import SequenceBlock


def test_same_seed_same_model(world_frame):
    frame = world_frame.head(3_000)
    first = SequenceBlock.fit(frame, seed=3, epochs=1)
    second = SequenceBlock.fit(frame, seed=3, epochs=1)
    other = SequenceBlock.fit(frame, seed=4, epochs=1)
    assert first.fingerprint == second.fingerprint
    assert other.fingerprint != first.fingerprint


def test_unknown_parameter_and_missing_labels_are_errors(world_frame):
    with pytest.raises(TypeError, match="unknown sequence parameters"):
        SequenceBlock.fit(world_frame.head(100), hiden=8)
    with pytest.raises(ValueError, match="is_fraud"):
        SequenceBlock.fit(world_frame.head(100).drop("is_fraud"))
    no_fraud = world_frame.head(100).with_columns(pl.lit(False).alias("is_fraud"))
    with pytest.raises(ValueError, match="both fraud and legit"):
        SequenceBlock.fit(no_fraud, epochs=1)


def test_history_out_of_time_order_is_refused(world_frame):
    with pytest.raises(ValueError, match="time order"):
        SequenceBlock.fit(world_frame.head(100).reverse(), epochs=1)
