from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from rich.console import Console
from typer.testing import CliRunner

import vigil.features.replay
from vigil.rules import backtest, compile_pack_text
from vigil.rules.cli import rules_app

NAMES = ["channel", "amount", "amount_usd", "payer_count_1m", "payer_sum_1h", "ts"]
T0 = datetime(2026, 1, 1, tzinfo=UTC)

CANDIDATE = """\
pack: SG
version: sg-candidate
rules:
  - id: C-BURST
    when: channel == 'card' and payer_count_1m >= 3
    action: review
    reason: card_testing
    weight: 0.4
  - id: C-LARGE
    when: amount >= 1000
    action: decline
    reason: large
    weight: 0.5
  - id: C-FLAG
    when: amount_usd > 50
    action: flag
    reason: notable
    weight: 0.1
"""
LIVE = """\
pack: SG
version: sg-live
rules:
  - id: L-LARGE
    when: amount >= 5000
    action: review
    reason: large
    weight: 0.5
"""

#: (channel, amount, amount_usd, payer_count_1m, is_fraud, typology); comments: what fires
ROWS = [
    ("card", 100, 1.0, 5, True, "card_testing"),  # C: burst (review)
    ("card", 200, 2.0, 4, False, "legit"),  # C: burst (review)
    ("transfer", 6000, 60.0, 0, True, "account_takeover"),  # C: large + flag; L: large
    ("transfer", 1500, 15.0, 0, False, "legit"),  # C: large (decline)
    ("wallet", 700, 70.0, 0, False, "legit"),  # C: flag only, not an alert
    ("card", 300, 3.0, 1, True, "card_testing"),  # missed by both
    ("transfer", 9000, 90.0, None, False, "legit"),  # C: large + flag; L: large
    ("wallet", 10, 0.1, 0, False, "legit"),  # nothing
]


def frame(labels: bool = True) -> pl.DataFrame:
    data = {
        "txn_id": [f"t{i}" for i in range(len(ROWS) + 1)],
        "ts": [T0 + timedelta(hours=i) for i in range(len(ROWS) + 1)],
        "jurisdiction": ["SG"] * len(ROWS) + ["MY"],
        "channel": [r[0] for r in ROWS] + ["card"],
        "amount": [r[1] for r in ROWS] + [100],
        "amount_usd": [r[2] for r in ROWS] + [25.0],
        "payer_count_1m": [float(r[3]) if r[3] is not None else None for r in ROWS] + [9.0],
        "is_fraud": [r[4] for r in ROWS] + [True],
        "typology": [r[5] for r in ROWS] + ["card_testing"],
    }
    out = pl.DataFrame(data)
    return out if labels else out.drop("is_fraud", "typology")


@pytest.fixture
def packs():
    return compile_pack_text(CANDIDATE, NAMES), compile_pack_text(LIVE, NAMES)


def test_packs_laid_out_differently_are_each_fed_their_own_rows(packs):
    """A candidate compiled elsewhere (the dashboard's editor) may order its names otherwise."""
    candidate, live = packs
    reordered = compile_pack_text(LIVE, [*reversed(NAMES), "payee_country"])
    assert reordered.layout != live.layout
    same = backtest(candidate, reordered, frame())
    assert same.live == backtest(candidate, live, frame()).live


