"""Federated bagging of LightGBM trees yields an ordinary model: LightGBM, lleaves, attribution."""

import lightgbm as lgb
import numpy as np

from vigil.federated.trees import assemble, booster_from, leaf_counts, new_trees, scale_tree
from vigil.models.attribution import PathAttribution

NAMES = ["amount", "count", "ratio", "channel_code"]
PARAMS = {"objective": "binary", "num_leaves": 4, "min_data_in_leaf": 40, "verbose": -1}


def _client(n, shift, rng):
    x = rng.normal(size=(n, 4))
    x[:, 3] = rng.integers(0, 5, n)
    y = (x[:, 0] + shift * (x[:, 3] > 2) + rng.normal(size=n) > 1).astype(int)
    return x, y


def test_merged_trees_score_as_the_weighted_sum_of_the_clients_steps(tmp_path):
    rng = np.random.default_rng(0)
    clients = [_client(2000, 0.0, rng), _client(1000, 1.5, rng)]
    weights = [np.float64(2 / 3), 1 / 3]  # a numpy weight, as a share of rows often is
    blocks: list[str] = []
    expected = np.zeros(3000)
    everyone = np.vstack([x for x, _ in clients])
    for _ in range(3):
        base = booster_from(NAMES, ["channel_code"], blocks) if blocks else None
        step = []
        for (x, y), w in zip(clients, weights, strict=True):
            data = lgb.Dataset(x, y, feature_name=NAMES, categorical_feature=["channel_code"])
            booster = lgb.train(PARAMS, data, num_boost_round=2, init_model=base)
            grown = new_trees(booster, len(blocks))
            assert len(grown) == 2
            assert all(min(leaf_counts(b)) >= 40 for b in grown)
            alone = lgb.Booster(model_str=assemble(NAMES, ["channel_code"], grown))
            expected += w * alone.predict(everyone, raw_score=True)
            step += [scale_tree(b, w) for b in grown]
        blocks += step
    merged = booster_from(NAMES, ["channel_code"], blocks)
    raw = merged.predict(everyone, raw_score=True)
    np.testing.assert_allclose(raw, expected, atol=1e-9)
    attribution = PathAttribution(merged)
    assert abs(attribution(everyone[0]).sum() + attribution.bias - raw[0]) < 1e-9

    import lleaves

    (tmp_path / "model.txt").write_text(merged.model_to_string())
    compiled = lleaves.Model(model_file=str(tmp_path / "model.txt"))
    compiled.compile(cache=str(tmp_path / "model.so"))
    np.testing.assert_allclose(
        compiled.predict(everyone, n_jobs=1), merged.predict(everyone), atol=1e-12
    )
