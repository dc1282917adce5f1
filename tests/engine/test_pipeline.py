"""decide(): idempotent, degraded but never blocked, equal to the batch path, with reasons."""

from dataclasses import replace

import pytest

from vigil.engine.factory import build_engine
from vigil.engine.pipeline import Budgets, rows_for
from vigil.features.replay import sorted_transactions, transactions_of
from vigil.models.bundle import ModelBundle
from vigil.schema import FieldError
from vigil.schema.records import TRANSACTION_FIELDS


@pytest.fixture(scope="module")
def stream(tiny_world):
    return list(transactions_of(sorted_transactions(tiny_world)))


@pytest.fixture
def engine(tiny_world, tiny_bundle):
    return build_engine(tiny_world, ModelBundle.load(tiny_bundle))


def test_decision_carries_versions_latency_and_a_calibrated_score(engine, stream):
    decision = engine.decide(stream[0])
    assert decision.model_bundle_version == engine.bundle.version
    assert decision.rule_pack_version
    assert 0.0 <= decision.score <= 1.0
    assert set(decision.latency_us) == {"features", "rules", "model", "policy", "total"}
    assert decision.latency_us["total"] >= decision.latency_us["features"]


def test_repeated_txn_id_returns_the_first_decision_and_leaves_state(engine, stream):
    first = engine.decide(stream[0])
    flows = len(engine.features.store)
    again = engine.decide(replace(stream[0], amount=stream[0].amount * 100))
    assert again is first
    assert len(engine.features.store) == flows


def test_bad_payload_is_refused_before_any_state_changes(engine):
    with pytest.raises(FieldError, match="amount"):
        engine.decide(
            {
                "txn_id": "x",
                "ts": "2026-01-02T00:00:00Z",
                "payer_id": "a",
                "payee_id": "b",
                "amount": -3,
                "currency": "SGD",
                "channel": "card",
                "jurisdiction": "SG",
            }
        )
    assert len(engine.features.store) == 0


def test_batch_path_equals_one_by_one(tiny_world, tiny_bundle, stream):
    bundle = ModelBundle.load(tiny_bundle)
    one, batch = build_engine(tiny_world, bundle), build_engine(tiny_world, bundle)
    # no layer skipped or over budget on a slow, shared machine
    one.budgets = Budgets(rules_us=10**7, model_us=10**7, deadline_us=10**8)
    singles = [one.decide(t) for t in stream[:600]]
    assert not any(d.degraded for d in singles)
    batched = batch.decide_batch(stream[:300]) + batch.decide_batch(stream[300:600])
    for a, b in zip(singles, batched, strict=True):
        assert (a.action, a.score, a.reasons) == (b.action, b.score, b.reasons)


def test_missed_deadline_skips_layers_and_marks_degraded(tiny_world, tiny_bundle, stream):
    engine = build_engine(tiny_world, ModelBundle.load(tiny_bundle))
    engine.budgets = Budgets(deadline_us=0)
    decision = engine.decide(stream[0])
    assert decision.degraded
    assert decision.latency_us["model"] == 0 and decision.latency_us["rules"] == 0
    assert decision.action in {"approve", "review", "decline"}


def test_non_approve_decisions_explain_themselves_in_words(tiny_world, tiny_bundle, stream):
    engine = build_engine(tiny_world, ModelBundle.load(tiny_bundle))
    flagged = [d for d in engine.decide_batch(stream) if d.action != "approve"]
    assert flagged
    with_model = [d for d in flagged if any(r.layer == "model" for r in d.reasons)]
    assert with_model
    reason = next(r for r in with_model[0].reasons if r.layer == "model")
    assert reason.weight > 0 and " " in reason.detail


def test_swapping_in_a_bundle_for_other_features_is_refused(engine):
    bundle = engine.bundle
    engine.features.names = engine.features.names[:-1]
    with pytest.raises(ValueError, match="other features"):
        engine.swap_bundle(bundle)


def test_txn_id_repeated_inside_a_batch_is_decided_once(engine, stream):
    twice = [stream[0], replace(stream[0], amount=stream[0].amount * 50), stream[1]]
    decisions = engine.decide_batch(twice)
    assert decisions[0] is decisions[1]
    assert engine.recall(stream[0].txn_id) is decisions[0]
    assert (
        engine.features.store.get_many([f"pair:{stream[0].payer_id}>{stream[0].payee_id}:out"])[
            0
        ].events
        == 1
    )


def test_rule_rows_put_the_fields_before_the_vector_or_gather_by_name(stream):
    txn = stream[0]
    fields = [getattr(txn, name) for name in TRANSACTION_FIELDS]
    assert rows_for((*TRANSACTION_FIELDS, "a", "b"), ["a", "b"])(txn, [1.0, 2.0]) == [
        *fields,
        1.0,
        2.0,
    ]
    # other learnt features, a name nobody computes, and a feature shadowed by a field
    gather = rows_for(("b", "amount", "unknown", "a"), ["a", "b", "amount"])
    assert list(gather(txn, [1.0, 2.0, 99.0]))[:4] == [2.0, txn.amount, None, 1.0]
