"""Bad rows are refused with the table, row and column named; good ones load whole."""

from datetime import UTC, datetime

import polars as pl
import pytest

from vigil.schema import TABLES, SchemaError, conform

TX = TABLES["transactions"]


def test_valid_frame_keeps_contract_order_and_extras(transactions):
    out = conform(transactions.select(reversed(transactions.columns)), TX)
    assert out.columns[:3] == ["txn_id", "ts", "payer_id"]
    assert out.columns[-1] == "device_score"
    assert out.height == 3


@pytest.mark.parametrize(
    ("column", "value", "row", "words"),
    [
        ("amount", -5, 2, "amount > 0"),
        ("amount", 0, 2, "amount > 0"),
        ("amount", 10**16, 2, "amount <= 1e+15"),
        ("channel", "pigeon", 2, "expected one of"),
        ("currency", "sgd", 2, "ISO 4217"),
        ("jurisdiction", "SGP", 2, "alpha-2"),
        ("mcc", "54", 2, "4-digit"),
        ("payer_id", None, 2, "required value is empty"),
    ],
)
def test_bad_value_names_table_row_and_column(transactions, column, value, row, words):
    values = transactions.get_column(column).to_list()
    values[1] = value
    bad = transactions.with_columns(pl.Series(column, values, dtype=transactions.schema[column]))
    with pytest.raises(SchemaError) as caught:
        conform(bad, TX)
    error = caught.value
    assert (error.table, error.row, error.column) == ("transactions", row, column)
    assert words in str(error)


def test_missing_required_column(transactions):
    with pytest.raises(SchemaError, match="column 'currency': required column is missing"):
        conform(transactions.drop("currency"), TX)


def test_uncastable_text_is_reported_with_value():
    raw = pl.DataFrame(
        {
            "txn_id": ["a", "b"],
            "ts": ["2026-01-01T00:00:00Z", "yesterday"],
            "payer_id": ["p", "p"],
            "payee_id": ["q", "q"],
            "amount": ["10", "12"],
            "currency": ["USD", "USD"],
            "channel": ["card", "card"],
            "jurisdiction": ["SG", "SG"],
        }
    )
    with pytest.raises(SchemaError, match=r"row 2, column 'ts': expected an RFC 3339.*'yesterday'"):
        conform(raw, TX)
    with pytest.raises(SchemaError, match=r"row 1, column 'amount': expected an integer.*'1.5'"):
        conform(raw.with_columns(pl.Series("amount", ["1.5", "2"]), ts=pl.lit("2026-01-01")), TX)


def test_fractional_float_amount_refused_whole_float_accepted(transactions):
    whole = transactions.with_columns(pl.col("amount").cast(pl.Float64))
    assert conform(whole, TX).get_column("amount").dtype == pl.Int64
    frac = transactions.with_columns(pl.Series("amount", [1.0, 2.5, 3.0]))
    with pytest.raises(SchemaError, match="row 2, column 'amount'"):
        conform(frac, TX)


def test_duplicate_key_names_both_rows(transactions):
    dup = transactions.with_columns(pl.Series("txn_id", ["t1", "t2", "t1"]))
    with pytest.raises(
        SchemaError, match=r"row 1, column 'txn_id': duplicate key 't1' \(again at row 3\)"
    ):
        conform(dup, TX)


def test_label_before_event_is_refused(transactions):
    early = transactions.with_columns(pl.Series("label_ts", [datetime(2025, 1, 1, tzinfo=UTC)] * 3))
    with pytest.raises(SchemaError, match="column 'label_ts'"):
        conform(early, TX)


def test_mixed_timestamp_layouts_all_become_utc():
    raw = pl.Series(
        "ts", ["2026-01-01T08:00:00+08:00", "2026-01-01 00:00:00", "2026-01-01T00:00:00Z"]
    )
    frame = pl.DataFrame(
        {
            "txn_id": ["a", "b", "c"],
            "ts": raw,
            "payer_id": ["p"] * 3,
            "payee_id": ["q"] * 3,
            "amount": [1, 2, 3],
            "currency": ["USD"] * 3,
            "channel": ["qr"] * 3,
            "jurisdiction": ["TH"] * 3,
        }
    )
    out = conform(frame, TX).get_column("ts").to_list()
    assert out == [datetime(2026, 1, 1, tzinfo=UTC)] * 3


def test_naive_datetime_column_is_taken_as_utc(transactions):
    naive = transactions.with_columns(pl.col("ts").dt.replace_time_zone(None))
    assert conform(naive, TX).get_column("ts").equals(transactions.get_column("ts"))
