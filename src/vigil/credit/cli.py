"""`vigil credit`: train the SME PD model and score firms or loans; a thin shell over the library.

Mounted by the main CLI with ``app.add_typer(credit_app, name="credit")``.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from vigil.cli_support import fail as _fail
from vigil.cli_support import instant as _instant

credit_app = typer.Typer(
    help="SME credit: train the network PD model, score a firm or a world's loans.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()

if TYPE_CHECKING:
    from vigil.credit.scoring import CreditScorer


@credit_app.command()
def train(
    data: Annotated[Path, typer.Option(help="World folder with businesses, trade and loans.")],
    out: Annotated[Path, typer.Option(help="Folder for the credit model.")],
    until: Annotated[
        str | None, typer.Option(help="Train on loans issued before this date (UTC).")
    ] = None,
    firm_only: Annotated[
        bool, typer.Option(help="Firm features only, no trade network (the baseline).")
    ] = False,
    matured_only: Annotated[
        bool, typer.Option(help="Only loans whose term ended before --until (labels known then).")
    ] = False,
    warmup_days: Annotated[
        int, typer.Option(min=0, help="Skip loans from the first days of the trade history.")
    ] = 90,
) -> None:
    """Train the PD model (LightGBM, monotone, calibrated) on a world's loans."""
    from vigil.credit.model import CreditModelError
    from vigil.credit.train import TrainConfig, train_from_dir

    config = TrainConfig(
        until=_instant(until, "--until"),
        groups=("firm",) if firm_only else ("firm", "network"),
        warmup_days=warmup_days,
        matured_only=matured_only,
    )
    try:
        trained = train_from_dir(data, out, config)
    except (CreditModelError, ValueError, FileNotFoundError) as error:
        raise _fail(error) from error
    m = trained.model.metrics
    console.print(
        f"credit model [bold]{trained.model.version}[/bold] -> {out}\n"
        f"{int(m['train_loans']):,} training loans ({int(m['train_defaults']):,} defaults), "
        f"{int(m['trees'])} trees; calibration slice: {int(m['calibration_loans']):,} loans, "
        f"AUC {m.get('calibration_auc', float('nan')):.3f}, "
        f"KS {m.get('calibration_ks', float('nan')):.3f}, "
        f"Brier {m['calibration_brier']:.4f}\n"
        + ", ".join(f"{k} {v:.1f} s" for k, v in trained.seconds.items()),
        highlight=False,
    )


@credit_app.command()
def score(
    models: Annotated[Path, typer.Option(help="Credit model folder (from `credit train`).")],
    business_id: Annotated[
        str | None, typer.Option(help="Score this firm (as of --as-of, default: now in the data).")
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(help="World folder; default: the one the model was trained on."),
    ] = None,
    as_of: Annotated[str | None, typer.Option(help="Moment of a firm's score (UTC).")] = None,
    amount: Annotated[
        int | None, typer.Option(min=1, help="Loan amount in minor units (default: its last loan).")
    ] = None,
    currency: Annotated[str | None, typer.Option(help="Currency of --amount.")] = None,
    term_days: Annotated[int, typer.Option(min=1, help="Loan term for --amount.")] = 180,
    start: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Without --business-id: loans issued from this date on "
            "(default: where training stopped).",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Without --business-id: write the scored loans here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Score one firm by id, or every loan of a world at its own issue time."""
    from vigil.credit.model import CreditModelError
    from vigil.credit.scoring import CreditScorer, Loan

    if business_id is None and data is None:
        raise typer.BadParameter("give --business-id, or --data to score a world's loans")
    try:
        scorer = CreditScorer.load(models, data)
    except (CreditModelError, ValueError, FileNotFoundError) as error:
        raise _fail(error) from error

    if business_id is not None:
        loan = None
        if amount is not None:
            firm = scorer.history.index_of(business_id)
            code = currency or (str(scorer.history.firms.currency[firm]) if firm >= 0 else None)
            if code is None:
                raise typer.BadParameter("give --currency with --amount", param_hint="--currency")
            loan = Loan(amount, code, term_days)
        try:
            result = scorer.score_business(business_id, _instant(as_of, "--as-of"), loan)
        except KeyError:
            raise _fail(ValueError(f"business {business_id!r} is not in the data")) from None
        except ValueError as error:
            raise _fail(error) from error
        if as_json:
            console.print_json(json.dumps(result.to_dict()))
        else:
            _print_score(result.to_dict())
        return

    _score_loans(scorer, _instant(start, "--from"), out, as_json)


def _score_loans(
    scorer: CreditScorer, start: datetime | None, out: Path | None, as_json: bool
) -> None:
    import polars as pl

    from vigil.credit.train import evaluate
    from vigil.schema.io import read_table

    info = scorer.model.info
    if start is None and info.get("until"):
        start = datetime.fromisoformat(info["until"])
    if scorer.data_dir is None:
        raise _fail(ValueError("the scorer has no data folder to read loans from"))
    loans = read_table(scorer.data_dir, "loans")
    if start is not None:
        loans = loans.filter(pl.col("issued_at") >= start)
    if loans.is_empty():
        raise _fail(ValueError("no loans to score"))
    scored = scorer.score_loans(loans.sort("issued_at", "loan_id"))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        scored.write_parquet(out)
    summary: dict[str, object] = {"loans": scored.height, "from": str(start) if start else None}
    if "defaulted" in scored.columns:
        summary |= evaluate(scored["defaulted"].to_numpy(), scored["pd"].to_numpy())
    summary["grades"] = dict(
        scored.group_by("grade").len().sort("grade").iter_rows()  # type: ignore[arg-type]
    )
    if as_json:
        console.print_json(json.dumps(summary))
        return
    console.print(
        f"scored {scored.height:,} loans"
        + (f" issued from {start:%Y-%m-%d}" if start else "")
        + (f" -> {out}" if out else ""),
        highlight=False,
    )
    if "auc" in summary:
        console.print(
            f"AUC {summary['auc']:.3f}, KS {summary['ks']:.3f}, Brier {summary['brier']:.4f}; "
            f"default rate {summary['default_rate']:.2%} against mean PD {summary['mean_pd']:.2%}",
            highlight=False,
        )
    console.print("grades: " + ", ".join(f"{g} {n:,}" for g, n in summary["grades"].items()))


def _print_score(result: dict) -> None:
    loan = result["loan"]
    console.print(
        f"[bold]{result['business_id']}[/bold] as of {result['as_of']}: PD "
        f"{result['pd']:.2%}, score {result['score']:.0f}, grade [bold]{result['grade']}[/bold]\n"
        f"loan {loan['amount']:,} {loan['currency']} over {loan['term_days']} days"
        + (" (assumed: like its last loan)" if loan["assumed"] else ""),
        highlight=False,
    )
    if not result["reasons"]:
        console.print("no adverse reasons: better than the average applicant on every count")
        return
    table = Table("code", "reason", "points", "detail")
    for r in result["reasons"]:
        table.add_row(r["code"], r["reason"], f"-{r['points']:.1f}", r["detail"])
    console.print(table)
