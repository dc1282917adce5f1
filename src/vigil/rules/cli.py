"""`vigil rules`: validate packs and backtest them on history; a thin shell over the library."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vigil.rules.pack import (
    PACKS_DIR,
    CompiledPack,
    RulePackError,
    context_names,
    load_pack,
    pack_file,
    read_pack_file,
)

rules_app = typer.Typer(
    help="Rule packs: validate them, and backtest a change on history before it goes live.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


PacksDir = Annotated[
    Path | None,
    typer.Option(
        help="Where `extends` parents are read from; default: beside the pack if its parent is "
        "there, else the shipped packs."
    ),
]


def _load(path: Path, names: list[str], packs_dir: Path | None) -> CompiledPack:
    try:
        if packs_dir is None:
            parent = read_pack_file(path).extends
            beside = parent is None or pack_file(path.parent, parent) is not None
            packs_dir = path.parent if beside else PACKS_DIR
        return load_pack(path, names, packs_dir)
    except RulePackError as error:
        console.print(f"[red]error[/red] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


@rules_app.command()
def check(
    packs: Annotated[list[Path], typer.Argument(help="Pack files.")],
    packs_dir: PacksDir = None,
) -> None:
    """Compile packs against the engine's fields and features; exit 1 on the first error."""
    names = context_names()
    for path in packs:
        pack = _load(path, names, packs_dir)
        enabled = sum(r.enabled for r in pack.rules)
        parent = f" on {pack.parent_version}" if pack.parent_version else ""
        console.print(
            f"[green]ok[/green] {path}: {pack.jurisdiction} {pack.version}, "
            f"{len(pack.rules)} rules ({enabled} enabled){parent}",
            highlight=False,
            soft_wrap=True,
        )


@rules_app.command()
def backtest(
    pack: Annotated[Path, typer.Argument(help="Candidate pack file.")],
    data: Annotated[Path, typer.Option(help="World folder (schema.md tables) to replay.")],
    live: Annotated[
        Path | None,
        typer.Option(
            help="Live pack to compare with; default: the shipped pack of the same jurisdiction."
        ),
    ] = None,
    until: Annotated[
        datetime | None, typer.Option(help="Only transactions before this time (UTC).")
    ] = None,
    packs_dir: PacksDir = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """What the candidate would have flagged on history, next to the live pack."""
    from vigil.features.replay import feature_frame
    from vigil.rules.backtest import backtest as run_backtest

    names = context_names()
    candidate = _load(pack, names, packs_dir)
    if live is None:
        shipped = PACKS_DIR / f"{candidate.jurisdiction.lower()}.yaml"
        live = shipped if shipped.exists() else None
    live_pack = _load(live, names, packs_dir) if live is not None else None
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    frame = feature_frame(data, until=until, progress=not quiet)
    report = run_backtest(candidate, live_pack, frame)
    console.print(report.render())
    if report.missing_columns:
        console.print(
            "[yellow]warning[/yellow] rules read columns the data lacks, so they never fired: "
            + ", ".join(report.missing_columns)
        )
    console.print(f"evaluated in {report.seconds:.1f} s", style="dim")
