"""Metrics checked exactly on frames small enough to work out by hand."""

import json
from datetime import UTC, datetime

import polars as pl
import pytest
from rich.console import Console

from vigil.evaluation import compare, compute_metrics, evaluate_run, format_metrics
from vigil.schema import write_table


def decisions(scores, actions=None, amounts=None, ids=None) -> pl.DataFrame:
    n = len(scores)
    frame = pl.DataFrame(
        {
            "txn_id": ids or [f"t{i}" for i in range(n)],
            "score": [float(s) for s in scores],
            "amount_usd": [float(a) for a in (amounts or [1.0] * n)],
            "latency_us_total": list(range(1, n + 1)),
        }
    )
    if actions is not None:
        frame = frame.with_columns(action=pl.Series(actions))
    return frame


def labels(fraud, typology=None, ids=None) -> pl.DataFrame:
    data = {"txn_id": ids or [f"t{i}" for i in range(len(fraud))], "is_fraud": fraud}
    if typology is not None:
        data["typology"] = typology
    return pl.DataFrame(data)


def render(renderable) -> str:
    console = Console(width=200, record=True, file=None)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get()


def test_perfect_ranking_scores_one():
    m = compute_metrics(
        decisions([0.9, 0.8, 0.3, 0.2, 0.1]), labels([True, True, False, False, False])
    )
    overall = m["overall"]
    assert (overall["n"], overall["n_fraud"], overall["fraud_rate"]) == (5, 2, 0.4)
    assert overall["auprc"] == 1.0
    assert overall["roc_auc"] == 1.0


def test_ranking_with_a_miss():
    # Ranked: F, L, F, L. Precision at the fraud hits: 1/1 and 2/3 -> AP = (1 + 2/3) / 2.
    m = compute_metrics(decisions([0.9, 0.8, 0.7, 0.1]), labels([True, False, True, False]))
    assert m["overall"]["auprc"] == pytest.approx(5 / 6)
    assert m["overall"]["roc_auc"] == pytest.approx(3 / 4)


def test_recall_at_fpr_by_hand():
    # 200 negatives scored 0.001..0.200. At 1% FPR two may be flagged: the threshold is the
    # third highest negative, 0.198. At 0.1% none may: the threshold is the highest, 0.200.
    negatives = [i / 1000 for i in range(1, 201)]
    positives = [0.5, 0.1995, 0.1985, 0.15]
    m = compute_metrics(decisions(negatives + positives), labels([False] * 200 + [True] * 4))
    at = m["overall"]["recall_at_fpr"]
    assert at["0.01"] == {"threshold": 0.198, "fpr": 0.01, "recall": 0.75}
    assert at["0.001"] == {"threshold": 0.2, "fpr": 0.0, "recall": 0.25}


def test_recall_at_fpr_ties_are_not_flagged():
    # Two negatives tie at the top: flagging either would flag both (2% FPR), so at 1% the
    # threshold is 0.9 and a fraud tied with them is not caught.
    scores = [0.9, 0.9] + [0.1] * 98 + [0.9, 0.95]
    m = compute_metrics(decisions(scores), labels([False] * 100 + [True, True]))
    assert m["overall"]["recall_at_fpr"]["0.01"] == {"threshold": 0.9, "fpr": 0.0, "recall": 0.5}


def test_precision_at_budget():
    # 200 transactions and a 1% budget: a queue of 2, holding one fraud and one legit.
    scores = [0.99, 0.98] + [0.1] * 198
    fraud = [True, False, True] + [False] * 197
    m = compute_metrics(decisions(scores), labels(fraud), review_budget=0.01)
    assert m["overall"]["precision_at_budget"] == {"k": 2, "precision": 0.5, "recall": 0.5}


def test_precision_at_budget_shares_tied_slots():
    # Queue of 2: the 0.9 fraud, then one slot among three tied at 0.5 of which one is fraud.
    scores = [0.9, 0.5, 0.5, 0.5] + [0.1] * 196
    fraud = [True, True, False, False] + [False] * 196
    m = compute_metrics(decisions(scores), labels(fraud), review_budget=0.01)
    budget = m["overall"]["precision_at_budget"]
    assert budget["k"] == 2
    assert budget["precision"] == pytest.approx(2 / 3)
    assert budget["recall"] == pytest.approx(2 / 3)


