"""Column mapping: a user's own files and requests onto the contract.

The end-to-end test writes a generated world in a bank's own export layout (its column names,
local-time text timestamps, amounts in major units, coded channels, composite customer keys),
then trains and replays it through ``--mapping`` and checks every decision equals the one made
on the same world written in the contract.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from vigil.cli import app
from vigil.money import MINOR_UNIT_EXPONENT
from vigil.schema.mapping import ColumnMapping, MappingError, mapped_world
from vigil.schema.records import FieldError, Transaction

runner = CliRunner()

MAPPING = """\
# Acme Pay card and wallet export -> Vigil
version: 1
transactions:
  file: payments_export.csv
  columns:
    txn_id: auth_ref
    ts: {column: booked_at, format: "%d/%m/%Y %H:%M:%S.%f", timezone: Asia/Singapore}
    payer_id: [cust_type, cust_no]
    payee_id: {columns: [merchant_type, merchant_no]}
    amount: {column: amt, units: major}
    currency: ccy
    channel:
      column: entry_mode
      values: {CRD: card, EWL: wallet, TRF: transfer, QR: qr, CIN: cash_in, COUT: cash_out}
    jurisdiction: booking_entity
    payer_country: cust_ctry
    payee_country: merch_ctry
    device_id: device_fp
    ip: client_ip
    is_fraud: {column: chargeback, values: {Y: true, N: false}}
    typology: case_type
    label_ts: {column: cb_us, unit: us, origin: 2025-12-01T00:00:00Z}
accounts:
  file: customers.csv
  columns:
    account_id: [cust_type, cust_no]
    kind: {column: cust_kind, values: {IND: person, BUS: business, MER: merchant}}
    name: full_name
    country: ctry
    created_at: opened_on
    kyc_level: kyc
    birth_date: dob
"""
CHANNEL_CODES = {"card": "CRD", "wallet": "EWL", "transfer": "TRF", "qr": "QR",
                 "cash_in": "CIN", "cash_out": "COUT"}  # fmt: skip
KIND_CODES = {"person": "IND", "business": "BUS", "merchant": "MER"}
ORIGIN = datetime(2025, 12, 1, tzinfo=UTC)


def _major(amount: int, currency: str) -> str:
    exponent = MINOR_UNIT_EXPONENT[currency]
    if exponent == 0:
        return str(amount)
    return f"{amount // 10**exponent}.{amount % 10**exponent:0{exponent}d}"


def write_export(world: Path, out: Path) -> None:
    """The contract world ``world`` as Acme Pay's export files in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    txns = pl.read_parquet(world / "transactions.parquet")
    local = pl.col("ts").dt.convert_time_zone("Asia/Singapore")
    (
        txns.select(
            auth_ref="txn_id",
            booked_at=local.dt.strftime("%d/%m/%Y %H:%M:%S.%6f"),
            cust_type=pl.col("payer_id").str.slice(0, 1),
            cust_no=pl.col("payer_id").str.slice(1),
            merchant_type=pl.col("payee_id").str.slice(0, 1),
            merchant_no=pl.col("payee_id").str.slice(1),
            amt=pl.Series([_major(a, c) for a, c in txns.select("amount", "currency").iter_rows()]),
            ccy="currency",
            entry_mode=pl.col("channel").replace_strict(CHANNEL_CODES),
            booking_entity="jurisdiction",
            cust_ctry="payer_country",
            merch_ctry="payee_country",
            device_fp="device_id",
            client_ip="ip",
            mcc="mcc",
            chargeback=pl.when(pl.col("is_fraud")).then(pl.lit("Y")).otherwise(pl.lit("N")),
            case_type="typology",
            cb_us=(pl.col("label_ts") - ORIGIN).dt.total_microseconds(),
        ).write_csv(out / "payments_export.csv")
    )
    accounts = pl.read_parquet(world / "accounts.parquet")
    accounts.select(
        cust_type=pl.col("account_id").str.slice(0, 1),
        cust_no=pl.col("account_id").str.slice(1),
        cust_kind=pl.col("kind").replace_strict(KIND_CODES),
        full_name="name",
        ctry="country",
        opened_on=pl.col("created_at")
        .dt.convert_time_zone("Asia/Singapore")
        .dt.strftime("%Y-%m-%dT%H:%M:%S%.6f%:z"),
        kyc="kyc_level",
        sector="sector",
        dob="birth_date",
    ).write_csv(out / "customers.csv")
    for other in world.iterdir():
        if other.stem not in ("transactions", "accounts"):
            (out / other.name).write_bytes(other.read_bytes())


