"""Every table round-trips through every format; files are whole or absent."""

import polars as pl
import pytest

from vigil.schema import FORMATS, SchemaError, TableWriter, read_table, write_table


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_keeps_values_and_types(tmp_path, transactions, fmt):
    write_table(transactions, tmp_path, "transactions", fmt)
    back = read_table(tmp_path, "transactions")
    assert back.columns == transactions.columns
    assert back.equals(transactions)


@pytest.mark.parametrize("fmt", FORMATS)
def test_chunked_writer_appends_chunks_in_order(tmp_path, transactions, fmt):
    with TableWriter(tmp_path, "transactions", fmt) as writer:
        writer.write(transactions.head(2))
        writer.write(transactions.tail(1))
    assert writer.rows == 3
    assert read_table(tmp_path, "transactions").equals(transactions)


def test_failed_write_leaves_no_file(tmp_path, transactions):
    bad = transactions.with_columns(pl.lit(-1).alias("amount"))
    with pytest.raises(SchemaError), TableWriter(tmp_path, "transactions") as writer:
        writer.write(transactions)
        writer.write(bad)
    assert list(tmp_path.iterdir()) == []


def test_empty_table_has_header(tmp_path):
    with TableWriter(tmp_path, "watchlist", "csv"):
        pass
    assert (tmp_path / "watchlist.csv").read_text().startswith("entry_id,name,kind,list")
    assert read_table(tmp_path, "watchlist").height == 0


def test_absent_optional_table_is_none_required_is_error(tmp_path):
    assert read_table(tmp_path, "claims", required=False) is None
    with pytest.raises(FileNotFoundError, match="table 'claims' not found"):
        read_table(tmp_path, "claims")


def test_table_stored_twice_is_ambiguous(tmp_path, transactions):
    write_table(transactions, tmp_path, "transactions", "csv")
    (tmp_path / "transactions.jsonl").write_text("{}\n")
    with pytest.raises(ValueError, match="stored twice"):
        read_table(tmp_path, "transactions")


def test_rewriting_in_another_format_replaces_the_old_file(tmp_path, transactions):
    write_table(transactions, tmp_path, "transactions", "csv")
    write_table(transactions, tmp_path, "transactions", "parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["transactions.parquet"]


def test_bad_csv_cell_names_its_row(tmp_path, transactions):
    write_table(transactions, tmp_path, "transactions", "csv")
    path = tmp_path / "transactions.csv"
    path.write_text(path.read_text().replace(",99,", ",ninety-nine,"))
    with pytest.raises(SchemaError, match=r"table 'transactions', row 2, column 'amount'"):
        read_table(tmp_path, "transactions")


def test_malformed_json_line_names_its_line(tmp_path, transactions):
    write_table(transactions, tmp_path, "transactions", "jsonl")
    path = tmp_path / "transactions.jsonl"
    lines = path.read_text().splitlines()
    lines[2] = lines[2][:-3]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SchemaError, match=r"row 3, column '\*': line is not valid JSON"):
        read_table(tmp_path, "transactions")


def test_json_numbers_as_strings_are_accepted(tmp_path):
    (tmp_path / "transactions.jsonl").write_text(
        '{"txn_id": "a", "ts": "2026-03-01T10:00:00+08:00", "payer_id": "p", "payee_id": "q",'
        ' "amount": "1200", "currency": "MYR", "channel": "qr", "jurisdiction": "MY",'
        ' "is_fraud": false}\n'
    )
    row = read_table(tmp_path, "transactions").row(0, named=True)
    assert row["amount"] == 1200 and row["is_fraud"] is False
    assert row["ts"].hour == 2
