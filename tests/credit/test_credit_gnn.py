"""The GeniePath comparison: ego graphs as of each loan, and a model that trains and scores."""

from __future__ import annotations

import numpy as np
import polars as pl

from vigil.credit.features import CreditHistory, loan_applicants, loan_features
from vigil.credit.gnn import PROFILE, ego_graphs, train_geniepath


def _parts(history: CreditHistory, loans: pl.DataFrame):
    applicants = loan_applicants(history, loans)
    pairs = history.trade.pairs(applicants.firm, applicants.as_of)
    return applicants, pairs, loan_features(history, loans)


def test_ego_graphs_point_toward_each_applicant(
    history: CreditHistory, world: dict[str, pl.DataFrame]
) -> None:
    loans = world["loans"].sort("issued_at").tail(40)
    applicants, pairs, _ = _parts(history, loans)
    graphs = ego_graphs(history, applicants, pairs, np.zeros((40, 3)), fanout=5)
    source, target = graphs.edge_index.numpy()
    assert (graphs.owner[source] == graphs.owner[target]).all()  # trees never touch
    assert (graphs.owner[:40] == np.arange(40)).all()
    assert graphs.x.shape[1] == 3 + len(PROFILE)
    assert (graphs.x[:40, -1] == 1).all() and (graphs.x[40:, -1] == 0).all()  # is_seed
    first = graphs.edge_attr[:, 2].numpy() == 0
    assert (target[first] < 40).all()  # partners feed their applicant
    assert (target[~first] >= 40).all()  # second hop feeds a partner
    active = ((pairs.usd_365 > 0) & (pairs.counterparty >= 0)).sum()
    assert first.sum() == active


def test_geniepath_trains_and_gives_probabilities(
    history: CreditHistory, world: dict[str, pl.DataFrame]
) -> None:
    loans = world["loans"].sort("issued_at")[1_500:3_000]
    applicants, pairs, frame = _parts(history, loans)
    labels = loans["defaulted"].to_numpy()
    model = train_geniepath(history, applicants, pairs, frame, labels, epochs=2, hidden=8)
    pd = model.pd(history, applicants, pairs, frame)
    assert pd.shape == (1_500,) and ((pd > 0) & (pd < 1)).all()
    again = train_geniepath(history, applicants, pairs, frame, labels, epochs=2, hidden=8)
    np.testing.assert_allclose(again.pd(history, applicants, pairs, frame), pd, rtol=1e-6)
