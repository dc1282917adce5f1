"""Path attributions add up to the raw score, and agree with TreeSHAP on what matters most."""

import lightgbm as lgb
import numpy as np

from vigil.models.attribution import PathAttribution


def test_contributions_sum_to_the_raw_score_with_categories_and_missing_values():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4_000, 8))
    x[rng.random(x.shape) < 0.1] = np.nan
    x[:, 3] = rng.integers(0, 5, size=len(x))
    y = (np.nan_to_num(x[:, 0]) + (x[:, 3] == 2) + rng.normal(scale=0.5, size=len(x))) > 1.2
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 15, "verbose": -1},
        lgb.Dataset(x, y.astype(int), categorical_feature=[3]),
        60,
    )
    attribution = PathAttribution(booster)
    for row in x[:200]:
        raw = booster.predict(row.reshape(1, -1), raw_score=True)[0]
        assert np.isclose(attribution(row).sum() + attribution.bias, raw, atol=1e-9)
    # a matrix in, one row of contributions out per row, exactly as one row at a time
    together = attribution(x[:50])
    assert np.array_equal(together, np.vstack([attribution(r) for r in x[:50]]))
    top_path = [np.argmax(attribution(r)) for r in x[:200]]
    top_shap = [
        np.argmax(booster.predict(r.reshape(1, -1), pred_contrib=True)[0][:-1]) for r in x[:200]
    ]
    assert np.mean(np.array(top_path) == np.array(top_shap)) > 0.7
