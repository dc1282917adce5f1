"""A bundle with the graph block end to end: its ring signals' measured rates, their reasons on
live decisions, and their part in the score when the model is skipped."""

from datetime import UTC, datetime

import polars as pl
import pytest

from vigil.engine.factory import load_engine
from vigil.engine.graph_signals import GraphSignals
from vigil.engine.pipeline import Budgets
from vigil.features.replay import sorted_transactions, transactions_of
from vigil.models.bundle import ModelBundle
from vigil.models.train import train_bundle

pytestmark = pytest.mark.slow
TRAIN_UNTIL = datetime(2026, 1, 9, tzinfo=UTC)  # as the shared tiny bundle
UNHURRIED = Budgets(rules_us=10**9, model_us=10**9, deadline_us=10**10, blocks_us=10**9)


@pytest.fixture(scope="module")
def graph_bundle(tiny_world, tmp_path_factory):
    out = tmp_path_factory.mktemp("graph-models")
    train_bundle(
        tiny_world, out, until=TRAIN_UNTIL, progress=False, blocks=["graph"], compile=False
    )
    return out


@pytest.fixture(scope="module")
def held_out(tiny_world):
    return list(
        transactions_of(sorted_transactions(tiny_world).filter(pl.col("ts") >= TRAIN_UNTIL))
    )


def test_the_bundle_records_each_signals_rate_out_of_sample(graph_bundle):
    bundle = ModelBundle.load(graph_bundle)
    rates = bundle.extra["graph_signals"]
    assert "payee_ring_fraud" in rates and "payee_geniepath" in rates
    for measured in rates.values():
        assert measured["fired"] >= 0 and 0.0 <= measured["rate"] <= 1.0
    assert any(measured["fired"] > 0 for measured in rates.values())


def test_graph_reasons_come_on_decisions_not_approved_with_the_measured_rates(
    graph_bundle, held_out
):
    engine = load_engine(graph_bundle)
    engine.budgets = UNHURRIED
    rates = ModelBundle.load(graph_bundle).extra["graph_signals"]
    decisions = [engine.decide(txn) for txn in held_out]
    graph_reasons = [(d, r) for d in decisions for r in d.reasons if r.layer == "graph"]
    assert graph_reasons, "no ring signal fired on a flagged payment of the held-out days"
    for decision, reason in graph_reasons:
        assert decision.action != "approve"
        assert reason.weight == rates[reason.code]["rate"]
        assert "=" not in reason.detail


def test_without_the_model_the_ring_signals_raise_the_fallback_score(graph_bundle, held_out):
    """A model with no time left leaves the score to the base rate, the rules and the graph
    signals (noisy-OR); a second engine in step gives the vectors the signals read."""
    bundle = ModelBundle.load(graph_bundle)
    engine = load_engine(graph_bundle)
    engine.budgets = Budgets(rules_us=0, model_us=10**9, deadline_us=10**8, blocks_us=10**9)
    twin = load_engine(graph_bundle)
    layer = GraphSignals.of(twin.features.names, bundle.extra["graph_signals"])
    base = bundle.metrics["validation_fraud_rate"]
    raised = 0
    for txn in held_out:
        decision = engine.decide(txn)
        signals = layer.reasons(twin.features.process(txn))
        keep = 1.0 - base
        for reason in decision.reasons:
            if reason.layer == "rules":
                keep *= 1.0 - reason.weight
        without_graph = 1.0 - keep
        for reason in signals:
            keep *= 1.0 - reason.weight
        assert decision.degraded and decision.score == pytest.approx(1.0 - keep)
        raised += decision.score > without_graph + 1e-9
    assert raised > 0
