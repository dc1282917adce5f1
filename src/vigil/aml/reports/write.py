"""Write a case's suspicious transaction report to a folder, as XML or CSV."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

import polars as pl

from vigil.aml.cases.model import Case
from vigil.aml.cases.sqlite import SqliteCaseStore
from vigil.aml.reports.content import ReportingEntity, build_report
from vigil.aml.reports.goaml import to_xml
from vigil.aml.reports.tabular import to_csv
from vigil.schema.io import read_table

Format = Literal["xml", "csv"]
FORMATS: tuple[Format, ...] = ("xml", "csv")


def write_report(
    case: Case,
    out_dir: Path,
    format: Format = "xml",
    *,
    transactions: pl.DataFrame,
    accounts: pl.DataFrame | None = None,
    entity: ReportingEntity | None = None,
    now: datetime | None = None,
) -> Path:
    """Write ``STR_<case_id>.<format>`` into ``out_dir`` and return its path.

    XML is validated against ``goaml.xsd`` before anything is written; an invalid or
    unreportable case raises :class:`~vigil.aml.reports.content.ReportError`.
    """
    if format not in FORMATS:
        raise ValueError(f"format {format!r}: expected one of {', '.join(FORMATS)}")
    report = build_report(case, transactions, accounts=accounts, entity=entity, now=now)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"STR_{case.case_id}.{format}"
    body = to_xml(report) if format == "xml" else to_csv(report).encode()
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_bytes(body)
    partial.replace(path)  # never leave half a report where a whole one is expected
    return path


def report_case(
    case_id: str,
    cases: Path,
    data: Path,
    out_dir: Path,
    format: Format = "xml",
    entity: ReportingEntity | None = None,
) -> Path:
    """``vigil aml report``: a case from the case store file, its transactions from a world."""
    store = SqliteCaseStore(cases)
    try:
        case = store.get(case_id)
    finally:
        store.close()
    transactions = read_table(Path(data), "transactions")
    assert transactions is not None  # required=True raises instead
    accounts = read_table(Path(data), "accounts", required=False)
    return write_report(
        case, out_dir, format, transactions=transactions, accounts=accounts, entity=entity
    )
