"""A bundle with a learnt feature block (the sequence encoder) end to end: trained through the
one feature path, saved, reloaded, replayed in one and two processes with equal decisions."""

import json
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from vigil.engine.factory import load_engine
from vigil.engine.replay import replay
from vigil.models.bundle import ModelBundle
from vigil.models.train import train_bundle

pytestmark = pytest.mark.slow
TRAIN_UNTIL = datetime(2026, 1, 9, tzinfo=UTC)  # as the shared tiny bundle


@pytest.fixture(scope="module")
def sequence_bundle(tiny_world, tmp_path_factory):
    out = tmp_path_factory.mktemp("sequence-models")
    train_bundle(
        tiny_world, out, until=TRAIN_UNTIL, progress=False, blocks=["sequence"], compile=False
    )
    return out


def test_the_bundle_records_and_reloads_its_block(sequence_bundle):
    bundle = ModelBundle.load(sequence_bundle)
    assert bundle.blocks == ["sequence"]
    assert "seq_score" in bundle.features and "blocks_fitted_until" in bundle.extra
    manifest = json.loads((sequence_bundle / "manifest.json").read_text())
    assert manifest["blocks"] == ["sequence"]
    engine = load_engine(sequence_bundle)
    assert engine.features.names == bundle.features
    assert [b.kind for b in engine.features.blocks] == ["sequence"]


def test_the_model_learns_block_features_only_from_out_of_sample_rows(sequence_bundle):
    """The GBDT saw the block's values as missing where the block had been fitted, so it
    still splits on them: a model that never used them would show zero gain."""
    bundle = ModelBundle.load(sequence_bundle)
    gains = dict(
        zip(
            bundle.booster.feature_name(),
            bundle.booster.feature_importance("gain"),
            strict=True,
        )
    )
    assert sum(gain for name, gain in gains.items() if name.startswith("seq_")) > 0


def test_replays_in_one_and_two_processes_agree_with_a_block(tmp_path, tiny_world, sequence_bundle):
    one = replay(tiny_world, sequence_bundle, tmp_path / "one", progress=False, workers=1)
    two = replay(tiny_world, sequence_bundle, tmp_path / "two", progress=False, workers=2)
    assert one.decided == two.decided > 0
    columns = ["txn_id", "action", "score", "reasons", "degraded"]
    a = pl.read_parquet(tmp_path / "one" / "decisions.parquet").select(columns)
    b = pl.read_parquet(tmp_path / "two" / "decisions.parquet").select(columns)
    assert a.equals(b)
    assert np.isfinite(a.get_column("score").to_numpy()).all()
