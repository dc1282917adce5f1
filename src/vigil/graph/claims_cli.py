"""`vigil claims`: claim fraud on the claims graph; a thin shell over :mod:`vigil.graph.claims`.

Mounted in ``vigil.cli`` with ``app.add_typer(claims_app, name="claims")``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vigil.cli_support import fail as _fail
from vigil.cli_support import instant as _instant

claims_app = typer.Typer(
    help="Insurance claim fraud on the claims graph: train a model, score claims as filed, "
    "compare models, write a claims-only world.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


LabelDelay = Annotated[
    float,
    typer.Option(help="Days after filing when a claim's outcome is known (no label time)."),
]
ReviewAfter = Annotated[
    float,
    typer.Option(
        help="Score claims this many days after filing, at payout, seeing everything strictly "
        "before that instant (0: at filing)."
    ),
]
Epochs = Annotated[int, typer.Option(min=1, help="Most training epochs of a GNN.")]
Threads = Annotated[int, typer.Option(min=1, help="torch and LightGBM threads.")]


def _config(label_delay: float, review_after: float, epochs: int, threads: int, seed: int):
    from vigil.graph.claims import ClaimsConfig

    return ClaimsConfig(
        label_delay_days=label_delay,
        review_after_days=review_after,
        epochs=epochs,
        threads=threads,
        seed=seed,
    )


@claims_app.command()
def train(
    data: Annotated[Path, typer.Option(help="World folder with a claims table.")],
    out: Annotated[Path, typer.Option(help="Folder for the claims model.")],
    until: Annotated[
        str | None,
        typer.Option(help="Train on claims before this date whose outcome was known by then."),
    ] = None,
    model: Annotated[
        str,
        typer.Option(help="geniepath, geniepath_lazy, gcn, gat, sage, lgbm_neighbour or lgbm_own."),
    ] = "geniepath",
    label_delay: LabelDelay = 30.0,
    review_after: ReviewAfter = 0.0,
    epochs: Epochs = 40,
    threads: Threads = 1,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
) -> None:
    """Train a claims model and write it, with its validation metrics and thresholds."""
    from vigil.graph.claims import train_claims

    try:
        config = _config(label_delay, review_after, epochs, threads, seed)
        trained = train_claims(data, out, _instant(until, "--until"), model, config)
    except (ValueError, FileNotFoundError) as error:
        raise _fail(error) from error
    m = trained.metrics
    console.print(
        f"claims model [bold]{trained.version}[/bold] -> {out}\n"
        f"trained on {m['train_claims']:.0f} claims ({m['train_fraud']:.0f} fraud); validation "
        f"({m['validation_claims']:.0f} claims, {m['validation_fraud']:.0f} fraud): AUPRC "
        f"{m['validation_auprc']:.3f}, at threshold {trained.threshold:.4f} recall "
        f"{m['validation_recall']:.3f}, precision {m['validation_precision']:.3f}, accuracy "
        f"{m['validation_accuracy']:.4f}",
        highlight=False,
    )


@claims_app.command()
def score(
    models: Annotated[Path, typer.Option(help="Claims model folder from `vigil claims train`.")],
    data: Annotated[Path, typer.Option(help="World folder with a claims table.")],
    out: Annotated[
        Path | None, typer.Option(help="Write the scores here (.parquet or .jsonl).")
    ] = None,
    start: Annotated[
        str | None,
        typer.Option("--from", help="First filing time to score (default: end of training)."),
    ] = None,
    reasons: Annotated[
        str, typer.Option(help="Reasons for 'all' claims, the 'flagged' ones, or 'none'.")
    ] = "flagged",
) -> None:
    """Score each claim as of its filing, the earlier claims as history; metrics if labelled."""
    from vigil.graph.claims import HINTS, score_claims

    if reasons not in ("all", "flagged", "none"):
        raise typer.BadParameter("expected all, flagged or none", param_hint="--reasons")
    if out is not None and out.suffix not in (".parquet", ".jsonl"):
        raise typer.BadParameter("expected a .parquet or .jsonl file", param_hint="--out")
    try:
        scores, metrics, model = score_claims(models, data, _instant(start, "--from"), reasons)
    except (ValueError, FileNotFoundError) as error:
        raise _fail(error) from error
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".parquet":
            scores.write_parquet(out)
        else:
            scores.write_ndjson(out)
    counts = scores.get_column("hint").value_counts()
    by_hint = dict(zip(counts["hint"].to_list(), counts["count"].to_list(), strict=True))
    console.print(
        f"scored {scores.height:,} claims with {model.version}: "
        + ", ".join(f"{by_hint.get(h, 0):,} {h}" for h in HINTS)
        + (f" -> {out}" if out else ""),
        highlight=False,
    )
    if metrics is not None:
        console.print(
            f"at threshold {model.threshold:.4f}: accuracy {metrics['accuracy']:.4f}, precision "
            f"{metrics['precision']:.3f}, recall {metrics['recall']:.3f}, AUPRC "
            f"{metrics['auprc']:.3f} ({metrics['fraud']:.0f} fraud in {metrics['claims']:.0f})",
            highlight=False,
        )


@claims_app.command()
def compare(
    data: Annotated[Path, typer.Option(help="World folder with a claims table.")],
    until: Annotated[str, typer.Option(help="Test on claims filed from this date on.")],
    models: Annotated[str, typer.Option(help="Comma-separated model names.")] = (
        "geniepath,geniepath_lazy,gcn,gat,sage,lgbm_neighbour,lgbm_own"
    ),
    out: Annotated[Path | None, typer.Option(help="Write the rows as JSON here as well.")] = None,
    label_delay: LabelDelay = 30.0,
    review_after: ReviewAfter = 0.0,
    epochs: Epochs = 40,
    threads: Threads = 1,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
) -> None:
    """Train every model on one time split and print the comparison tables (markdown): each
    model at three thresholds set on validation, then its recall at 1% and 0.1% false-positive
    rate on the honest test claims; recall on ring and lone fraud separately when the world has
    `vigil claims simulate`'s typology."""
    from vigil.graph.claims import compare as run_compare
    from vigil.graph.claims import fpr_prefix, fpr_table, markdown_table, read_claims, read_typology

    def _log(r: dict) -> None:
        at = r.get(f"{fpr_prefix(0.01)}recall")
        console.print(
            f"{r['model']}: AUPRC {r['auprc']:.3f}, recall @ 1% FPR "
            f"{'—' if at is None else f'{at:.3f}'}, {r['seconds']:.0f} s",
            highlight=False,
        )

    names = [m.strip() for m in models.split(",") if m.strip()]
    moment = _instant(until, "--until")
    assert moment is not None
    try:
        config = _config(label_delay, review_after, epochs, threads, seed)
        rows = run_compare(
            read_claims(data),
            moment,
            names,
            config,
            log=_log,
            typology=read_typology(data),
        )
    except (ValueError, FileNotFoundError) as error:
        raise _fail(error) from error
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(rows, indent=2))
    print(markdown_table(rows))
    print(fpr_table(rows))


@claims_app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="Folder to write claims.parquet into.")],
    accounts: Annotated[int, typer.Option(min=500, help="Number of accounts.")] = 20_000,
    days: Annotated[int, typer.Option(min=1, help="Days of claims.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed, as for `vigil simulate`.")] = 7,
) -> None:
    """Write only the claims table that `vigil simulate` would write, without the payments."""
    from vigil.graph.claims import simulate_claims

    claims = simulate_claims(out, accounts, days, seed)
    fraud = int(claims.get_column("is_fraud").sum())
    console.print(f"{claims.height:,} claims ({fraud:,} fraud) -> {out}", highlight=False)
