"""`vigil inspect` on a good world, a broken one, and a broken export read through a mapping."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.cli import app
from vigil.inspect import inspect_world
from vigil.schema.mapping import ColumnMapping

runner = CliRunner()

BROKEN = """\
txn_id,ts,payer_id,payee_id,amount,currency,channel,jurisdiction,is_fraud,typology,label_ts,score
T1,2026-01-05T10:00:00Z,P1,M1,1000,SGD,card,SG,false,legit,,0.1
T2,2026-01-05T11:00:00Z,P2,M1,-50,SGD,card,SG,true,card_testing,2026-01-04T00:00:00Z,0.9
T2,2026-01-06T12:00:00Z,P3,M2,700,SGD,card,SG,false,legit,,0.2
T4,yesterday,P4,M2,800,CAD,card,SG,false,legit,,0.3
T5,2026-02-01T09:00:00Z,P5,M3,900,SGD,pigeon,SG,true,account_takeover,,0.8
T6,not a time either,P6,M3,0,SGD,card,sg,false,legit,,
"""


@pytest.fixture(scope="module")
def good_world(tmp_path_factory) -> Path:
    from vigil.world.simulate import simulate_world

    out = tmp_path_factory.mktemp("good")
    simulate_world(out, accounts=500, days=3, seed=2, progress=False,
                   start=datetime(2026, 1, 30, tzinfo=UTC))  # fmt: skip
    return out


def problems_of(profile):
    return {(p["table"], p["column"], p["problem"]): p for p in profile["problems"]}


def test_a_good_world(good_world):
    profile = inspect_world(good_world)
    assert profile["problems"] == []
    tables = {t["name"]: t for t in profile["tables"]}
    assert {"transactions", "accounts", "watchlist"} <= set(tables)
    txns = tables["transactions"]
    assert txns["first"].startswith("2026-01-30") and txns["last"].startswith("2026-02-01")
    columns = {c["name"]: c for c in txns["columns"]}
    assert columns["txn_id"]["distinct"] == txns["rows"] and columns["txn_id"]["missing"] == 0
    assert columns["ts"]["type"] == "timestamp" and columns["is_fraud"]["role"] == "label"
    assert 0 < columns["mcc"]["missing"] < 1
    labels = profile["labels"]
    assert [m["month"] for m in labels["by_month"]] == ["2026-01", "2026-02"]
    assert sum(t["rows"] for t in labels["by_typology"]) == txns["rows"]
    assert labels["fraud_rows"] == sum(t["fraud"] for t in labels["by_typology"])


def test_a_broken_world_lists_every_kind_of_problem(tmp_path):
    (tmp_path / "transactions.csv").write_text(BROKEN)
    (tmp_path / "accounts.csv").write_text("account_id,kind\nP1,person\n")
    profile = inspect_world(tmp_path)
    found = problems_of(profile)
    expected = {
        ("transactions", "txn_id", "duplicated txn_id"): (2, 2),
        ("transactions", "amount", "amount zero or negative"): (2, 2),
        ("transactions", "label_ts", "label_ts before ts"): (1, 2),
        ("transactions", "channel", "not one of card, cash_in, cash_out, qr, transfer, wallet"): (
            1,
            5,
        ),
        ("transactions", "jurisdiction", "not an ISO 3166-1 alpha-2 code such as SG"): (1, 6),
    }
    for key, (rows, first) in expected.items():
        assert (found[key]["rows"], found[key]["first_row"]) == (rows, first), key
    times = found[("transactions", "ts", "not an RFC 3339 timestamp such as 2026-01-01T08:00:00Z")]
    assert (times["rows"], times["first_row"], times["example"]) == (2, 4, "yesterday")
    assert any(k[1] == "currency" and "reference rate" in k[2] for k in found)
    assert found[("accounts", "country", "required column is missing")]["rows"] is None
    extra = {c["name"]: c for c in profile["tables"][0]["columns"]}["score"]
    assert (extra["role"], extra["use"]) == ("extra", "numeric")
    assert profile["labels"]["fraud_rows"] == 2


def test_a_broken_export_through_a_mapping_names_the_mapping_line(tmp_path):
    (tmp_path / "export.csv").write_text(
        "ref,when,from,to,amt\nA,05/01/2026 10:00,P1,M1,12.5\nB,tomorrow,P2,M1,3\n"
        "C,06/01/2026 10:00,P3,M2,abc\n"
    )
    mapping = ColumnMapping.parse(
        "transactions:\n  file: export.csv\n  columns:\n    txn_id: ref\n"
        "    ts: {column: when, format: '%d/%m/%Y %H:%M'}\n    payer_id: from\n"
        "    payee_id: to\n    amount: {column: amt, scale: 100}\n    currency: SGD\n"
        "    channel: card\n    jurisdiction: SG\n",
        "export.yaml",
    )
    profile = inspect_world(tmp_path, mapping)
    by_column = {p["column"]: p for p in profile["problems"]}
    assert (by_column["when"]["mapping_line"], by_column["when"]["first_row"]) == (5, 2)
    assert (by_column["amt"]["mapping_line"], by_column["amt"]["example"]) == (8, "abc")
    assert profile["mapping"]["file"] == "export.yaml"
    assert profile["tables"][0]["rows"] == 3


def test_vigil_inspect_prints_tables_and_json(tmp_path, good_world):
    (tmp_path / "transactions.csv").write_text(BROKEN)
    result = runner.invoke(app, ["inspect", "--data", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "7 problems" in result.output and "duplicated" in result.output
    result = runner.invoke(app, ["inspect", "--data", str(good_world), "--json", "-"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["problems"] == []
    missing = runner.invoke(app, ["inspect", "--data", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "such folder" in missing.output
