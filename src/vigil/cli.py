"""`vigil`: the command line, a thin shell over the library."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vigil.schema.io import FORMATS

app = typer.Typer(
    help="Vigil: a real-time risk engine for payment platforms.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()


@app.callback()
def main() -> None:
    """Vigil: a real-time risk engine for payment platforms."""


def _instant(value: str | None, option: str) -> datetime | None:
    """A date or RFC 3339 time from the command line, in UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"expected a date or time such as 2026-01-24 or 2026-01-24T08:00:00Z, got {value!r}",
            param_hint=option,
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _fail(error: Exception) -> typer.Exit:
    console.print(f"[red]error:[/red] {error}")
    return typer.Exit(code=2)


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="Folder to write the world's tables into.")],
    accounts: Annotated[
        int, typer.Option(min=500, help="Number of accounts (at least 500).")
    ] = 20_000,
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


@app.command()
def train(
    data: Annotated[Path, typer.Option(help="World folder (schema.md tables).")],
    out: Annotated[Path, typer.Option(help="Folder for the model bundle.")],
    until: Annotated[str | None, typer.Option(help="Train on events before this date.")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
    blocks: Annotated[
        str, typer.Option(help="Learnt feature blocks under the GBDT, comma-separated: sequence.")
    ] = "",
    compile: Annotated[
        bool, typer.Option(help="Compile the booster to machine code (lleaves) for fast scoring.")
    ] = True,
) -> None:
    """Train every model layer on events before --until and write a bundle."""
    from vigil.models.train import train_bundle

    kinds = [kind.strip() for kind in blocks.split(",") if kind.strip()]
    try:
        bundle = train_bundle(
            data,
            out,
            _instant(until, "--until"),
            progress=not quiet,
            console=console,
            blocks=kinds,
            compile=compile,
        )
    except (ValueError, FileNotFoundError) as error:
        raise _fail(error) from error
    m = bundle.metrics
    console.print(
        f"bundle [bold]{bundle.version}[/bold] -> {out}\n"
        f"validation AUPRC {m['validation_auprc']:.4f}, ROC AUC {m['validation_roc_auc']:.4f}, "
        f"Brier {m['validation_brier_calibrated']:.5f} (raw {m['validation_brier_raw']:.5f})"
    )


@app.command()
def replay(
    data: Annotated[Path, typer.Option(help="World folder.")],
    models: Annotated[Path, typer.Option(help="Model bundle folder.")],
    out: Annotated[Path, typer.Option(help="Run folder for decisions.parquet and metrics.json.")],
    start: Annotated[
        str | None, typer.Option("--from", help="First event time (default: end of training).")
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=2, help="2: feature walk and decisions on separate cores.")
    ] = 2,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Stream events through the real-time engine, labels hidden until their label_ts."""
    from vigil.engine.replay import replay as run_replay
    from vigil.evaluation.metrics import format_metrics

    try:
        summary = run_replay(
            data, models, out, _instant(start, "--from"), progress=not quiet, workers=workers
        )
    except (ValueError, FileNotFoundError) as error:
        raise _fail(error) from error
    console.print(
        f"decided {summary.decided:,} transactions in {summary.seconds:.1f} s "
        f"({summary.per_second:,.0f}/s); {summary.labels_released:,} fraud labels released "
        f"on time; run -> {out}"
    )
    metrics_file = out / "metrics.json"
    if metrics_file.exists():
        import json

        console.print(format_metrics(json.loads(metrics_file.read_text())))


@app.command()
def evaluate(
    run: Annotated[Path, typer.Option(help="Run folder written by `vigil replay`.")],
    data: Annotated[Path, typer.Option(help="World folder with the labels.")],
    review_budget: Annotated[
        float, typer.Option(help="Share of traffic analysts can review.")
    ] = 0.01,
) -> None:
    """AUPRC, ROC AUC, recall at 0.1% and 1% FPR, precision at budget, amount caught, per typology."""
    from vigil.evaluation.metrics import evaluate_run, format_metrics

    try:
        metrics = evaluate_run(run, data, review_budget=review_budget)
    except (ValueError, FileNotFoundError) as error:
        raise _fail(error) from error
    console.print(format_metrics(metrics))


@app.command()
def report(
    run: Annotated[Path, typer.Argument(help="Run folder written by `vigil replay`.")],
    data: Annotated[
        Path | None, typer.Option(help="World folder, if the run has no labels.")
    ] = None,
) -> None:
    """Write RUN/report.html: PR curve, score distributions, recall per typology, latency, reasons."""
    from vigil.evaluation.report import write_report

    try:
        path = write_report(run, data)
    except (ValueError, FileNotFoundError) as error:
        raise _fail(error) from error
    console.print(f"report -> {path}")


@app.command()
def serve(
    models: Annotated[Path, typer.Option(help="Model bundle folder.")],
    data: Annotated[
        Path | None, typer.Option(help="World folder for the accounts reference table.")
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    keys: Annotated[
        Path | None, typer.Option(help="API keys file (hashes and scopes); none: one is generated.")
    ] = None,
) -> None:
    """Run the HTTP API on the embedded default (one process, in-memory state)."""
    from vigil.api.auth import KeyFileError
    from vigil.api.serve import serve as run_server
    from vigil.models.bundle import BundleError

    try:
        run_server(models, data, host=host, port=port, keys_file=keys)
    except (BundleError, KeyFileError, FileNotFoundError) as error:
        raise _fail(error) from error


def _register_subcommands() -> None:
    from vigil.rules.cli import rules_app

    app.add_typer(rules_app, name="rules", help="Rule packs: validate, backtest.")


_register_subcommands()

if __name__ == "__main__":
    app()
