"""Scorecard scaling, grades, and reason codes: the arithmetic and the applicant's reasons."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from vigil.credit.features import BY_NAME, FEATURES, CreditHistory, loan_features
from vigil.credit.scorecard import (
    GRADES,
    REASONS,
    Scaling,
    describe,
    grade_of,
    grade_table,
    reasons,
)
from vigil.credit.scoring import CreditScorer


def test_scaling_puts_600_at_50_to_1_and_doubles_odds_every_20_points() -> None:
    s = Scaling()
    assert s.score(1 / 51) == pytest.approx(600)
    assert s.score(1 / 101) == pytest.approx(620)
    assert s.score(1 / 26) == pytest.approx(580)
    p = np.array([0.001, 0.02, 0.3, 0.9])
    np.testing.assert_allclose(s.pd(s.score(p)), p)
    assert np.all(np.diff(s.score(np.linspace(0.001, 0.999, 50))) < 0)


def test_grades_are_one_pdo_wide_from_a_down() -> None:
    assert [grade_of(x) for x in (700, 660, 659.9, 640, 620, 600, 580, 560, 540, 539.9, 0)] == [
        "A", "A", "B", "B", "C", "D", "E", "F", "G", "H", "H",
    ]  # fmt: skip
    table = grade_table()
    assert [row["grade"] for row in table] == list(GRADES)
    for row in table[:-1]:
        assert grade_of(row["min_score"]) == row["grade"]
        assert row["max_pd"] == pytest.approx(float(Scaling().pd(row["min_score"])))


def test_reasons_sum_features_per_code_and_keep_only_costs() -> None:
    features = ["top_buyer_share", "buyer_hhi", "loan_to_revenue", "age_years", "sector"]
    codes = {f: BY_NAME[f].reason for f in features}
    contributions = np.array([0.2, 0.1, 0.25, -0.3, 0.01, -3.0])  # last: the average margin
    values = {
        "top_buyer_share": 0.9,
        "buyer_hhi": 0.82,
        "n_buyers": 2,
        "loan_to_revenue": 0.6,
        "age_years": 25.0,
        "sector": "retail",
    }
    got = reasons(contributions, features, codes, values, points_per_margin=10.0)
    assert [r.code for r in got] == ["buyer_concentration", "leverage"]  # sector: < 0.5 points
    assert got[0].points == pytest.approx(3.0) and got[1].points == pytest.approx(2.5)
    assert got[0].reason == "High dependence on one buyer"
    assert got[0].detail == "largest buyer is 90% of trade sales (HHI 0.82, 2 buyers)"
    assert got[1].detail == "loan is 60% of annual revenue"
    assert reasons(contributions, features, codes, values, 10.0, top=1)[0].code == got[0].code
    assert reasons(-contributions, features, codes, values, 10.0)[0].code == "young_business"


def test_every_feature_has_a_reason_with_wording_and_detail(
    history: CreditHistory, world: dict[str, pl.DataFrame]
) -> None:
    row = loan_features(history, world["loans"].tail(1)).to_dicts()[0]
    for feature in FEATURES:
        assert feature.reason in REASONS, feature.name
        assert describe(feature.reason, row), feature.reason


def test_points_of_all_reasons_add_up_to_the_score(
    scorer: CreditScorer, history: CreditHistory, world: dict[str, pl.DataFrame]
) -> None:
    """score = score of the average margin - sum of every code's points: reasons explain
    the whole distance, exactly, because PD is an affine map of the margin's log-odds."""
    frame = loan_features(history, world["loans"].tail(50))
    model = scorer.model
    matrix = model.matrix(frame)
    contributions = model.contributions(matrix)
    codes = {name: BY_NAME[name].reason for name in model.features}
    pd, score, why = scorer.assess(frame)
    for i in range(len(frame)):
        average = float(scorer.scaling.score(model.calibration(contributions[i, -1])))
        every = reasons(
            contributions[i],
            model.features,
            codes,
            frame.row(i, named=True),
            scorer.points_per_margin,
            top=100,
            min_points=-math.inf,
        )
        assert score[i] == pytest.approx(average - sum(r.points for r in every), abs=1e-6)
        # The reasons given are the costliest codes, costliest first, at most four.
        given = [r.points for r in why[i]]
        assert given == sorted(given, reverse=True) and len(given) <= 4
        assert all(p >= 0.5 for p in given)
        assert given == [r.points for r in every if r.points >= 0.5][: len(given)]
    riskiest = int(np.argmax(pd))
    assert why[riskiest], "the riskiest applicant must be told why"
