"""`vigil audit`: check the audit trail's hash chain, list its records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from vigil.cli_support import console
from vigil.cli_support import fail as _fail

audit_app = typer.Typer(no_args_is_help=True, add_completion=False)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="SQLite file or postgresql:// URL (default: $VIGIL_AUDIT_DB, else "
        "~/.local/state/vigil/audit.sqlite).",
    ),
]
SchemaOption = Annotated[str, typer.Option(help="PostgreSQL schema holding the trail.")]


def _open(db: str | None, schema: str):
    from vigil.audit.chain import AuditError
    from vigil.audit.trail import default_target, open_trail

    target = db or default_target()
    if not target.startswith(("postgresql://", "postgres://")) and not Path(target).is_file():
        raise _fail(FileNotFoundError(f"no audit trail at {target}"))
    try:
        return open_trail(target, schema=schema)
    except AuditError as error:
        raise _fail(error) from error


@audit_app.command()
def verify(
    db: DbOption = None,
    schema: SchemaOption = "vigil",
    anchor: Annotated[
        str | None,
        typer.Option(help="A head hash noted earlier: it must still be in the trail."),
    ] = None,
) -> None:
    """Recompute the hash chain: OK and the head hash, or each record altered, deleted or
    inserted out of chain (exit code 1)."""
    trail = _open(db, schema)
    try:
        result = trail.verify(anchor)
    finally:
        trail.close()
    console.print(result.render(), highlight=False, soft_wrap=True)
    if not result.ok:
        raise typer.Exit(code=1)


@audit_app.command("list")
def list_records(
    db: DbOption = None,
    schema: SchemaOption = "vigil",
    since: Annotated[int, typer.Option(min=0, help="Only records after this seq.")] = 0,
) -> None:
    """Print the records as JSON lines."""
    trail = _open(db, schema)
    try:
        for record in trail.records(since):
            print(json.dumps(record.to_dict(), ensure_ascii=False))
    finally:
        trail.close()
