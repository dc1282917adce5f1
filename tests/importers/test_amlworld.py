"""IBM AMLworld's published layout (two columns named "Account"), from a hand-written sample."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from vigil.cli import app
from vigil.importers import import_amlworld
from vigil.importers.amlworld import implied_usd_rates
from vigil.schema.io import read_table
from vigil.schema.validate import SchemaError

DATA = Path(__file__).parents[1] / "data"
SAMPLE = DATA / "HI-Small_Trans_sample.csv"
PATTERNS = DATA / "HI-Small_Patterns_sample.txt"


def test_the_sample_becomes_a_contract_world(tmp_path):
    summary = import_amlworld(SAMPLE, tmp_path, patterns=PATTERNS)
    assert summary.rows_read == summary.rows_written == 21 and summary.fraud == 7
    txns = read_table(tmp_path, "transactions")
    by_id = {row["txn_id"]: row for row in txns.iter_rows(named=True)}
    first = by_id["AML000000001"]
    assert first["payer_id"] == "010:8000EBD30"  # the bank's leading zero kept
    assert first["ts"] == datetime(2022, 9, 1, 0, 20, tzinfo=UTC)
    assert (first["amount"], first["currency"], first["channel"]) == (369_734, "USD", "transfer")
    euro = by_id["AML000000006"]
    assert (euro["amount"], euro["currency"], euro["channel"]) == (1_724, "EUR", "card")
    assert by_id["AML000000002"]["amount"] == 1  # one cent
    assert by_id["AML000000013"]["currency"] == "INR"


def test_currencies_without_a_rate_are_converted_at_the_files_own_rate(tmp_path):
    rates = implied_usd_rates(SAMPLE)
    assert rates["CAD"] == pytest.approx(920.18 / 1256.67)  # the one CAD/USD payment
    assert rates["CHF"] == 1.13  # no CHF/USD payment in the sample: the reference rate
    import_amlworld(SAMPLE, tmp_path)
    cad = (
        read_table(tmp_path, "transactions")
        .filter(pl.col("txn_id") == "AML000000008")
        .row(0, named=True)
    )
    assert cad["currency"] == "USD" and cad["amount"] == round(913.09 * rates["CAD"] * 100)
    assert (cad["payment_currency"], cad["amount_paid"], cad["channel"]) == (
        "CAD",
        913.09,
        "cash_out",
    )


def test_patterns_give_the_typologies(tmp_path):
    import_amlworld(SAMPLE, tmp_path, patterns=PATTERNS)
    txns = read_table(tmp_path, "transactions")
    counts = dict(txns.group_by("typology").len().iter_rows())
    assert counts == {"legit": 14, "cycle": 2, "fan_out": 3, "laundering": 2}
    import_amlworld(SAMPLE, tmp_path / "plain")
    plain = read_table(tmp_path / "plain", "transactions")
    assert set(plain.filter(pl.col("is_fraud")).get_column("typology")) == {"laundering"}


def test_the_published_header_is_required(tmp_path):
    other = tmp_path / "trans.csv"
    other.write_text(
        SAMPLE.read_text().replace(",Account,To Bank,Account,", ",Account,To Bank,Account2,", 1)
    )
    with pytest.raises(SchemaError, match=r"column 5 is 'Account2', expected 'Account'"):
        import_amlworld(other, tmp_path / "out")


def test_vigil_import_amlworld(tmp_path):
    result = CliRunner().invoke(
        app,
        ["import", "amlworld", str(SAMPLE), "--out", str(tmp_path), "--patterns", str(PATTERNS)],
    )
    assert result.exit_code == 0, result.output
    assert "fan_out 3" in result.output
