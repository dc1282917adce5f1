"""The graph layer's ring signals (L3): when they fire, what they say, what they weigh."""

import math

import numpy as np
import pytest

from vigil.engine.graph_signals import SIGNALS, GraphSignals, signal_rates

NAMES = (
    "amount_usd",
    "graph_payer_score",
    "graph_payee_score",
    "graph_payee_fraud_receivers",
    "graph_payee_fraud_senders",
    "graph_payer_received_fraud",
)


def vector(**values: float) -> list[float]:
    return [values.get(name, 0.0) for name in NAMES]


def test_only_signals_whose_features_the_engine_computes_are_kept():
    assert GraphSignals.of(["amount_usd", "payer_count_1m"], {}) is None
    layer = GraphSignals.of(NAMES, {})
    assert layer is not None
    fired = layer.reasons(vector(graph_payee_score=0.9, graph_payee_fraud_receivers=5))
    assert {r.code for r in fired} == {"payee_geniepath", "payee_ring_fraud"}


def test_a_ring_signal_sums_its_features_and_says_so_in_words():
    layer = GraphSignals(NAMES, {"payee_ring_fraud": {"fired": 40, "rate": 0.35}})
    (reason,) = layer.reasons(vector(graph_payee_fraud_receivers=2, graph_payee_fraud_senders=1))
    assert (reason.layer, reason.code, reason.weight) == ("graph", "payee_ring_fraud", 0.35)
    assert "(3 ties)" in reason.detail


def test_thresholds_missing_values_and_order_by_measured_rate():
    rates = {"payer_received_fraud": {"rate": 0.6}, "payer_geniepath": {"rate": 0.2}}
    layer = GraphSignals(NAMES, rates)
    assert layer.reasons(vector(graph_payer_score=0.49)) == []
    assert layer.reasons(vector(graph_payer_score=math.nan, graph_payee_score=math.nan)) == []
    fired = layer.reasons(vector(graph_payer_score=0.5, graph_payer_received_fraud=1))
    assert [r.code for r in fired] == ["payer_received_fraud", "payer_geniepath"]
    assert fired[1].detail == "GeniePath rates this payer's network 50% likely to be run for fraud"


def test_rates_are_the_fraud_share_among_the_payments_a_signal_fired_on():
    matrix = np.array(
        [
            vector(graph_payee_fraud_receivers=1),
            vector(graph_payee_fraud_senders=2),
            vector(graph_payee_fraud_receivers=1),
            vector(),
            vector(graph_payee_score=math.nan),
        ]
    )
    labels = np.array([1, 1, 0, 1, 1])
    rates = signal_rates(NAMES, matrix, labels)
    assert rates["payee_ring_fraud"] == {"fired": 3, "rate": pytest.approx(0.6667)}
    assert rates["payee_geniepath"] == {"fired": 0, "rate": 0.0}
    assert set(rates) == {s.code for s in SIGNALS if set(s.features) <= set(NAMES)}
