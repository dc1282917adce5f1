"""The MLP kind of bundle: a numpy forward pass equal to torch's, integrated-gradient reasons,
and a manifest that says which kind of model it holds, beside LightGBM bundles unchanged."""

import json
import shutil

import numpy as np
import pytest
import torch

from vigil.features.replay import world_features
from vigil.federated.model import make_model, predict, prepare
from vigil.models.bundle import BOOSTER, MANIFEST, BundleError, ModelBundle
from vigil.models.calibration import Calibrator
from vigil.models.mlp import MlpError, MlpScorer


def _inputs(rng, rows, n):
    """Engine-like rows: counts and amounts over many scales, negatives, missing and infinite."""
    x = rng.lognormal(0.0, 3.0, (rows, n)) * rng.choice([-1.0, 1.0, 1.0, 1.0], (rows, n))
    x[rng.random((rows, n)) < 0.1] = np.nan
    x[0, 0], x[1, 1] = np.inf, -np.inf
    return x


def _scorer(n, hidden=(16, 8), seed=0, standardise=True):
    model = make_model(n, hidden, seed)
    arrays = [p.detach().numpy().copy() for p in model.parameters()]
    rng = np.random.default_rng(seed)
    shift = rng.normal(0.0, 1.0, n) if standardise else None
    scale = rng.uniform(0.5, 2.0, n) if standardise else None
    return model, MlpScorer.from_arrays(arrays, shift, scale)


def test_the_numpy_forward_pass_equals_torch_on_the_training_transform():
    rng = np.random.default_rng(1)
    x = _inputs(rng, 500, 12)
    model, scorer = _scorer(12, standardise=False)
    np.testing.assert_allclose(scorer.raw_scores(x), predict(model, prepare(x)), atol=1e-6)
    model, scorer = _scorer(12, standardise=True)
    z = ((prepare(x).astype(np.float64) - scorer.shift) / scorer.scale).astype(np.float32)
    np.testing.assert_allclose(scorer.raw_scores(x), predict(model, z), atol=1e-6)
    assert abs(scorer.raw_scores(x[3:4])[0] - scorer.raw_scores(x)[3]) < 1e-12  # one row alike


def test_integrated_gradients_add_up_to_the_logit_and_are_the_engine_reasons():
    rng = np.random.default_rng(2)
    _, scorer = _scorer(12, hidden=(32, 16), seed=3)
    fine = MlpScorer(*_layers(scorer), scorer.shift, scorer.scale, steps=2048)
    attribution = scorer.attribution()
    for row in _inputs(rng, 20, 12)[2:]:
        logit = scorer.logits(row.reshape(1, -1))[0]
        # the midpoint sum errs only on the path's segments that cross a ReLU kink, so it
        # converges to the exact integral (completeness) as the steps grow
        exact = fine.contributions(row)
        assert abs(exact.sum() - logit) <= 1e-3 * np.abs(exact[:-1]).sum() + 1e-9
        contributions = scorer.contributions(row)
        assert abs(contributions.sum() - logit) <= 0.05 * np.abs(exact[:-1]).sum() + 1e-9
        np.testing.assert_allclose(attribution(row), contributions[:-1], rtol=0, atol=1e-12)
    rows = _inputs(rng, 5, 12)
    assert np.array_equal(attribution(rows), np.vstack([attribution(r) for r in rows]))
    # a feature at its baseline value (here: transformed to 0) gets no credit
    row = np.sign(scorer.shift) * np.expm1(np.abs(scorer.shift))
    row[1] = 50.0
    contributions = scorer.contributions(row)
    assert np.count_nonzero(np.abs(contributions[:-1]) > 1e-9) <= 1


def test_a_torch_model_gives_the_same_gradient_as_the_numpy_backward_pass():
    """Integrated gradients at one step is the gradient at the path's midpoint times the input."""
    rng = np.random.default_rng(4)
    model, scorer = _scorer(10, hidden=(16,), seed=5, standardise=False)
    one_step = MlpScorer.from_arrays(scorer.arrays())
    one_step.steps, one_step._alphas = 1, np.array([[0.5]])
    row = _inputs(rng, 4, 10)[3]
    z = torch.tensor(prepare(row.reshape(1, -1))[0] * 0.5, requires_grad=True)
    model(z.unsqueeze(0)).sum().backward()
    expected = z.grad.numpy().astype(np.float64) * prepare(row.reshape(1, -1))[0]
    np.testing.assert_allclose(one_step.attribution()(row), expected, rtol=1e-5, atol=1e-6)


