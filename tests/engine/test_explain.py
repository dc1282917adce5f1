import math

import pytest

from vigil.engine.explain import describe
from vigil.features import default_feature_names


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("payer_count_1m", 7, "7 payments by this payer in the last minute"),
        ("device_distinct_payer_7d", 5, "5 different payers with this device in the last 7 days"),
        ("payer_new_device", 1, "paid using a device this payer never used before"),
        ("payer_amount_ratio", 12.34, "amount is 12.3x the usual for this payer"),
        ("payer_secs_since_last", 7_200, "2.0 hours since the previous payment of this payer"),
        ("payer_in_ratio_24h", 0.97, "pays out 97% of what it received in the last 24 hours"),
        ("log_amount_usd", math.log1p(250.0), "amount of US$250.00"),
    ],
)
def test_phrases(name, value, words):
    assert describe(name, value) == words


def test_every_default_feature_has_a_sentence():
    for name in default_feature_names():
        text = describe(name, 1.0)
        assert "=" not in text, name
        assert describe(name, float("nan")).endswith("unknown")


def test_every_graph_feature_but_the_codes_and_coordinates_has_a_sentence():
    from vigil.graph.block import BlockConfig, feature_names

    for name in feature_names(BlockConfig(embedding_dims=2)):
        if name.endswith("_source") or "_emb_" in name:
            continue  # codes and raw coordinates: their name is all there is to say
        assert "=" not in describe(name, 1.0), name
