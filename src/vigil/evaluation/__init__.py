"""How well a run caught fraud, and what it cost: metrics for the terminal, a report for people."""

from vigil.evaluation.metrics import (
    compare,
    compute_metrics,
    evaluate_run,
    format_metrics,
    labels_from_data,
)
from vigil.evaluation.report import write_report

__all__ = [
    "compare",
    "compute_metrics",
    "evaluate_run",
    "format_metrics",
    "labels_from_data",
    "write_report",
]
