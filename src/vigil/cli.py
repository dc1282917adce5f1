"""`vigil`: the command line, a thin shell over the library."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vigil.schema.io import FORMATS

app = typer.Typer(
    help="Vigil: a real-time risk engine for payment platforms.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="Folder to write the world's tables into.")],
    accounts: Annotated[int, typer.Option(min=50, help="Number of accounts.")] = 20_000,
    days: Annotated[int, typer.Option(min=1, help="Days of activity.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same files.")] = 7,
    fmt: Annotated[str, typer.Option("--format", help=f"One of {', '.join(FORMATS)}.")] = "parquet",
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Write a synthetic world (payments, fraud, AML, claims, SME credit, watchlist)."""
    from vigil.world.simulate import simulate_world

    if fmt not in FORMATS:
        raise typer.BadParameter(f"expected one of {', '.join(FORMATS)}", param_hint="--format")
    summary = simulate_world(
        out, accounts=accounts, days=days, seed=seed, fmt=fmt, progress=not quiet
    )
    console.print(summary.render())


if __name__ == "__main__":
    app()