def test_operating_point_and_amount_caught():
    actions = ["decline", "review", "approve", "review", "approve", "approve"]
    fraud = [True, True, True, False, False, False]
    amounts = [100, 50, 25, 10, 10, 10]
    m = compute_metrics(decisions([0.9, 0.7, 0.2, 0.6, 0.1, 0.1], actions, amounts), labels(fraud))
    overall = m["overall"]
    assert overall["actions"] == {"approve": 3, "review": 2, "decline": 1}
    flagged = overall["operating_point"]["flagged"]
    assert flagged == {"n": 3, "precision": 2 / 3, "recall": 2 / 3, "fpr": 1 / 3}
    declined = overall["operating_point"]["declined"]
    assert declined == {"n": 1, "precision": 1.0, "recall": 1 / 3, "fpr": 0.0}
    assert overall["amount_usd"] == {
        "total": 175.0,
        "caught": 150.0,
        "caught_share": 150 / 175,
        "declined": 100.0,
        "declined_share": 100 / 175,
    }


def test_per_typology():
    # 100 legit at 0.1..; the 1% FPR threshold is the second highest legit score.
    legit_scores = [0.5] + [0.2] + [0.1] * 98
    scores = [*legit_scores, 0.9, 0.8, 0.15, 0.6, 0.05]
    typology = ["legit"] * 100 + ["account_takeover"] * 3 + ["card_testing"] * 2
    fraud = [False] * 100 + [True] * 5
    actions = ["approve"] * 100 + ["decline", "review", "approve", "review", "approve"]
    amounts = [1] * 100 + [40, 30, 30, 20, 5]
    m = compute_metrics(decisions(scores, actions, amounts), labels(fraud, typology))
    assert m["overall"]["recall_at_fpr"]["0.01"]["threshold"] == 0.2
    ato, card = m["per_typology"]["account_takeover"], m["per_typology"]["card_testing"]
    assert set(m["per_typology"]) == {"account_takeover", "card_testing"}
    assert ato["n"] == 3
    assert ato["recall_at_1pct_fpr"] == pytest.approx(2 / 3)
    # ATO ranked against legit only: 0.9, 0.8 lead, then legit 0.5 and 0.2, then ATO 0.15.
    assert ato["auprc_vs_legit"] == pytest.approx((1 + 1 + 3 / 5) / 3)
    assert ato["actions"] == {"approve": 1, "review": 1, "decline": 1}
    assert ato["amount_usd"]["caught"] == 70.0
    assert ato["amount_usd"]["caught_share"] == pytest.approx(0.7)
    assert card["recall_at_1pct_fpr"] == 0.5
    assert card["amount_usd"] == {
        "total": 25.0,
        "caught": 20.0,
        "caught_share": 0.8,
        "declined": 0.0,
        "declined_share": 0.0,
    }


def test_no_fraud_gives_nulls_and_a_note():
    m = compute_metrics(
        decisions([0.3, 0.2, 0.1], ["review", "approve", "approve"]),
        labels([False, False, False], ["legit"] * 3),
    )
    overall = m["overall"]
    assert overall["auprc"] is None and overall["roc_auc"] is None
    assert overall["recall_at_fpr"]["0.01"]["recall"] is None
    assert overall["precision_at_budget"] == {"k": 1, "precision": 0.0, "recall": None}
    assert overall["operating_point"]["flagged"]["recall"] is None
    assert overall["amount_usd"]["caught_share"] is None
    assert m["per_typology"] == {}
    assert any("no fraud" in note for note in m["notes"])
    json.dumps(m, allow_nan=False)


def test_only_fraud_gives_no_roc_and_no_fpr():
    m = compute_metrics(decisions([0.9, 0.4]), labels([True, True]))
    overall = m["overall"]
    assert overall["roc_auc"] is None
    assert overall["recall_at_fpr"] == {"0.001": None, "0.01": None}
    assert overall["auprc"] == 1.0
    assert any("no legit" in note for note in m["notes"])
    json.dumps(m, allow_nan=False)


def test_unlabelled_and_repeated_decisions_are_counted_and_excluded():
    frame = decisions([0.9, 0.1, 0.5, 0.2], ids=["a", "b", "c", "a"])
    m = compute_metrics(frame, labels([True, False], ids=["a", "b"]))
    assert (m["n_decisions"], m["n_unlabelled"], m["overall"]["n"]) == (3, 1, 2)
    assert m["overall"]["auprc"] == 1.0  # the first decision for "a" (0.9) counts
    assert any("repeated" in note for note in m["notes"])
    assert any("no label" in note for note in m["notes"])


