"""Federated bagging of LightGBM trees yields an ordinary model: LightGBM, lleaves, attribution."""

import lightgbm as lgb
import numpy as np
from flwr.app import Context, RecordDict

from vigil.federated.clientapp import global_scores, grow_trees
from vigil.federated.config import FederatedConfig
from vigil.federated.pool import PoolData
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


def test_a_client_scores_only_the_new_trees_and_matches_the_whole_model():
    rng = np.random.default_rng(1)
    x, y = _client(3000, 1.0, rng)
    rows = np.arange(3000)
    data = PoolData("XX", NAMES, "spec", "data", x, y, rows[:2000], rows[2000:2500], rows[2500:])
    context = Context(run_id=1, node_id=1, node_config={}, state=RecordDict(), run_config={})
    cfg = FederatedConfig(model="gbdt", local_trees=2, num_leaves=4)

    blocks: list[str] = []
    for round_ in range(3):
        text = assemble(NAMES, [], blocks) if blocks else ""
        init = global_scores(context, data, "fit", text) if blocks else None
        if blocks:
            whole = booster_from(NAMES, [], blocks).predict(x[:2000], raw_score=True)
            np.testing.assert_allclose(init, whole, atol=1e-9)
        blocks += [scale_tree(b, 0.5) for b in grow_trees(data, init, cfg, seed=round_)]
    assert len(blocks) == 6
    # a model that does not extend the one last seen (its first tree differs) is scored afresh
    for model in (blocks[1:], blocks):
        scores = global_scores(context, data, "fit", assemble(NAMES, [], model))
        whole = booster_from(NAMES, [], model).predict(x[:2000], raw_score=True)
        np.testing.assert_allclose(scores, whole, atol=1e-9)
