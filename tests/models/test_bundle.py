"""The bundle's compiled scoring path must give LightGBM's own numbers."""

import numpy as np

from vigil.features.replay import feature_frame
from vigil.models.bundle import COMPILED, ModelBundle


def test_a_trained_bundle_scores_with_its_compiled_booster(tiny_bundle, tiny_world):
    bundle = ModelBundle.load(tiny_bundle)
    assert bundle.compiled and (tiny_bundle / COMPILED).exists()
    frame = feature_frame(tiny_world).head(3_000)
    matrix = frame.select(bundle.features).to_numpy().astype(np.float64)
    expected = bundle.booster.predict(matrix, num_threads=1)
    np.testing.assert_allclose(bundle.raw_scores(matrix), expected, rtol=0, atol=1e-12)
    assert abs(bundle.raw_scores(matrix[:1].copy())[0] - expected[0]) < 1e-12


def test_saving_without_compiling_drops_a_library_of_an_older_model(tiny_bundle, tmp_path):
    bundle = ModelBundle.load(tiny_bundle)
    bundle.save(tmp_path, compile=True)
    assert (tmp_path / COMPILED).exists()
    bundle.save(tmp_path)
    assert not (tmp_path / COMPILED).exists()
    assert not ModelBundle.load(tmp_path).compiled