def test_backtest_figures(packs):
    candidate, live = packs
    report = backtest(candidate, live, frame())
    assert (report.jurisdiction, report.rows, report.frauds) == ("SG", 8, 3)
    assert report.fraud_amount == 64.0
    assert report.amount_unit == "USD"
    assert report.typology_counts == {"account_takeover": 1, "card_testing": 2, "legit": 5}
    assert report.missing_columns == ()

    c = report.candidate
    assert (c.version, c.hits, c.reviews, c.declines, c.alerted) == ("sg-candidate", 6, 2, 3, 5)
    assert c.precision == 2 / 5
    assert c.false_positive_rate == 3 / 5
    assert c.recall == 2 / 3
    assert c.fraud_amount_caught == 61.0
    assert c.by_rule == {"C-BURST": (2, 1), "C-LARGE": (3, 1), "C-FLAG": (3, 1)}
    assert c.by_typology == {"account_takeover": 1, "card_testing": 1, "legit": 3}

    v = report.live
    assert (v.version, v.hits, v.reviews, v.declines) == ("sg-live", 2, 2, 0)
    assert (v.precision, v.false_positive_rate, v.recall) == (1 / 2, 1 / 5, 1 / 3)
    assert v.fraud_amount_caught == 60.0
    assert v.by_rule == {"L-LARGE": (2, 1)}
    assert v.by_typology == {"account_takeover": 1, "legit": 1}

    console = Console(record=True, width=120)
    console.print(report.render())
    text = console.export_text()
    for expected in ("candidate sg-candidate", "live sg-live", "40.0%", "60.000%", "61 (95.3%)"):
        assert expected in text


def test_without_labels_only_counts_are_reported(packs):
    report = backtest(packs[0], None, frame(labels=False))
    assert report.live is None and report.frauds is None and report.typology_counts == {}
    c = report.candidate
    assert (c.hits, c.reviews, c.declines) == (6, 2, 3)
    assert (c.precision, c.false_positive_rate, c.recall, c.fraud_amount_caught) == (None,) * 4
    assert c.by_rule["C-LARGE"] == (3, 0)
    Console(record=True).print(report.render())


def test_base_runs_on_every_jurisdiction_and_missing_columns_are_named():
    base = compile_pack_text(
        CANDIDATE.replace("pack: SG", "pack: base").replace("amount_usd > 50", "payer_sum_1h > 50"),
        NAMES,
    )
    report = backtest(base, None, frame())
    assert report.rows == 9 and report.frauds == 4
    assert report.candidate.by_rule["C-BURST"] == (3, 2)  # the MY row counts too
    assert "C-FLAG" not in report.candidate.by_rule
    assert report.missing_columns == ("payer_sum_1h",)


def test_rule_dates_follow_each_transaction_time(packs):
    dated = CANDIDATE.replace(
        "    weight: 0.5\n", "    weight: 0.5\n    effective_from: 2026-01-01T05:00:00Z\n", 1
    )
    report = backtest(compile_pack_text(dated, NAMES), None, frame())
    assert report.candidate.by_rule["C-LARGE"] == (1, 0)  # only the 06:00 row is late enough


def test_live_must_be_the_same_jurisdiction(packs):
    other = compile_pack_text(LIVE.replace("pack: SG", "pack: MY"), NAMES)
    with pytest.raises(ValueError, match="live pack is for MY"):
        backtest(packs[0], other, frame())


def test_cli_backtest(tmp_path, monkeypatch):
    """The command replays the data through the feature engine; here that is stubbed."""
    candidate = tmp_path / "sg.yaml"
    live = tmp_path / "live" / "sg.yaml"
    live.parent.mkdir()
    candidate.write_text(CANDIDATE)
    live.write_text(LIVE)
    asked = {}

    def fake_feature_frame(data_dir, until=None, progress=False):
        asked.update(data_dir=data_dir, until=until)
        return frame()

    monkeypatch.setattr(vigil.features.replay, "feature_frame", fake_feature_frame)
    result = CliRunner().invoke(
        rules_app,
        [
            "backtest",
            str(candidate),
            "--data",
            str(tmp_path),
            "--live",
            str(live),
            "--until",
            "2026-02-01",
            "--quiet",
        ],
        env={"COLUMNS": "150"},
    )
    assert result.exit_code == 0, result.output
    assert asked == {"data_dir": tmp_path, "until": datetime(2026, 2, 1, tzinfo=UTC)}
    assert "Backtest SG: 8 transactions, 3 fraud" in result.output
    assert "candidate sg-candidate" in result.output and "live sg-live" in result.output
