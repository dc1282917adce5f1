"""`vigil aml`: file a case's suspicious transaction report, screen a name; a thin shell."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vigil.cli_support import fail as _fail

aml_app = typer.Typer(
    help="AML: regulator reports for cases, sanctions and watchlist screening.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


@aml_app.command()
def report(
    case_id: Annotated[str, typer.Argument(help="The case to report, e.g. C00000012.")],
    cases: Annotated[Path, typer.Option(help="Case store (SQLite file).")] = Path("cases.sqlite"),
    data: Annotated[
        Path, typer.Option(help="World folder holding the case's transactions and accounts.")
    ] = Path("data/demo"),
    out: Annotated[Path, typer.Option(help="Folder the report is written to.")] = Path("reports"),
    format: Annotated[str, typer.Option(help="xml (goAML-style, validated) or csv.")] = "xml",
    entity_id: Annotated[str, typer.Option(help="Reporting entity id given by the FIU.")] = (
        "VIGIL-DEMO"
    ),
    entity_name: Annotated[str, typer.Option(help="Reporting entity name.")] = (
        "Vigil demo payments platform"
    ),
) -> None:
    """Write the suspicious transaction report of an escalated or confirmed case."""
    from vigil.aml.cases import CaseError
    from vigil.aml.reports import FORMATS, ReportError, ReportingEntity, report_case

    if format not in FORMATS:
        raise typer.BadParameter(f"expected one of {', '.join(FORMATS)}", param_hint="--format")
    if not cases.exists():
        raise _fail(FileNotFoundError(f"no case store at {cases}"))
    try:
        path = report_case(
            case_id, cases, data, out, format, ReportingEntity(entity_id, entity_name)
        )
    except (CaseError, ReportError, FileNotFoundError) as error:
        raise _fail(error) from error
    console.print(f"[green]wrote[/green] {path}", highlight=False, soft_wrap=True)


@aml_app.command()
def screen(
    name: Annotated[str, typer.Argument(help="The name to screen, in any romanisation.")],
    data: Annotated[
        Path, typer.Option(help="World folder with the watchlist (and accounts, for known names).")
    ] = Path("data/demo"),
    country: Annotated[str | None, typer.Option(help="Nationality, alpha-2.")] = None,
    kind: Annotated[
        str | None, typer.Option(help="person, entity, or an account kind (business, merchant).")
    ] = None,
    threshold: Annotated[float | None, typer.Option(help="Match threshold, 0-1.")] = None,
    dob: Annotated[
        str | None, typer.Option(help="Date of birth, YYYY-MM-DD (persons): the second identifier.")
    ] = None,
) -> None:
    """Screen a name against the watchlist; exit 1 when it matches a listed entry."""
    from vigil.aml.screening import Screener, ScreeningPolicy

    policy = ScreeningPolicy() if threshold is None else ScreeningPolicy(threshold=threshold)
    try:
        screener = Screener.from_world(data, policy)
    except (FileNotFoundError, ValueError) as error:
        raise _fail(error) from error
    try:
        result = screener.screen(name, country=country, kind=kind, birth_date=dob)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--dob") from error
    if not result.matched:
        console.print(f"no match for {name!r} (list {result.list_version})", highlight=False)
        return
    table = Table(title=f"{name} — list {result.list_version}")
    for column in ("entry", "list", "listed name", "matched name", "country", "DOB", "score"):
        table.add_column(column)
    for hit in result.hits:
        table.add_row(
            hit.entry_id,
            hit.list,
            hit.listed_name,
            hit.matched_name,
            hit.country or "-",
            hit.dob,
            f"{hit.score:.3f}",
        )
    console.print(table)
    raise typer.Exit(code=1)
