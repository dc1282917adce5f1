"""`vigil import paysim|amlworld FILE --out DIR`: public data sets as contract worlds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vigil.schema.io import FORMATS

import_app = typer.Typer(no_args_is_help=True, add_completion=False)
console = Console()

FileArgument = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, help="The data set's CSV, as published.")
]
OutOption = Annotated[Path, typer.Option(help="World folder to write transactions into.")]
FormatOption = Annotated[str, typer.Option("--format", help=f"Table format: {', '.join(FORMATS)}.")]
JurisdictionOption = Annotated[
    str, typer.Option(help="ISO 3166-1 alpha-2 code booking every payment (ZZ: unknown).")
]


@import_app.command()
def paysim(
    file: FileArgument,
    out: OutOption,
    start: Annotated[str, typer.Option(help="UTC time of step 1.")] = "2026-01-01",
    currency: Annotated[str, typer.Option(help="ISO 4217 code for PaySim's amounts.")] = "USD",
    jurisdiction: JurisdictionOption = "ZZ",
    fmt: FormatOption = "parquet",
) -> None:
    """PaySim (step, type, amount, nameOrig, ..., isFraud, isFlaggedFraud)."""
    from vigil.importers.paysim import import_paysim

    try:
        began = datetime.fromisoformat(start)
    except ValueError:
        raise typer.BadParameter(
            f"expected a date or time, got {start!r}", param_hint="--start"
        ) from None
    began = began.replace(tzinfo=UTC) if began.tzinfo is None else began.astimezone(UTC)
    _run(lambda: import_paysim(file, out, began, currency, jurisdiction, _fmt(fmt)))


@import_app.command()
def amlworld(
    file: FileArgument,
    out: OutOption,
    patterns: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="The *_Patterns.txt file: typologies."),
    ] = None,
    jurisdiction: JurisdictionOption = "ZZ",
    fmt: FormatOption = "parquet",
) -> None:
    """IBM AMLworld (Timestamp, From Bank, Account, To Bank, Account, ..., Is Laundering)."""
    from vigil.importers.amlworld import import_amlworld

    _run(lambda: import_amlworld(file, out, patterns, jurisdiction, _fmt(fmt)))


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise typer.BadParameter(f"expected one of {', '.join(FORMATS)}", param_hint="--format")
    return fmt


def _run(job) -> None:
    try:
        summary = job()
    except (ValueError, FileNotFoundError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(code=2) from error
    table = Table(title=f"{summary.dataset} -> {summary.out_dir}", show_header=False)
    facts = summary.to_dict()
    table.add_row("rows read", f"{summary.rows_read:,}")
    table.add_row("rows written", f"{summary.rows_written:,}")
    table.add_row("time span", f"{facts['first']} .. {facts['last']}")
    rate = summary.fraud / summary.rows_written if summary.rows_written else 0.0
    table.add_row("labelled positive", f"{summary.fraud:,} ({rate:.3%})")
    for reason, count in {**summary.skipped, **summary.adjusted}.items():
        table.add_row(reason, f"{count:,}")
    table.add_row("typologies", ", ".join(f"{k} {v:,}" for k, v in facts["typologies"].items()))
    console.print(table)
