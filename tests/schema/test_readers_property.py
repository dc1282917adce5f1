"""Property: whatever valid rows are written, in any format, the same rows are read back;
whatever single cell is corrupted, the reader refuses the file naming that row and column."""

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.schema import FORMATS, SchemaError, read_table, write_table

ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=12)
names = st.text(min_size=1, max_size=20).filter(lambda s: s.strip() == s and "\x00" not in s)
row = st.fixed_dictionaries(
    {
        "payer_id": ids,
        "payee_id": ids,
        "amount": st.integers(min_value=1, max_value=10**15),
        "currency": st.sampled_from(["CNY", "SGD", "IDR", "VND"]),
        "channel": st.sampled_from(["card", "wallet", "transfer", "qr", "cash_in", "cash_out"]),
        "jurisdiction": st.sampled_from(["CN", "HK", "SG", "MY"]),
        "seconds": st.integers(min_value=0, max_value=10**8),
        "micros": st.integers(min_value=0, max_value=999_999),
        "device_id": st.none() | names,
        "is_fraud": st.booleans(),
    }
)
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "txn_id": [f"t{i}" for i in range(len(rows))],
            "ts": [EPOCH + timedelta(seconds=r["seconds"], microseconds=r["micros"]) for r in rows],
            **{k: [r[k] for r in rows] for k in ("payer_id", "payee_id", "amount", "currency")},
            **{
                k: [r[k] for r in rows]
                for k in ("channel", "jurisdiction", "device_id", "is_fraud")
            },
        },
        schema_overrides={"device_id": pl.String},
    )


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(row, min_size=1, max_size=30), fmt=st.sampled_from(FORMATS))
def test_round_trip_any_valid_rows(rows, fmt):
    df = frame(rows)
    with tempfile.TemporaryDirectory() as folder:
        write_table(df, Path(folder), "transactions", fmt)
        back = read_table(Path(folder), "transactions")
    assert back.equals(df.select(back.columns)), fmt


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(row, min_size=1, max_size=20),
    data=st.data(),
    fmt=st.sampled_from(["csv", "jsonl"]),
)
def test_one_corrupt_cell_is_found(rows, data, fmt):
    df = frame(rows)
    target = data.draw(st.integers(min_value=0, max_value=len(rows) - 1))
    column, junk = data.draw(
        st.sampled_from([("amount", "-3"), ("amount", "x1"), ("ts", "soon"), ("channel", "telex")])
    )
    text = df.with_columns(pl.all().cast(pl.String))
    values = text.get_column(column).to_list()
    values[target] = junk
    text = text.with_columns(pl.Series(column, values))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"transactions.{fmt}"
        if fmt == "csv":
            text.write_csv(path)
        else:
            text.write_ndjson(path)
        with pytest.raises(SchemaError) as caught:
            read_table(Path(folder), "transactions")
    assert (caught.value.row, caught.value.column) == (target + 1, column)
