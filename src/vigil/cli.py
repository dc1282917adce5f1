"""`vigil`: the command line, a thin shell over the library."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vigil.cli_support import fail as _fail
from vigil.cli_support import instant as _instant
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


MappingOption = Annotated[
    Path | None,
    typer.Option(help="Column mapping (YAML) from your files onto the contract; see docs/byod.md."),
]


def _mapping(path: Path | None):
    """The parsed ``--mapping`` file, or None."""
    if path is None:
        return None
    from vigil.schema.mapping import ColumnMapping

    try:
        return ColumnMapping.load(path)
    except ValueError as error:
        raise _fail(error) from error


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
        str,
        typer.Option(
            help="Learnt feature blocks under the GBDT, comma-separated: sequence, graph."
        ),
    ] = "",
    compile: Annotated[
        bool, typer.Option(help="Compile the booster to machine code (lleaves) for fast scoring.")
    ] = True,
    mapping: MappingOption = None,
) -> None:
    """Train every model layer on events before --until and write a bundle."""
    from vigil.models.train import train_bundle
    from vigil.schema.mapping import mapped_world

    kinds = [kind.strip() for kind in blocks.split(",") if kind.strip()]
    columns = _mapping(mapping)
    try:
        with mapped_world(data, columns) as world:
            bundle = train_bundle(
                world,
                out,
                _instant(until, "--until"),
                progress=not quiet,
                console=console,
                blocks=kinds,
                compile=compile,
                extra_columns=columns.features if columns else None,
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
    mapping: MappingOption = None,
    aml: Annotated[
        bool, typer.Option(help="Also run the AML detectors: alerts.jsonl and cases.sqlite.")
    ] = False,
) -> None:
    """Stream events through the real-time engine, labels hidden until their label_ts."""
    from vigil.engine.replay import replay as run_replay
    from vigil.evaluation.metrics import format_metrics
    from vigil.schema.mapping import mapped_world

    columns = _mapping(mapping)
    try:
        with mapped_world(data, columns) as world:
            summary = run_replay(
                world,
                models,
                out,
                _instant(start, "--from"),
                progress=not quiet,
                workers=workers,
                aml=aml,
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

        metrics = json.loads(metrics_file.read_text())
        console.print(format_metrics(metrics))
        if "aml" in metrics:
            found = metrics["aml"]
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(found["per_typology"].items()))
            console.print(
                f"AML: {found['alerts']:,} alerts ({kinds}) filed into {out / 'cases.sqlite'}"
            )


@app.command()
def evaluate(
    run: Annotated[Path, typer.Option(help="Run folder written by `vigil replay`.")],
    data: Annotated[Path, typer.Option(help="World folder with the labels.")],
    review_budget: Annotated[
        float, typer.Option(help="Share of traffic analysts can review.")
    ] = 0.01,
    mapping: MappingOption = None,
) -> None:
    """AUPRC, ROC AUC, recall at 0.1% and 1% FPR, precision at budget, amount caught, per typology."""
    from vigil.evaluation.metrics import evaluate_run, format_metrics
    from vigil.schema.mapping import mapped_world

    columns = _mapping(mapping)
    try:
        with mapped_world(data, columns, tables=("transactions",)) as world:
            metrics = evaluate_run(run, world, review_budget=review_budget)
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
    mapping: Annotated[
        Path | None,
        typer.Option(help="Column mapping (YAML): requests and --data in your own column names."),
    ] = None,
    claims_models: Annotated[
        Path | None,
        typer.Option(help="Claims model folder (vigil claims train): adds /v1/claims/score."),
    ] = None,
    credit_models: Annotated[
        Path | None,
        typer.Option(help="Credit model folder (vigil credit train): adds /v1/credit/score."),
    ] = None,
    users: Annotated[
        Path | None,
        typer.Option(help="Dashboard users file (vigil dashboard add-user): serves it at /."),
    ] = None,
    cases: Annotated[
        Path | None,
        typer.Option(help="Case store the dashboard works (e.g. runs/demo/cases.sqlite)."),
    ] = None,
    feedback_log: Annotated[
        Path | None,
        typer.Option(help="Where the dashboard logs verdicts; default: feedback.jsonl by --cases."),
    ] = None,
    backend: Annotated[
        str,
        typer.Option(
            help="embedded: state in this process. scaleout: state in Redis, decisions in "
            "PostgreSQL, from VIGIL_REDIS_URL, VIGIL_POSTGRES_URL, VIGIL_NAMESPACE "
            "(docs/deploy.md)."
        ),
    ] = "embedded",
) -> None:
    """Run the HTTP API: embedded (one process, in-memory state) or scaled out."""
    from vigil.api.auth import KeyFileError
    from vigil.api.serve import serve as run_server
    from vigil.models.bundle import BundleError
    from vigil.schema.mapping import mapped_world

    columns = _mapping(mapping)
    if backend not in ("embedded", "scaleout"):
        raise _fail(ValueError(f"--backend: expected embedded or scaleout, got {backend!r}"))
    shared = None
    if backend == "scaleout":
        from vigil.stream.scaleout import ScaleOut

        shared = ScaleOut.from_env()
    try:
        # --data supplies the accounts reference table; mapped too when the mapping names it
        world = mapped_world(data, columns, tables=("accounts",)) if data else nullcontext(None)
        with world as accounts:
            run_server(
                models,
                accounts,
                host=host,
                port=port,
                keys_file=keys,
                mapping=columns,
                claims_models=claims_models,
                credit_models=credit_models,
                users_file=users,
                cases=cases,
                feedback_log=feedback_log,
                dashboard_data=data if columns is None else None,
                scaleout=shared,
            )
    except (BundleError, KeyFileError, FileNotFoundError, ValueError, ConnectionError) as error:
        raise _fail(error) from error


@app.command()
def inspect(
    data: Annotated[Path, typer.Option(help="World folder (your files, with --mapping).")],
    mapping: MappingOption = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the profile as JSON ('-': stdout).")
    ] = None,
) -> None:
    """Profile a world: tables, time span, label rates, columns, and the problems found."""
    import json

    from vigil.inspect import inspect_world, render_profile

    try:
        profile = inspect_world(data, _mapping(mapping))
    except (ValueError, FileNotFoundError) as error:
        raise _fail(error) from error
    text = json.dumps(profile, indent=2, default=str)
    if json_out is not None and str(json_out) == "-":
        print(text)
        return
    render_profile(profile, console)
    if json_out is not None:
        json_out.write_text(text)
        console.print(f"profile -> {json_out}")


def _register_subcommands() -> None:
    # each sub-app imports only Typer and Rich at start-up; its heavy modules load on use
    from vigil.aml.cli import aml_app
    from vigil.audit.cli import audit_app
    from vigil.credit.cli import credit_app
    from vigil.dashboard.cli import dashboard_app
    from vigil.federated.cli import federated_app
    from vigil.graph.claims_cli import claims_app
    from vigil.importers.cli import import_app
    from vigil.rules.cli import rules_app
    from vigil.stream.cli import stream_app, worker_command

    app.add_typer(rules_app, name="rules", help="Rule packs: validate, backtest.")
    app.add_typer(import_app, name="import", help="Convert public data sets to a world.")
    app.add_typer(claims_app, name="claims", help="Insurance-claim fraud on the claims graph.")
    app.add_typer(aml_app, name="aml", help="AML: screening, cases and regulator reports.")
    app.add_typer(audit_app, name="audit", help="The audit trail: verify its hash chain, list it.")
    app.add_typer(credit_app, name="credit", help="SME credit: train the PD model, score firms.")
    app.add_typer(dashboard_app, name="dashboard", help="The analyst dashboard's users.")
    app.add_typer(stream_app, name="stream", help="Payments on NATS JetStream (scale-out).")
    app.command("worker")(worker_command)
    app.add_typer(
        federated_app, name="federated", help="Federated training across jurisdictions (Flower)."
    )


_register_subcommands()

if __name__ == "__main__":
    app()
