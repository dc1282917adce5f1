"""Recall at a fixed false-positive rate in `vigil claims compare`: the payments engine's
definition (threshold read off the honest claims, strictly above it), per fraud kind."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vigil.evaluation.metrics import compute_metrics
from vigil.graph.claims import _recall_of, fpr_prefix, fpr_table, markdown_table, recall_at_fpr


def _hand_made() -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """1,000 honest claims scored 0, 1, ..., 999; four ring frauds and four lone ones placed
    around the thresholds (989 at 1% FPR, 998 at 0.1%), one lone fraud tied with an honest
    claim at 989 and one ring fraud tied at 998."""
    honest = np.arange(1000, dtype=np.float64)
    ring = np.array([999.5, 998.0, 995.0, 500.0])
    lone = np.array([997.5, 990.5, 989.0, 10.0])
    raw = np.concatenate([honest, ring, lone])
    labels = np.concatenate([np.zeros(1000), np.ones(8)]).astype(np.int64)
    kind = np.array(["honest"] * 1000 + ["ring"] * 4 + ["lone"] * 4)
    return raw, labels, {"ring": kind == "ring", "lone": kind == "lone"}


def test_recall_at_fpr_on_a_hand_made_set():
    raw, labels, groups = _hand_made()

    # 1%: 10 false alarms allowed of 1,000 honest claims; the threshold is the 11th highest
    # honest score, 989, and only scores strictly above it are caught (990..999 honest).
    at1 = recall_at_fpr(raw, labels, 0.01, groups)
    assert at1["threshold"] == 989.0
    assert at1["fpr"] == pytest.approx(0.01)
    assert at1["recall_ring"] == pytest.approx(3 / 4)  # 999.5, 998, 995; not 500
    assert at1["recall_lone"] == pytest.approx(2 / 4)  # 997.5, 990.5; not 989 (tied), not 10
    assert at1["recall"] == pytest.approx(5 / 8)

    # 0.1%: one false alarm allowed; threshold 998 (the 2nd highest honest score), so only
    # 999.5 is caught: the ring fraud tied at 998 is not.
    at01 = recall_at_fpr(raw, labels, 0.001, groups)
    assert at01["threshold"] == 998.0
    assert at01["fpr"] == pytest.approx(0.001)
    assert at01["recall_ring"] == pytest.approx(1 / 4)
    assert at01["recall_lone"] == 0.0
    assert at01["recall"] == pytest.approx(1 / 8)

    # The threshold is read off the honest claims alone: more fraud above it moves nothing.
    more = np.concatenate([raw, np.full(50, 2000.0)])
    more_labels = np.concatenate([labels, np.ones(50, dtype=np.int64)])
    assert recall_at_fpr(more, more_labels, 0.01)["threshold"] == 989.0


def test_recall_at_fpr_equals_the_payments_engine_figure():
    import polars as pl

    rng = np.random.default_rng(4)
    labels = (rng.random(5_000) < 0.04).astype(np.int64)
    raw = np.round(rng.random(5_000) + labels * 0.4, 3)  # rounded: ties at the thresholds
    engine = compute_metrics(
        pl.DataFrame({"txn_id": np.arange(5_000).astype(str), "score": raw}),
        pl.DataFrame({"txn_id": np.arange(5_000).astype(str), "is_fraud": labels == 1}),
    )["overall"]["recall_at_fpr"]
    for target in (0.01, 0.001):
        ours = recall_at_fpr(raw, labels, target)
        assert ours == pytest.approx(engine[str(target)])
        assert ours["fpr"] <= target


def test_recall_at_fpr_without_honest_claims_or_fraud_of_a_kind():
    raw = np.array([0.9, 0.8, 0.1])
    none = recall_at_fpr(raw, np.ones(3, dtype=np.int64), 0.01, {"ring": np.ones(3, bool)})
    assert none == {"threshold": None, "fpr": None, "recall": None, "recall_ring": None}
    labels = np.array([1, 0, 0])
    empty = recall_at_fpr(raw, labels, 0.01, {"lone": np.zeros(3, bool)})
    assert empty["recall"] == 1.0 and empty["recall_lone"] is None


def test_the_fpr_table_shows_each_model_once_with_graph_or_not():
    raw, labels, groups = _hand_made()
    rows = []
    for model, graph in (("lgbm_own", False), ("geniepath", True)):
        row = {"model": model, "graph": graph, "auprc": 0.5, "review_after_days": 7.0}
        for target in (0.01, 0.001):
            at = recall_at_fpr(raw, labels, target, groups)
            row |= {f"{fpr_prefix(target)}{k}": v for k, v in at.items()}
        rows.append(row)
    assert fpr_prefix(0.01) == "fpr_1pct_" and fpr_prefix(0.001) == "fpr_0.1pct_"
    table = fpr_table(rows)
    lines = table.strip().splitlines()
    assert "recall @ 1% FPR: all / ring / lone" in lines[0]
    assert "recall @ 0.1% FPR: all / ring / lone" in lines[0]
    assert lines[0].count("|") == lines[1].count("|") == lines[2].count("|")
    assert lines[2].startswith("| lgbm_own | no | 7 days after filing | 0.500 |")
    assert "| 0.625 / 0.750 / 0.500 (1.00%) | 0.125 / 0.250 / 0.000 (0.10%) |" in lines[2]
    assert lines[3].startswith("| geniepath | yes |")


def test_an_empty_group_is_null_in_the_json_and_a_dash_in_the_table():
    """JSON has no NaN: ``json.dumps`` would write a bare NaN that no strict reader accepts."""
    assert _recall_of(np.array([True, False]), np.array([False, False])) is None
    row = {"model": "m", "auprc": 0.5, "flagged_share": 0.1}
    for prefix in ("", "acc_", "f1_"):
        row |= {f"{prefix}{k}": v for k, v in {"accuracy": 0.96, "precision": 0.5}.items()}
        row |= {f"{prefix}recall": 0.9, f"{prefix}recall_ring": 0.95, f"{prefix}flagged_share": 0.1}
        row[f"{prefix}recall_lone"] = None
    json.loads(json.dumps([row], allow_nan=False))
    table = markdown_table([row])
    assert "0.950 / —" in table