@pytest.fixture(scope="module")
def small_world(tmp_path_factory) -> Path:
    from vigil.world.simulate import simulate_world

    out = tmp_path_factory.mktemp("contract")
    simulate_world(out, accounts=500, days=6, seed=3, progress=False,
                   start=datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip
    return out


@pytest.fixture(scope="module")
def export(small_world, tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("export")
    write_export(small_world, folder)
    mapping = folder / "acme.yaml"
    mapping.write_text(MAPPING)
    return folder, mapping


def run(*args) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


# ---- the contract read back through the mapping ----------------------------------------------


def test_the_mapped_export_reads_back_as_the_contract_world(small_world, export):
    folder, mapping = export
    columns = ColumnMapping.load(mapping)
    for table in ("transactions", "accounts"):
        mapped = columns.read_table(folder, table)
        original = pl.read_parquet(small_world / f"{table}.parquet")
        ids = "txn_id" if table == "transactions" else "account_id"
        # composite keys join their parts with ':'
        original = original.with_columns(
            pl.col(c).str.slice(0, 1) + ":" + pl.col(c).str.slice(1)
            for c in ("payer_id", "payee_id", "account_id")
            if c in original.columns
        )
        assert mapped.columns == original.columns
        assert mapped.sort(ids).equals(original.sort(ids)), table


@pytest.fixture(scope="module")
def bundles(tmp_path_factory, small_world, export) -> dict[str, Path]:
    """The same world trained twice: from its contract files, and from the export through
    `vigil train --mapping`."""
    folder, mapping = export
    out = {}
    for name, data, extra in (
        ("contract", small_world, ()),
        ("mapped", folder, ("--mapping", mapping)),
    ):
        out[name] = tmp_path_factory.mktemp(f"{name}-models")
        run("train", "--data", data, "--out", out[name], "--until", "2026-01-05", "--no-compile",
            "--quiet", *extra)  # fmt: skip
    return out


@pytest.mark.slow
def test_a_mapped_world_trains_the_same_model_as_the_contract_world(bundles):
    from vigil.models.bundle import ModelBundle

    contract, mapped = (ModelBundle.load(bundles[k]) for k in ("contract", "mapped"))
    assert contract.features == mapped.features and contract.metrics == mapped.metrics
    assert contract.booster.model_to_string() == mapped.booster.model_to_string()
    manifest = json.loads((bundles["mapped"] / "manifest.json").read_text())
    assert "extra_columns" not in manifest  # every column of the export was mapped


@pytest.mark.slow
def test_a_mapped_world_replays_to_the_same_decisions(tmp_path, small_world, export, bundles):
    folder, mapping = export
    runs = {}
    for name, data, extra in (
        ("contract", small_world, ()),
        ("mapped", folder, ("--mapping", mapping)),
    ):
        runs[name] = tmp_path / name
        run("replay", "--data", data, "--models", bundles[name], "--out", runs[name],
            "--workers", 1, "--quiet", *extra)  # fmt: skip
    columns = ["txn_id", "ts", "action", "score", "reasons", "amount", "currency", "degraded"]
    one, two = (pl.read_parquet(runs[k] / "decisions.parquet").select(columns) for k in runs)
    assert one.height == two.height > 100
    assert one.equals(two)
    metrics = [json.loads((runs[k] / "metrics.json").read_text())["overall"] for k in runs]
    assert metrics[0] == metrics[1]
    assert "AUPRC" in run("evaluate", "--run", runs["mapped"], "--data", folder,
                          "--mapping", mapping)  # fmt: skip


def test_requests_in_the_users_names_map_as_the_files_do(export):
    """The record path (serving) and the frame path (files) agree row for row."""
    folder, mapping = export
    columns = ColumnMapping.load(mapping)
    frame = columns.read_table(folder, "transactions").head(300)
    raw = pl.read_csv(folder / "payments_export.csv", infer_schema=False).head(300)
    for row, want in zip(raw.iter_rows(named=True), frame.iter_rows(named=True), strict=True):
        request = {k: v for k, v in row.items() if v is not None}
        txn = Transaction.from_mapping(columns.record(request))
        for name in ("txn_id", "ts", "payer_id", "payee_id", "amount", "currency", "channel",
                     "jurisdiction", "payer_country", "device_id", "ip", "mcc"):  # fmt: skip
            assert getattr(txn, name) == want[name], name


# ---- the mapping language -----------------------------------------------------------------


def _one(text: str, csv: str, tmp_path: Path, table: str = "transactions") -> pl.DataFrame:
    (tmp_path / "in.csv").write_text(csv)
    mapping = ColumnMapping.parse(f"{table}:\n  file: in.csv\n  columns:\n{text}", "m.yaml")
    return mapping.read_table(tmp_path, table)


BASE = """\
    txn_id: id
    ts: {column: t, unit: s, origin: 2020-01-01T00:00:00Z}
    payer_id: [bank, acct]
    payee_id: to
    amount: {column: amt, scale: 100}
    currency: USD
    channel: card
    jurisdiction: NO
"""


def test_constants_composites_epochs_and_scales(tmp_path):
    frame = _one(BASE, "id,t,bank,acct,to,amt\nA,90,010,77,M,12.345\nB,3.5,010,78,M,7\n", tmp_path)
    assert frame.get_column("payer_id").to_list() == ["010:77", "010:78"]  # zeros kept
    assert frame.get_column("amount").to_list() == [1235, 700]
    assert frame.get_column("ts").to_list() == [
        datetime(2020, 1, 1, 0, 1, 30, tzinfo=UTC),
        datetime(2020, 1, 1, 0, 0, 3, 500_000, tzinfo=UTC),
    ]
    assert set(frame.get_column("currency")) == {"USD"} and set(frame.get_column("channel")) == {
        "card"
    }
    assert set(frame.get_column("jurisdiction")) == {"NO"}  # Norway, not YAML's false


def test_unmapped_columns_pass_through_as_extras(tmp_path):
    frame = _one(BASE, "id,t,bank,acct,to,amt,score,avs\nA,1,1,2,M,1,0.5,Y\n", tmp_path)
    assert frame.columns[-2:] == ["score", "avs"]
    assert frame.get_column("score").dtype == pl.Float64
    assert "bank" not in frame.columns and "amt" not in frame.columns


@pytest.mark.parametrize(
    ("change", "line", "words"),
    [
        ("    payr_id: x\n", 11, ["payr_id", "did you mean 'payer_id'"]),
        ("    mcc: {column: m, unit: s}\n", 11, ["unit applies to timestamp columns"]),
        ("    label_ts: {column: l, unit: fortnights}\n", 11, ["unit must be one of"]),
        ("    device_id: {colum: d}\n", 11, ["unknown key 'colum'", "did you mean 'column'"]),
        ("    label_ts: {column: l, timezone: Mars/Olympus}\n", 11, ["unknown time zone"]),
    ],
)
def test_mapping_mistakes_name_their_line(tmp_path, change, line, words):
    with pytest.raises(MappingError) as caught:
        ColumnMapping.parse("transactions:\n  columns:\n" + BASE + change, "m.yaml")
    assert caught.value.line == line
    assert str(caught.value).startswith(f"m.yaml, line {line}")
    for word in words:
        assert word in str(caught.value)


def test_a_missing_column_names_the_line_and_the_column(tmp_path):
    with pytest.raises(MappingError) as caught:
        _one(BASE, "id,t,bank,account,to,amt\nA,1,1,2,M,1\n", tmp_path)
    error = caught.value
    assert (error.line, error.column, error.field) == (6, "acct", "payer_id")
    assert "is not a column of in.csv" in str(error) and "account" in str(error)


def test_a_bad_value_names_the_line_the_column_and_the_row(tmp_path):
    with pytest.raises(MappingError) as caught:
        _one(BASE, "id,t,bank,acct,to,amt\nA,1,1,2,M,1\nB,soon,1,2,M,12\n", tmp_path)
    error = caught.value
    assert (error.line, error.column, error.row) == (5, "t", 2)
    assert "'soon'" in str(error) and "seconds" not in str(error)


def test_a_contract_violation_after_mapping_points_at_the_mapping_line(tmp_path):
    text = BASE.replace("channel: card", "channel: {column: mode, values: {C: card}}")
    with pytest.raises(MappingError) as caught:
        _one(text, "id,t,bank,acct,to,amt,mode\nA,1,1,2,M,1,C\nB,2,1,2,M,1,P2P\n", tmp_path)
    error = caught.value
    assert (error.line, error.column, error.row) == (10, "mode", 2)
    assert "expected one of" in str(error)


def test_values_with_a_default_and_yaml_syntax_errors(tmp_path):
    text = BASE.replace(
        "channel: card", "channel: {column: mode, values: {C: card}, default: transfer}"
    )
    frame = _one(text, "id,t,bank,acct,to,amt,mode\nA,1,1,2,M,1,C\nB,2,1,2,M,1,X\n", tmp_path)
    assert frame.get_column("channel").to_list() == ["card", "transfer"]
    with pytest.raises(MappingError) as caught:
        ColumnMapping.parse("transactions:\n  columns: {txn_id: [a\n", "m.yaml")
    assert caught.value.line is not None and "not valid YAML" in str(caught.value)


def test_a_request_lacking_a_mapped_required_field_names_the_users_column():
    mapping = ColumnMapping.parse("transactions:\n  columns:\n" + BASE, "m.yaml")
    request = {"id": "A", "t": 1, "bank": "010", "acct": 7, "to": "M", "amt": 2.5, "extra": 1}
    record = mapping.record(request)
    assert record["payer_id"] == "010:7" and record["amount"] == 250 and record["extra"] == 1
    with pytest.raises(FieldError) as caught:
        mapping.record({k: v for k, v in request.items() if k != "acct"})
    assert caught.value.field == "acct" and "payer_id" in caught.value.problem
    with pytest.raises(FieldError) as caught:
        mapping.record({**request, "t": "later"})
    assert caught.value.field == "t"


def test_mapped_world_is_the_folder_itself_without_tables(tmp_path):
    only_features = ColumnMapping.parse("transactions:\n  features: {exclude: [x]}\n", "m.yaml")
    with mapped_world(tmp_path, only_features) as world:
        assert world == tmp_path
    assert only_features.features.exclude == ("x",)


AGREE = ColumnMapping.parse(
    "transactions:\n  columns:\n"
    "    ts: {column: t, unit: ms, origin: 2024-02-29T12:00:00+08:00}\n"
    "    label_ts: {column: l, format: '%Y%m%d %H%M%S', timezone: Asia/Jakarta}\n"
    "    payer_id: [a, b]\n    amount: {column: amt, scale: 100}\n"
    "    channel: {column: c, values: {'1': card, '2': qr}, default: transfer}\n",
    "agree.yaml",
)


@settings(max_examples=60)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "t": st.one_of(st.integers(-(10**12), 10**12), st.floats(-1e9, 1e9)),
                "l": st.datetimes(datetime(2000, 1, 1), datetime(2040, 1, 1)).map(
                    lambda d: d.strftime("%Y%m%d %H%M%S")
                ),
                "a": st.one_of(st.integers(0, 999), st.text("ab0", min_size=1, max_size=3)),
                "b": st.integers(0, 99),
                "amt": st.one_of(
                    st.integers(1, 10**9), st.floats(0.01, 1e7).map(lambda x: round(x, 4))
                ),
                "c": st.sampled_from(["1", "2", "9", ""]),
            }
        ),
        min_size=1,
        max_size=8,
    )
)
def test_files_and_requests_map_to_the_same_values(rows):
    """Whole columns (polars) and single requests (Python) agree, as text or as numbers."""
    section = AGREE.tables["transactions"]
    as_text = pl.DataFrame([{k: str(v) for k, v in r.items()} for r in rows])
    frame, problems = section.frame(as_text, "rows.csv", strict=False)
    assert not problems
    for i, row in enumerate(rows):
        for request in (row, {k: str(v) for k, v in row.items()}):
            record = AGREE.record(request)
            for name in ("ts", "label_ts", "payer_id", "amount", "channel"):
                assert record[name] == frame.get_column(name)[i], (name, request)


def test_a_mapped_column_named_by_include_is_kept_as_an_extra(tmp_path):
    (tmp_path / "in.csv").write_text("id,t,bank,acct,to,amt,score\nA,1,1,2,M,1.5,0.3\n")
    text = "transactions:\n  file: in.csv\n  columns:\n" + BASE
    mapping = ColumnMapping.parse(text + "  features: {include: [amt, score]}\n", "m.yaml")
    frame = mapping.read_table(tmp_path, "transactions")
    assert frame.columns[-2:] == ["amt", "score"] and frame.get_column("amount")[0] == 150
    record = mapping.record({"id": "A", "t": 1, "bank": 1, "acct": 2, "to": "M", "amt": 1.5})
    assert record["amt"] == 1.5 and "bank" not in record
