"""Suspicious transaction reports: goAML-style XML that validates, CSV with the same content."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from lxml import etree

from vigil.aml.cases import CaseStatus, SqliteCaseStore
from vigil.aml.reports import (
    ReportError,
    ReportingEntity,
    build_report,
    report_case,
    to_csv,
    to_xml,
    validate,
    write_report,
)
from vigil.schema.io import write_table

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class FakeAlert:
    alert_id: str
    subject: str
    typology: str
    txn_ids: tuple[str, ...]
    summary: str
    jurisdiction: str = "SG"
    ts: datetime = T0
    score: float = 0.9


def _transactions() -> pl.DataFrame:
    rows = [
        ("T1", T0, "P1", "P2", 1_950_000, "SGD", "cash_in", "SG", "SG", "SG"),
        ("T2", T0 + timedelta(hours=3), "P1", "P2", 1_990_000, "SGD", "cash_in", "SG", "SG", "SG"),
        ("T3", T0 + timedelta(hours=7), "P2", "EXT9", 5_000_000, "USD", "transfer", "SG", "SG", "HK"),
        ("T4", T0 + timedelta(hours=8), "P3", "P4", 100, "SGD", "card", "SG", "SG", "SG"),
    ]  # fmt: skip
    cols = ["txn_id", "ts", "payer_id", "payee_id", "amount", "currency", "channel"]
    cols += ["jurisdiction", "payer_country", "payee_country"]
    return pl.DataFrame(rows, schema=cols, orient="row").with_columns(
        pl.col("ts").cast(pl.Datetime("us", "UTC"))
    )


def _accounts() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "account_id": ["P1", "P2", "P3", "P4"],
            "kind": ["person"] * 4,
            "name": ["Tan Wei Ming", "Lim Boon Huat", "Siti binti Ali", "Ravi s/o Kumar"],
            "country": ["SG"] * 4,
            "created_at": [T0 - timedelta(days=400)] * 4,
        }
    )


@pytest.fixture
def store() -> SqliteCaseStore:
    store = SqliteCaseStore()
    store.add_alert(
        FakeAlert(
            "structuring:P1:T2",
            "P1",
            "structuring",
            ("T1", "T2"),
            "2 cash deposits of SGD 19,500 and 19,900 within 3 h, under the SGD 20,000 threshold",
        ),
        now=T0,
    )
    store.add_alert(
        FakeAlert(
            "pass_through:P1:T3",
            "P1",
            "pass_through",
            ("T2", "T3"),
            "SGD 39,400 in, USD 50,000 out to an outside account within 7 h",
            ts=T0 + timedelta(hours=7),
        ),
        now=T0 + timedelta(hours=7),
    )
    case_id = store.find(subject="P1")[0].case_id
    store.assign(case_id, "ana", actor="lead", now=T0)
    store.transition(case_id, CaseStatus.INVESTIGATING, actor="ana", now=T0)
    store.transition(case_id, CaseStatus.ESCALATED, actor="ana", now=T0 + timedelta(days=1))
    store.transition(case_id, CaseStatus.CLOSED_TRUE_POSITIVE, actor="mlro", now=NOW)
    return store


def _report(store: SqliteCaseStore):
    case = store.find(subject="P1")[0]
    entity = ReportingEntity("SG-PSP-0042", "Vigil Pay Pte Ltd", person="MLRO Desk", email="a@b.c")
    return build_report(case, _transactions(), accounts=_accounts(), entity=entity, now=NOW)


def test_xml_report_validates_and_carries_the_case(store: SqliteCaseStore) -> None:
    document = to_xml(_report(store))
    validate(document)  # to_xml validates too; a second check costs nothing
    root = etree.fromstring(document)
    assert root.findtext("report_code") == "STR"
    assert root.findtext("rentity_id") == "SG-PSP-0042"
    assert root.findtext("entity_reference") == store.find(subject="P1")[0].case_id
    assert root.findtext("submission_date") == "2026-03-09T12:00:00Z"
    assert root.findtext("currency_code_local") == "SGD"
    assert "under the SGD 20,000 threshold" in root.findtext("reason")
    assert "USD 50,000 out" in root.findtext("reason")
    assert [i.text for i in root.iter("indicator")] == ["structuring", "pass_through"]
    txns = root.findall("transaction")
    assert [t.findtext("transactionnumber") for t in txns] == ["T1", "T2", "T3"]
    first = txns[0]
    assert first.findtext("date_transaction") == "2026-03-02T09:00:00Z"
    assert first.findtext("amount_local") == "19500.00"
    assert first.findtext("transmode_code") == "CASH"
    assert first.findtext("t_from_my_client/from_funds_code") == "CASH"
    assert first.findtext("t_from_my_client/from_account/account") == "P1"
    assert first.findtext("t_from_my_client/from_account/account_name") == "Tan Wei Ming"
    assert first.findtext("t_to_my_client/to_account/account") == "P2"
    wire = txns[2]  # USD to an account outside the platform
    assert wire.findtext("foreign_currency/foreign_currency_code") == "USD"
    assert wire.findtext("foreign_currency/foreign_amount") == "50000.00"
    rate = Decimal(wire.findtext("foreign_currency/foreign_exchange_rate"))
    assert Decimal(wire.findtext("amount_local")) == (Decimal(50000) * rate).quantize(
        Decimal("0.01")
    )
    assert wire.find("t_to") is not None and wire.findtext("t_to/to_country") == "HK"


@pytest.mark.parametrize(
    "damage",
    [
        lambda r: r.remove(r.find("reason")),  # a required element missing
        lambda r: setattr(r.find("currency_code_local"), "text", "sgd"),  # bad code
        lambda r: setattr(r.find("report_code"), "text", "CTR"),  # fixed value
        lambda r: (
            r.remove(r.find("transaction")) or [r.remove(t) for t in r.findall("transaction")]
        ),
        lambda r: setattr(r.find("transaction/amount_local"), "text", "-5.00"),
        lambda r: setattr(r.find("transaction/date_transaction"), "text", "2026-03-02 09:00"),
        lambda r: r.insert(0, etree.Element("surprise")),  # unknown element
    ],
)
def test_a_broken_document_does_not_validate(store: SqliteCaseStore, damage) -> None:
    root = etree.fromstring(to_xml(_report(store)))
    damage(root)
    with pytest.raises(ReportError, match=r"does not match goaml\.xsd"):
        validate(etree.tostring(root))


def test_not_xml_is_rejected() -> None:
    with pytest.raises(ReportError, match="not well-formed"):
        validate(b"<report><rentity_id>x</report>")


def test_csv_has_one_row_per_transaction(store: SqliteCaseStore) -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv(_report(store)))))
    assert [r["txn_id"] for r in rows] == ["T1", "T2", "T3"]
    assert rows[0]["amount"] == "19500.00" and rows[0]["currency"] == "SGD"
    assert rows[2]["currency"] == "USD" and rows[2]["to_my_client"] == "False"
    assert rows[1]["typology"] == "structuring"  # the first alert naming it
    assert {r["entity_reference"] for r in rows} == {store.find(subject="P1")[0].case_id}


def test_only_escalated_or_confirmed_cases_are_reported() -> None:
    store = SqliteCaseStore()
    case = store.add_alert(
        FakeAlert("a", "P3", "structuring", ("T4",), "one small payment"), now=T0
    )
    with pytest.raises(ReportError, match="is open; only escalated or closed_true_positive"):
        build_report(case, _transactions())


def test_missing_transactions_are_named(store: SqliteCaseStore) -> None:
    case = store.find(subject="P1")[0]
    with pytest.raises(ReportError, match="not found: T3"):
        build_report(case, _transactions().filter(pl.col("txn_id") != "T3"))


def test_write_report_and_the_cli_function(store: SqliteCaseStore, tmp_path: Path) -> None:
    case = store.find(subject="P1")[0]
    xml = write_report(case, tmp_path / "out", "xml", transactions=_transactions(), now=NOW)
    assert xml.name == f"STR_{case.case_id}.xml"
    validate(xml.read_bytes())
    with pytest.raises(ValueError, match="expected one of xml, csv"):
        write_report(case, tmp_path, "pdf", transactions=_transactions())  # type: ignore[arg-type]
    # the function behind `vigil aml report CASE_ID`: a case store file and a world folder
    world = tmp_path / "world"
    write_table(_transactions(), world, "transactions")
    write_table(_accounts(), world, "accounts")
    db = tmp_path / "cases.sqlite"
    filed = SqliteCaseStore(db)
    cid = filed.add_alert(
        FakeAlert("a", "P1", "structuring", ("T1", "T2"), "split"), now=T0
    ).case_id
    filed.transition(cid, CaseStatus.INVESTIGATING, actor="ana", now=T0)
    filed.transition(cid, CaseStatus.ESCALATED, actor="ana", now=T0)
    filed.close()
    path = report_case(cid, db, world, tmp_path / "reports", "csv")
    assert path.read_text().count("\n") == 3  # header and two transactions


def test_cli_report_command(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from vigil.aml.cli import aml_app

    world = tmp_path / "world"
    write_table(_transactions(), world, "transactions")
    write_table(_accounts(), world, "accounts")
    db = tmp_path / "cases.sqlite"
    filed = SqliteCaseStore(db)
    cid = filed.add_alert(FakeAlert("a", "P1", "structuring", ("T1",), "cash"), now=T0).case_id
    filed.close()
    runner = CliRunner()
    args = ["report", cid, "--cases", str(db), "--data", str(world), "--out", str(tmp_path)]
    refused = runner.invoke(aml_app, args)
    assert refused.exit_code == 2 and "only escalated" in refused.output
    filed = SqliteCaseStore(db)
    filed.transition(cid, CaseStatus.INVESTIGATING, actor="ana", now=T0)
    filed.transition(cid, CaseStatus.ESCALATED, actor="ana", now=T0)
    filed.close()
    done = runner.invoke(aml_app, args)
    assert done.exit_code == 0, done.output
    validate((tmp_path / f"STR_{cid}.xml").read_bytes())