def test_bad_weights_and_inputs_are_refused_with_what_is_wrong():
    with pytest.raises(MlpError, match="do not chain"):
        MlpScorer([np.ones((4, 3)), np.ones((1, 5))], [np.ones(4), np.ones(1)])
    with pytest.raises(MlpError, match="one logit"):
        MlpScorer([np.ones((2, 3))], [np.ones(2)])
    with pytest.raises(MlpError, match="scale must be positive"):
        MlpScorer([np.ones((1, 3))], [np.ones(1)], scale=np.zeros(3))
    _, scorer = _scorer(6)
    with pytest.raises(MlpError, match=r"expected \(rows, 6\)"):
        scorer.raw_scores(np.ones((2, 5)))


def _layers(scorer):
    arrays = scorer.arrays()
    return arrays[0::2], arrays[1::2]


def _mlp_bundle(seed=0):
    names = world_features(None).names
    _, scorer = _scorer(len(names), seed=seed)
    return ModelBundle(
        booster=None,
        scorer=scorer,
        calibrator=Calibrator((0.0, 0.5, 1.0), (0.0, 0.3, 1.0)),
        features=names,
        categorical=[],
        spec_fingerprint=world_features(None).fingerprint,
        data_fingerprint="test",
        metrics={"validation_fraud_rate": 0.01},
    )


def test_an_mlp_bundle_saves_loads_and_scores_as_before(tiny_bundle, tmp_path):
    folder = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, folder)  # a GBDT bundle's folder, overwritten by an MLP
    bundle = _mlp_bundle()
    bundle.save(folder, compile=True)  # nothing to compile: accepted, and no library written
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["model_kind"] == "mlp" and manifest["compiled"] is False
    assert not (folder / BOOSTER).exists()
    loaded = ModelBundle.load(folder)
    assert loaded.model_kind == "mlp" and loaded.version == bundle.version
    assert loaded.version.startswith("mlp-") and loaded.booster is None
    x = _inputs(np.random.default_rng(5), 50, len(bundle.features))
    np.testing.assert_allclose(loaded.scores(x), bundle.scores(x), rtol=0, atol=1e-12)
    assert loaded.contributions(x[2]).shape == (len(bundle.features) + 1,)
    assert _mlp_bundle(seed=1).version != bundle.version  # other weights, other version


def test_lightgbm_bundles_say_their_kind_and_old_manifests_still_load(tiny_bundle, tmp_path):
    bundle = ModelBundle.load(tiny_bundle)
    assert bundle.model_kind == "gbdt" and bundle.version.startswith("gbdt-")
    assert json.loads((tiny_bundle / MANIFEST).read_text()).get("model_kind", "gbdt") == "gbdt"
    old = tmp_path / "old"
    shutil.copytree(tiny_bundle, old)
    manifest = json.loads((old / MANIFEST).read_text())
    manifest.pop("model_kind", None)  # as written before bundles had a model kind
    (old / MANIFEST).write_text(json.dumps(manifest))
    loaded = ModelBundle.load(old)
    assert loaded.version == bundle.version and loaded.model_kind == "gbdt"
    row = np.zeros(len(bundle.features))
    np.testing.assert_allclose(loaded.attribution()(row), bundle.attribution()(row))


def test_a_bundle_of_an_unknown_kind_or_two_models_is_refused(tiny_bundle, tmp_path):
    folder = tmp_path / "odd"
    shutil.copytree(tiny_bundle, folder)
    manifest = json.loads((folder / MANIFEST).read_text())
    (folder / MANIFEST).write_text(json.dumps({**manifest, "model_kind": "svm"}))
    with pytest.raises(BundleError, match="model_kind is 'svm'"):
        ModelBundle.load(folder)
    booster = ModelBundle.load(tiny_bundle).booster
    with pytest.raises(BundleError, match="exactly one model"):
        ModelBundle(
            booster=booster,
            scorer=_mlp_bundle().scorer,
            calibrator=Calibrator((0.0, 1.0), (0.0, 1.0)),
            features=[],
            categorical=[],
            spec_fingerprint="",
            data_fingerprint="",
            metrics={},
        )