def test_empty_run_does_not_crash():
    m = compute_metrics(decisions([]), labels([]))
    assert m["overall"]["n"] == 0
    assert m["overall"]["precision_at_budget"] is None
    assert m["latency_us"]["total"] == {"p50": None, "p95": None, "p99": None}
    json.dumps(m, allow_nan=False)


def test_scores_without_actions_or_typology():
    m = compute_metrics(decisions([0.9, 0.1]), labels([True, False]))
    assert m["overall"]["operating_point"] is None
    assert m["overall"]["amount_usd"] is None
    assert m["per_typology"] is None
    assert m["overall"]["auprc"] == 1.0


def test_other_score_column_and_latency():
    frame = decisions([0.1, 0.9, 0.2]).with_columns(baseline=pl.Series([0.9, 0.1, 0.2]))
    m = compute_metrics(frame, labels([True, False, False]), score_column="baseline")
    assert m["overall"]["auprc"] == 1.0
    assert m["latency_us"]["total"]["p50"] == 2.0


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="review_budget"):
        compute_metrics(decisions([0.1]), labels([True]), review_budget=0)
    with pytest.raises(ValueError, match="is_fraud"):
        compute_metrics(decisions([0.1]), pl.DataFrame({"txn_id": ["t0"]}))


def test_terminal_tables_and_comparison():
    frame = decisions([0.9, 0.8, 0.3, 0.2], ["decline", "review", "approve", "approve"])
    truth = labels([True, False, True, False], ["account_takeover", "legit", "[bold]x", "legit"])
    engine = compute_metrics(frame, truth)
    baseline = compute_metrics(frame.drop("action").with_columns(score=1 - pl.col("score")), truth)
    text = render(format_metrics(engine))
    assert "AUPRC" in text and "Per typology" in text and "Latency" in text
    assert "[bold]x" in text  # data is not read as rich markup
    text = render(compare(engine, baseline))
    assert "engine" in text and "baseline" in text
    assert f"{engine['overall']['roc_auc'] - baseline['overall']['roc_auc']:+.4f}" in text


def transactions(ids, fraud=None, typology=None) -> pl.DataFrame:
    n = len(ids)
    frame = pl.DataFrame(
        {
            "txn_id": ids,
            "ts": [datetime(2026, 1, 1, tzinfo=UTC)] * n,
            "payer_id": ["a1"] * n,
            "payee_id": ["m1"] * n,
            "amount": [1000] * n,
            "currency": ["SGD"] * n,
            "channel": ["card"] * n,
            "jurisdiction": ["SG"] * n,
        }
    )
    if fraud is not None:
        frame = frame.with_columns(is_fraud=pl.Series(fraud))
    if typology is not None:
        frame = frame.with_columns(typology=pl.Series(typology))
    return frame


def test_evaluate_run(tmp_path):
    run, data = tmp_path / "run", tmp_path / "data"
    run.mkdir()
    frame = decisions(
        [0.9, 0.2, 0.8, 0.5], ["decline", "approve", "review", "review"], ids=["a", "b", "c", "z"]
    )
    frame.write_parquet(run / "decisions.parquet")
    write_table(
        transactions(["a", "b", "c"], [True, False, True], ["card_testing", "legit", "mule_ring"]),
        data,
        "transactions",
        fmt="csv",
    )
    m = evaluate_run(run, data)
    assert (m["n_decisions"], m["n_unlabelled"], m["overall"]["n"]) == (4, 1, 3)
    assert m["overall"]["auprc"] == 1.0
    assert set(m["per_typology"]) == {"card_testing", "mule_ring"}
    json.dumps(m, allow_nan=False)


def test_evaluate_run_without_typology_and_without_labels(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    decisions([0.9, 0.1], ["review", "approve"]).write_parquet(run / "decisions.parquet")
    write_table(transactions(["t0", "t1"], [True, False]), tmp_path / "labelled", "transactions")
    m = evaluate_run(run, tmp_path / "labelled")
    assert m["per_typology"] is None and m["overall"]["roc_auc"] == 1.0
    write_table(transactions(["t0", "t1"]), tmp_path / "bare", "transactions")
    with pytest.raises(ValueError, match="no is_fraud"):
        evaluate_run(run, tmp_path / "bare")
