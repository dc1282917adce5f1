"""The one-feature-path promise: the engine's live features equal the training features, exactly."""

import heapq
from datetime import timedelta

import numpy as np
import polars as pl

from vigil.engine.factory import build_engine
from vigil.features.replay import feature_frame
from vigil.schema import read_table


def test_live_engine_features_equal_training_matrix(tiny_world):
    offline = feature_frame(tiny_world)
    engine = build_engine(tiny_world, bundle=None)
    names = engine.features.names
    recorded: list[list[float]] = []
    process = engine.features.process
    engine.features.process = lambda txn, **kw: recorded.append(process(txn, **kw)) or recorded[-1]

    rows = read_table(tiny_world, "transactions").sort("ts", maintain_order=True)
    labels = [
        (row["label_ts"] or row["ts"] + timedelta(days=30), row["txn_id"], row["is_fraud"])
        for row in rows.select("ts", "label_ts", "txn_id", "is_fraud").iter_rows(named=True)
    ]
    heapq.heapify(labels)
    for row in rows.drop("is_fraud", "typology", "label_ts").iter_rows(named=True):
        while labels and labels[0][0] < row["ts"]:
            _, txn_id, is_fraud = heapq.heappop(labels)
            engine.feedback(txn_id, is_fraud)
        payload = {**row, "ts": row["ts"].isoformat()}  # as it would arrive over HTTP
        engine.decide(payload)

    live = np.asarray(recorded)
    assert live.shape == (offline.height, len(names))
    np.testing.assert_array_equal(live, offline.select(names).to_numpy())
    # the check has teeth: labels moved features, and no feature is constant everywhere
    assert offline.get_column("payee_fraud_labels").max() > 0
    assert (np.nanstd(offline.select(names).to_numpy(), axis=0) > 0).sum() > 0.8 * len(names)


def test_training_rows_before_until_match_a_full_replay(tiny_world):
    """Cutting history at --until changes nothing about the rows before it."""
    full = feature_frame(tiny_world)
    until = full.get_column("ts").sort()[full.height // 2]
    cut = feature_frame(tiny_world, until=until)
    assert cut.height == full.filter(pl.col("ts") < until).height
    assert cut.equals(full.head(cut.height))
