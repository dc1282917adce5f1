"""The HTML report: one self-contained page, with or without labels, and never a live tag."""

import base64
import re
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from vigil.evaluation import write_report
from vigil.schema import write_table

REASON = pl.Struct(
    {"layer": pl.String, "code": pl.String, "detail": pl.String, "weight": pl.Float64}
)
HOSTILE = "<script>alert(1)</script>"
SECTIONS = ("score-distribution", "latency", "top-reasons", "actions-per-jurisdiction")
LABELLED_SECTIONS = ("detection", "precision-and-recall", "recall-per-typology")


def reason(code: str, layer: str = "rules") -> dict:
    return {"layer": layer, "code": code, "detail": f"{code} fired", "weight": 0.5}


@pytest.fixture
def run(tmp_path):
    """A run of 40 decisions: ten fraud, most of it caught, one hostile reason code."""
    n = 40
    fraud = [i % 4 == 0 for i in range(n)]
    score = [0.8 + i / 1000 if f else 0.05 + i / 1000 for i, f in enumerate(fraud)]
    action = ["decline" if s > 0.85 else "review" if s > 0.5 else "approve" for s in score]
    action[1] = "review"  # one false positive
    reasons = [
        [reason("velocity"), reason("model_high", "model")] if a != "approve" else []
        for a in action
    ]
    reasons[1] = [reason(HOSTILE)]
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    decisions = pl.DataFrame(
        {
            "txn_id": [f"t{i}" for i in range(n)],
            "ts": [t0 + timedelta(minutes=i) for i in range(n)],
            "decided_at": [t0 + timedelta(minutes=i, seconds=1) for i in range(n)],
            "action": action,
            "score": score,
            "reasons": pl.Series(reasons, dtype=pl.List(REASON)),
            "jurisdiction": ["SG", "HK"] * (n // 2),
            "rule_pack_version": ["sg-1"] * n,
            "model_bundle_version": ["bundle-7"] * n,
            "degraded": [i == 5 for i in range(n)],
            "amount": [1000 + i for i in range(n)],
            "currency": ["SGD"] * n,
            "amount_usd": [7.5 + i for i in range(n)],
            **{
                f"latency_us_{layer}": [base + 3 * i for i in range(n)]
                for layer, base in (
                    ("total", 900),
                    ("features", 200),
                    ("rules", 40),
                    ("model", 500),
                    ("policy", 0),
                )
            },
        }
    )
    folder = tmp_path / "run"
    folder.mkdir()
    decisions.write_parquet(folder / "decisions.parquet")
    typology = [
        ("account_takeover" if i % 8 == 0 else "<b>mule</b>") if f else "legit"
        for i, f in enumerate(fraud)
    ]
    labels = pl.DataFrame({"txn_id": decisions["txn_id"], "is_fraud": fraud, "typology": typology})
    return folder, labels


def images(page: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def assert_self_contained_and_escaped(page: str) -> None:
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not re.search(r'(src|href)="(?!data:|#)', page), "no external assets"
    assert all(png.startswith(b"\x89PNG") for png in images(page))


def test_report_with_labels(run):
    folder, labels = run
    labels.write_parquet(folder / "labels.parquet")
    path = write_report(folder)
    assert path == folder / "report.html"
    page = path.read_text(encoding="utf-8")
    for section in SECTIONS + LABELLED_SECTIONS:
        assert f'<section id="{section}">' in page
    assert len(images(page)) == 5  # PR curve, scores, typologies, latency, actions
    assert "AUPRC" in page and "account_takeover" in page
    assert "&lt;b&gt;mule&lt;/b&gt;" in page and "<b>mule</b>" not in page
    assert "bundle-7" in page and "Labels were absent" not in page
    assert_self_contained_and_escaped(page)
    assert not list(folder.glob("*.partial"))


def test_report_without_labels(run):
    folder, _ = run
    page = write_report(folder).read_text(encoding="utf-8")
    assert "Labels were absent" in page
    for section in SECTIONS:
        assert f'<section id="{section}">' in page
    assert '<section id="precision-and-recall">' not in page
    assert len(images(page)) == 3  # scores, latency, actions
    assert "needs labels" in page
    assert_self_contained_and_escaped(page)


def test_report_takes_labels_from_the_data_folder(run, tmp_path):
    folder, labels = run
    n = labels.height
    transactions = labels.with_columns(
        ts=pl.lit(datetime(2026, 1, 1, tzinfo=UTC)),
        payer_id=pl.lit("a1"),
        payee_id=pl.lit("m1"),
        amount=pl.lit(100, dtype=pl.Int64),
        currency=pl.lit("SGD"),
        channel=pl.lit("card"),
        jurisdiction=pl.Series(["SG"] * n),
    )
    write_table(transactions, tmp_path / "data", "transactions")
    page = write_report(folder, tmp_path / "data").read_text(encoding="utf-8")
    assert '<section id="precision-and-recall">' in page
    assert f"{n} decisions labelled" in page


def test_report_says_labels_are_absent_when_the_data_has_none(run, tmp_path):
    folder, labels = run
    bare = labels.drop("is_fraud", "typology").with_columns(
        ts=pl.lit(datetime(2026, 1, 1, tzinfo=UTC)),
        payer_id=pl.lit("a1"),
        payee_id=pl.lit("m1"),
        amount=pl.lit(100, dtype=pl.Int64),
        currency=pl.lit("SGD"),
        channel=pl.lit("card"),
        jurisdiction=pl.lit("SG"),
    )
    write_table(bare, tmp_path / "data", "transactions")
    page = write_report(folder, tmp_path / "data").read_text(encoding="utf-8")
    assert "Labels were absent" in page
    assert "<td>labels</td><td>absent</td>" in page
