"""PaySim's published layout, imported as a contract world from a small hand-written sample."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from vigil.cli import app
from vigil.importers import import_paysim
from vigil.schema.io import read_table
from vigil.schema.validate import SchemaError

SAMPLE = Path(__file__).parents[1] / "data" / "paysim_sample.csv"


def test_the_sample_becomes_a_contract_world(tmp_path):
    summary = import_paysim(SAMPLE, tmp_path, start=datetime(2026, 3, 1, tzinfo=UTC))
    assert (summary.rows_read, summary.rows_written) == (21, 20)
    assert summary.skipped == {"amount is zero": 1}
    txns = read_table(tmp_path, "transactions")  # validated against the contract
    assert txns.height == 20 and txns.get_column("txn_id").n_unique() == 20
    first = txns.row(0, named=True)
    assert first["txn_id"] == "PS000000001" and first["payer_id"] == "C1231006815"
    assert first["amount"] == 983_964 and first["currency"] == "USD"
    assert first["channel"] == "wallet" and first["jurisdiction"] == "ZZ"
    assert first["ts"] == datetime(2026, 3, 1, tzinfo=UTC)
    assert txns.get_column("ts").max() == datetime(2026, 3, 1, 2, tzinfo=UTC)  # step 3
    assert "PS000000017" not in txns.get_column("txn_id").to_list()  # the zero amount
    channels = dict(txns.select("type", "channel").unique().iter_rows())
    assert channels == {"PAYMENT": "wallet", "TRANSFER": "transfer", "CASH_OUT": "cash_out",
                        "CASH_IN": "cash_in", "DEBIT": "transfer"}  # fmt: skip
    fraud = txns.filter(pl.col("is_fraud"))
    assert fraud.height == 6 and set(fraud.get_column("typology")) == {"account_takeover"}
    assert txns.get_column("isFlaggedFraud").sum() == 1
    assert txns.schema["oldbalanceOrg"] == pl.Float64  # kept as an extra column


def test_another_layout_is_refused_naming_the_column(tmp_path):
    other = tmp_path / "other.csv"
    other.write_text(SAMPLE.read_text().replace("nameOrig", "name_orig", 1))
    with pytest.raises(SchemaError, match=r"column 4 is 'name_orig', expected 'nameOrig'"):
        import_paysim(other, tmp_path / "out")


def test_a_bad_value_names_the_published_column_and_row(tmp_path):
    bad = tmp_path / "bad.csv"
    lines = SAMPLE.read_text().splitlines()
    lines[3] = lines[3].replace("181.0", "lots", 1)
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(SchemaError) as caught:
        import_paysim(bad, tmp_path / "out")
    assert (caught.value.column, caught.value.row) == ("amount", 3)


def test_vigil_import_paysim(tmp_path):
    result = CliRunner().invoke(
        app, ["import", "paysim", str(SAMPLE), "--out", str(tmp_path), "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    assert "rows written" in result.output and (tmp_path / "transactions.csv").exists()
    assert read_table(tmp_path, "transactions").height == 20
