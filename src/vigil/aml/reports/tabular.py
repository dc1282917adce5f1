"""A report as CSV: one row per reported transaction, the report's header repeated on each.

For FIUs and internal reviewers that take spreadsheets; the content is the XML's.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC

from vigil.aml.reports.content import Report

COLUMNS = (
    "report_code",
    "entity_reference",
    "rentity_id",
    "submission_date",
    "jurisdiction",
    "currency_code_local",
    "subject",
    "txn_id",
    "date_transaction",
    "channel",
    "amount",
    "currency",
    "amount_local",
    "from_account",
    "from_name",
    "from_country",
    "from_my_client",
    "to_account",
    "to_name",
    "to_country",
    "to_my_client",
    "typology",
    "reason",
)


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    submitted = report.submitted_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for t in report.transactions:
        writer.writerow(
            (
                "STR",
                report.case.case_id,
                report.entity.rentity_id,
                submitted,
                report.case.jurisdiction,
                report.currency_local,
                report.case.subject,
                t.txn_id,
                t.ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                t.channel,
                t.major(),
                t.currency,
                report.local_amount(t),
                t.payer.account_id,
                t.payer.name or "",
                t.payer.country or "",
                t.payer.client,
                t.payee.account_id,
                t.payee.name or "",
                t.payee.country or "",
                t.payee.client,
                t.typology,
                report.reason,
            )
        )
    return out.getvalue()
