"""The policy picks the cheapest action given the operator's prices, within the review budget."""

import pytest

from vigil.engine.policy import Policy, PolicyConfig


def test_small_low_risk_payment_is_approved():
    assert Policy().decide(0.001, 20.0, "person").action == "approve"


def test_costs_follow_the_documented_formulas():
    config = PolicyConfig(review_cost_usd=3.0, review_catch_rate=0.9)
    approve, review, decline = Policy(config).costs(0.1, 1_000.0, "person")
    assert approve == pytest.approx(100.0)
    assert review == pytest.approx(3.0 + 0.1 * 1_000 * 0.1 + 0.9 * 4.0)
    assert decline == pytest.approx(0.9 * (25.0 + 0.02 * 1_000))


def test_near_certain_large_fraud_is_declined_and_mid_risk_reviewed():
    policy = Policy()
    assert policy.decide(0.95, 5_000.0, "person").action == "decline"
    assert policy.decide(0.05, 2_000.0, "person").action == "review"


def test_friction_per_segment_changes_the_decision():
    cheap = PolicyConfig(friction_decline_usd={"default": 1.0})
    dear = PolicyConfig(friction_decline_usd={"default": 10_000.0})
    assert Policy(cheap).decide(0.5, 300.0, "business").action == "decline"
    assert Policy(dear).decide(0.5, 300.0, "business").action != "decline"


def test_rule_floor_raises_but_never_lowers():
    policy = Policy()
    assert policy.decide(0.0001, 5.0, "person", floor="review").action == "review"
    assert policy.decide(0.99, 9_000.0, "person", floor="review").action == "decline"


def test_review_budget_caps_reviews_over_the_window():
    policy = Policy(PolicyConfig(review_budget=0.1, budget_window=100))
    actions = [policy.decide(0.05, 2_000.0, "person").action for _ in range(100)]
    assert actions.count("review") <= 11
    assert policy.decide(0.05, 2_000.0, "person", floor="review").action == "review"


def test_bad_config_is_refused_with_its_name():
    with pytest.raises(ValueError, match="review_catch_rate"):
        PolicyConfig(review_catch_rate=1.5)
