"""The main job end to end on a tiny world, through the real command line."""

import json
from datetime import UTC, datetime

import polars as pl
from typer.testing import CliRunner

from vigil.cli import app

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def test_simulate_train_replay_evaluate_report(tmp_path):
    world, models, out = tmp_path / "world", tmp_path / "models", tmp_path / "run"
    run("simulate", "--out", world, "--accounts", 1000, "--days", 10, "--seed", 4, "--quiet")
    run("train", "--data", world, "--out", models, "--until", "2026-01-08", "--quiet")
    manifest = json.loads((models / "manifest.json").read_text())
    assert manifest["has_state"] and manifest["trained_until"].startswith("2026-01-08")
    output = run("replay", "--data", world, "--models", models, "--out", out, "--quiet")
    assert "AUPRC" in output

    decisions = pl.read_parquet(out / "decisions.parquet")
    txns = pl.read_parquet(world / "transactions.parquet")
    live = txns.filter(pl.col("ts") >= pl.datetime(2026, 1, 8, time_zone="UTC"))
    assert decisions.height == live.height
    assert decisions.get_column("txn_id").sort().equals(live.get_column("txn_id").sort())
    assert set(decisions.get_column("action").unique()) <= {"approve", "review", "decline"}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["overall"]["n"] == live.height
    assert metrics["overall"]["auprc"] > 0.3

    assert "recall @ 1% FPR" in run("evaluate", "--run", out, "--data", world)
    run("report", out)
    assert "<img" in (out / "report.html").read_text()


def test_replay_from_an_earlier_date_warms_up_from_history(tmp_path, tiny_world, tiny_bundle):
    out = tmp_path / "run"
    run(
        "replay",
        "--data",
        tiny_world,
        "--models",
        tiny_bundle,
        "--out",
        out,
        "--from",
        "2026-01-11",
        "--quiet",
    )
    decisions = pl.read_parquet(out / "decisions.parquet")
    assert decisions.get_column("ts").min() >= datetime(2026, 1, 11, tzinfo=UTC)
    assert (
        decisions.height
        == pl.read_parquet(tiny_world / "transactions.parquet")
        .filter(pl.col("ts") >= pl.datetime(2026, 1, 11, time_zone="UTC"))
        .height
    )


def test_bad_until_is_a_clear_error(tmp_path, tiny_world):
    result = runner.invoke(
        app, ["train", "--data", str(tiny_world), "--out", str(tmp_path), "--until", "soon"]
    )
    assert result.exit_code != 0
    assert "--until" in result.output


def test_two_stage_replay_decides_exactly_as_one_stage(tmp_path, tiny_world, tiny_bundle):
    from vigil.engine.replay import replay

    one = replay(tiny_world, tiny_bundle, tmp_path / "one", progress=False, workers=1)
    two = replay(tiny_world, tiny_bundle, tmp_path / "two", progress=False, workers=2)
    assert one.decided == two.decided > 0
    assert one.labels_released == two.labels_released
    columns = ["txn_id", "action", "score", "reasons", "rule_pack_version", "degraded"]
    a = pl.read_parquet(tmp_path / "one" / "decisions.parquet").select(columns)
    b = pl.read_parquet(tmp_path / "two" / "decisions.parquet").select(columns)
    assert a.equals(b)


def test_replay_with_aml_files_alerts_into_cases_in_both_modes(tmp_path, tiny_world, tiny_bundle):
    from vigil.aml.cases.sqlite import SqliteCaseStore
    from vigil.engine.replay import replay

    one = replay(tiny_world, tiny_bundle, tmp_path / "one", progress=False, workers=1, aml=True)
    two = replay(tiny_world, tiny_bundle, tmp_path / "two", progress=False, workers=2, aml=True)
    assert one.decided == two.decided
    alerts = [
        [json.loads(line) for line in (tmp_path / run / "alerts.jsonl").read_text().splitlines()]
        for run in ("one", "two")
    ]
    assert alerts[0] == alerts[1]
    metrics = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert metrics["aml"]["alerts"] == len(alerts[1]) > 0  # the tiny world has laundering
    filed = SqliteCaseStore(tmp_path / "two" / "cases.sqlite").find()
    assert {c.subject for c in filed} == {a["subject"] for a in alerts[1]}
