"""A report as goAML-style XML, validated against the schema the project keeps (goaml.xsd)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from lxml import etree

from vigil.aml.reports.content import (
    Party,
    Report,
    ReportedTransaction,
    ReportError,
    exchange_rate,
)

SCHEMA_PATH = Path(__file__).with_name("goaml.xsd")

#: Vigil channels as the schema's transmode codes.
TRANSMODE = {
    "cash_in": "CASH",
    "cash_out": "CASH",
    "card": "CARD",
    "transfer": "EFT",
    "wallet": "WALLET",
    "qr": "QR",
}


@cache
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))


def validate(document: bytes) -> None:
    """Raise :class:`ReportError` listing every schema violation of ``document``."""
    try:
        tree = etree.fromstring(document)
    except etree.XMLSyntaxError as error:
        raise ReportError(f"not well-formed XML: {error}") from None
    checker = schema()
    if not checker.validate(tree):
        problems = "; ".join(f"line {e.line}: {e.message}" for e in checker.error_log)
        raise ReportError(f"report does not match {SCHEMA_PATH.name}: {problems}")


def to_xml(report: Report) -> bytes:
    """The report as UTF-8 XML, checked against the schema before it is returned."""
    root = etree.Element("report")
    entity = report.entity
    _add(root, "rentity_id", entity.rentity_id)
    if entity.branch:
        _add(root, "rentity_branch", entity.branch)
    _add(root, "submission_code", "E")
    _add(root, "report_code", "STR")
    _add(root, "entity_reference", report.case.case_id)
    _add(root, "submission_date", _when(report.submitted_at))
    _add(root, "currency_code_local", report.currency_local)
    if entity.person:
        person = etree.SubElement(root, "reporting_person")
        _add(person, "last_name", entity.person)
        if entity.email:
            _add(person, "email", entity.email)
    _add(root, "reason", report.reason)
    _add(root, "action", report.action)
    for txn in report.transactions:
        _transaction(root, report, txn)
    indicators = etree.SubElement(root, "report_indicators")
    for indicator in report.indicators:
        _add(indicators, "indicator", indicator)
    document = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    validate(document)
    return document


def _transaction(root: etree._Element, report: Report, txn: ReportedTransaction) -> None:
    node = etree.SubElement(root, "transaction")
    _add(node, "transactionnumber", txn.txn_id)
    _add(node, "transaction_location", txn.jurisdiction)
    _add(node, "transaction_description", f"{txn.channel} payment, {txn.typology} pattern")
    _add(node, "date_transaction", _when(txn.ts))
    _add(node, "transmode_code", TRANSMODE[txn.channel])
    _add(node, "amount_local", str(report.local_amount(txn)))
    if txn.currency != report.currency_local:
        foreign = etree.SubElement(node, "foreign_currency")
        _add(foreign, "foreign_currency_code", txn.currency)
        _add(foreign, "foreign_amount", str(txn.major()))
        _add(
            foreign,
            "foreign_exchange_rate",
            str(exchange_rate(txn.currency, report.currency_local)),
        )
    cash_in, cash_out = txn.channel == "cash_in", txn.channel == "cash_out"
    _party(node, "from", txn.payer, "CASH" if cash_in else "ACCOUNT", report, txn)
    _party(node, "to", txn.payee, "CASH" if cash_out else "ACCOUNT", report, txn)


def _party(
    node: etree._Element,
    side: str,
    party: Party,
    funds: str,
    report: Report,
    txn: ReportedTransaction,
) -> None:
    holder = etree.SubElement(node, f"t_{side}_my_client" if party.client else f"t_{side}")
    _add(holder, f"{side}_funds_code", funds)
    account = etree.SubElement(holder, f"{side}_account")
    institution = report.entity.name if party.client else "unknown institution"
    _add(account, "institution_name", institution)
    _add(account, "account", party.account_id)
    if party.name:
        _add(account, "account_name", party.name)
    _add(account, "currency_code", txn.currency)
    if party.country:
        _add(holder, f"{side}_country", party.country)


def _add(parent: etree._Element, tag: str, text: str) -> etree._Element:
    child = etree.SubElement(parent, tag)
    child.text = text
    return child


def _when(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
