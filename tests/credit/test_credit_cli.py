"""`vigil credit train | score` round trip on a small world, mounted as the main CLI will."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import typer
from typer.testing import CliRunner

from vigil.credit.cli import credit_app

app = typer.Typer()
app.add_typer(credit_app, name="credit")


@app.callback()
def main() -> None:
    """Stands in for `vigil`."""


def test_train_then_score_a_firm_and_the_later_loans(world_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    models = tmp_path / "credit"
    done = runner.invoke(
        app,
        [
            "credit",
            "train",
            "--data",
            str(world_dir),
            "--out",
            str(models),
            "--until",
            "2024-10-01",
        ],
    )
    assert done.exit_code == 0, done.output
    assert (models / "manifest.json").exists() and (models / "model.txt").exists()
    manifest = json.loads((models / "manifest.json").read_text())
    assert manifest["info"]["until"].startswith("2024-10-01")
    assert manifest["monotone"]["loan_to_revenue"] == 1

    firm = pl.read_parquet(world_dir / "loans.parquet")["business_id"][0]
    scored = runner.invoke(
        app, ["credit", "score", "--models", str(models), "--business-id", firm, "--json"]
    )
    assert scored.exit_code == 0, scored.output
    result = json.loads(scored.output)
    assert result["business_id"] == firm and 0 < result["pd"] < 1
    assert result["grade"] in "ABCDEFGH" and isinstance(result["reasons"], list)

    table = runner.invoke(
        app,
        [
            "credit",
            "score",
            "--models",
            str(models),
            "--business-id",
            firm,
            "--amount",
            "1000000",
            "--term-days",
            "90",
        ],
    )
    assert table.exit_code == 0 and "grade" in table.output

    out = tmp_path / "scored.parquet"
    batch = runner.invoke(
        app,
        [
            "credit",
            "score",
            "--models",
            str(models),
            "--data",
            str(world_dir),
            "--out",
            str(out),
            "--json",
        ],
    )
    assert batch.exit_code == 0, batch.output
    summary = json.loads(batch.output)
    frame = pl.read_parquet(out)
    assert frame.height == summary["loans"] > 100
    assert frame["issued_at"].min() >= pl.Series([manifest["info"]["until"]]).str.to_datetime()[0]
    assert {"pd", "score", "grade", "reasons"} <= set(frame.columns)
    assert 0.5 < summary["auc"] <= 1

    unknown = runner.invoke(
        app, ["credit", "score", "--models", str(models), "--business-id", "NOPE"]
    )
    assert unknown.exit_code == 2 and "not in the data" in unknown.output
    nothing = runner.invoke(
        app, ["credit", "score", "--models", str(tmp_path / "missing"), "--business-id", firm]
    )
    assert nothing.exit_code == 2
