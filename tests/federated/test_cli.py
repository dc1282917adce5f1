"""The `vigil federated` commands, and the exported bundle through `vigil replay`."""

import json
import tomllib

from flwr.common.config import validate_config
from typer.testing import CliRunner

from vigil.cli import app as vigil_app
from vigil.federated.cli import federated_app
from vigil.federated.config import FederatedConfig
from vigil.federated.deploy import write_app

runner = CliRunner()


def invoke(app, *args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def test_partition_simulate_and_replay_the_federated_bundle(tiny_world, tmp_path):
    pools, out, run = tmp_path / "pools", tmp_path / "fed", tmp_path / "run"
    output = invoke(federated_app, "partition", "--data", tiny_world, "--out", pools)
    assert "fraud rate" in output and "CN" in output
    output = invoke(
        federated_app,
        "simulate",
        "--pools", pools, "--out", out, "--model", "gbdt", "--rounds", 2,
        "--until", "2026-01-09", "--num-leaves", 7, "--tree-learning-rate", 0.3, "--quiet",
    )  # fmt: skip
    assert "held-out AUPRC per pool" in output
    result = json.loads((out / "result.json").read_text())
    assert len(result["rounds"]) == 2 and len(result["final"]) == 8
    assert (result["config"]["num_leaves"], result["config"]["tree_learning_rate"]) == (7, 0.3)
    output = invoke(
        vigil_app,
        "replay", "--data", tiny_world, "--models", out / "bundle", "--out", run,
        "--from", "2026-01-11", "--workers", 1, "--quiet",
    )  # fmt: skip
    assert "AUPRC" in output
    overall = json.loads((run / "metrics.json").read_text())["overall"]
    assert overall["auprc"] > 5 * overall["fraud_rate"]  # far better than chance


def test_a_bad_option_is_refused_before_anything_runs(tmp_path):
    result = runner.invoke(
        federated_app,
        [
            "simulate",
            "--pools",
            str(tmp_path),
            "--out",
            str(tmp_path),
            "--model",
            "gbdt",
            "--secagg",
        ],
    )
    assert result.exit_code != 0 and "SecAgg+" in result.output


def test_the_deployed_app_is_a_valid_flower_app(tmp_path):
    folder = write_app(tmp_path / "app", FederatedConfig(rounds=2, secagg=True))
    config = tomllib.loads((folder / "pyproject.toml").read_text())
    valid, errors, _ = validate_config(config, check_module=True, project_dir=folder)
    assert valid, errors
    assert config["tool"]["flwr"]["app"]["config"]["secagg"] is True
    assert FederatedConfig.from_run_config(config["tool"]["flwr"]["app"]["config"]).rounds == 2
