"""Monotonicity: raising a constrained feature never moves PD the wrong way, for any applicant."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from vigil.credit.features import BY_NAME, FEATURES, CreditHistory, loan_features
from vigil.credit.model import CreditModel

CONSTRAINED = [f.name for f in FEATURES if f.monotone]


def test_the_economics_constraints_are_the_ones_declared(model: CreditModel) -> None:
    assert set(CONSTRAINED) >= {
        "loan_to_revenue",
        "top_buyer_share",
        "buyer_default_share",
        "supplier_default_share",
        "network_risk",
        "age_years",
    }
    assert model.monotone == [BY_NAME[f].monotone for f in model.features]
    params = model.booster.dump_model()["monotone_constraints"]
    assert params == model.monotone


@pytest.mark.parametrize("feature", CONSTRAINED)
def test_raising_a_monotone_feature_never_lowers_risk_the_wrong_way(
    feature: str, model: CreditModel, history: CreditHistory, world: dict[str, pl.DataFrame]
) -> None:
    frame = loan_features(history, world["loans"].sample(150, seed=1))
    column = frame[feature].drop_nans().drop_nulls()
    lo, hi = float(column.min()), float(column.max())
    grid = np.linspace(lo - 0.5 * (hi - lo + 1), hi + 0.5 * (hi - lo + 1), 41)
    direction = BY_NAME[feature].monotone
    matrix = model.matrix(frame)
    j = model.features.index(feature)
    curves = []
    for value in grid:
        matrix[:, j] = value
        curves.append(model.pd(matrix))
    steps = np.diff(np.array(curves), axis=0) * direction  # rows: grid steps; columns: loans
    assert steps.min() >= -1e-12, f"{feature}: PD moved against its constraint"
