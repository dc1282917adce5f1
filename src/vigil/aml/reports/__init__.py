"""Regulator reports: a suspicious transaction report per case, as goAML-style XML or CSV.

:mod:`.content` builds what the report says, :mod:`.goaml` writes XML validated against
``goaml.xsd`` (a reduced goAML-style schema kept with the code), :mod:`.tabular` writes CSV and
:mod:`.write` puts either in a folder.
"""

from vigil.aml.reports.content import Report, ReportError, ReportingEntity, build_report
from vigil.aml.reports.goaml import SCHEMA_PATH, to_xml, validate
from vigil.aml.reports.tabular import to_csv
from vigil.aml.reports.write import FORMATS, report_case, write_report

__all__ = [
    "FORMATS",
    "SCHEMA_PATH",
    "Report",
    "ReportError",
    "ReportingEntity",
    "build_report",
    "report_case",
    "to_csv",
    "to_xml",
    "validate",
    "write_report",
]
