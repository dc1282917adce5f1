"""A directive published with a future effective time switches exactly at that instant in replay.

Issue 6 asks that a threshold change published for a later instant applies from that instant,
for decisions and for the AML detectors, with no restart. The registry and the monitor test it
on their own; this runs the real ``vigil replay --aml`` on the tiny world while the engine's
live registry holds such a publish: every jurisdiction gets a new version whose reporting
threshold is half the old one, in force from the time of a payment in the middle of the
replayed period. Each decision and alert records the version that judged it, so the switch can
be checked payment by payment, on both sides of the instant.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import vigil.engine.replay as replay_module
from vigil.cli import app
from vigil.rules.pack import PACKS_DIR, read_pack_file

#: A pack's own large-value threshold: ``large_value:`` then ``value: N`` on the next line.
_LARGE_VALUE = re.compile(r"(\n  large_value:\n    value: )(\d+)")


def _halved(path: Path) -> tuple[str, str, str, int, int]:
    """(pack key, old version, new pack text, old threshold, new threshold) of a shipped pack,
    respelt as a new version whose reporting threshold is half the old one."""
    document = read_pack_file(path)
    found = _LARGE_VALUE.search(document.text)
    assert found is not None, f"{path.name} sets no large_value"
    old = int(found.group(2))
    new = old // 2
    text = _LARGE_VALUE.sub(lambda m: m.group(1) + str(new), document.text, count=1)
    old_line = f"version: {document.version}"
    assert old_line in text, path.name
    text = text.replace(old_line, f"version: {document.version}-halved", 1)
    return document.pack, document.version, text, old, new


def _alerts(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "alerts.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, tiny_world, tiny_bundle) -> Path:
    """The same replay with the shipped packs alone: what the old versions decide."""
    out = tmp_path_factory.mktemp("baseline") / "run"
    replay_module.replay(tiny_world, tiny_bundle, out, progress=False, workers=1, aml=True)
    return out


@pytest.fixture(scope="module")
def switched_run(tmp_path_factory, tiny_world, tiny_bundle, baseline) -> dict:
    """``vigil replay --aml`` with every jurisdiction's pack halved from a payment mid-replay.

    The instant is the time of the payment that completes the middle one of the baseline's
    alerts of a typology the reporting threshold does not govern (structuring aside), so the
    same alert is raised exactly at the instant in the switched run, with alerts on both sides.
    """
    out = tmp_path_factory.mktemp("switch") / "run"
    ungoverned = sorted(
        (a for a in _alerts(baseline) if a["typology"] != "structuring"),
        key=lambda a: a["raised_at"],
    )
    assert len(ungoverned) >= 3, "the tiny world has laundering: alerts are expected"
    middle = ungoverned[len(ungoverned) // 2]
    instant = (
        pl.read_parquet(tiny_world / "transactions.parquet")
        .filter(pl.col("txn_id") == middle["trigger_txn_id"])
        .get_column("ts")[0]
    )
    packs = {}
    for path in sorted(PACKS_DIR.glob("*.yaml")):
        if read_pack_file(path).extends is not None:  # the jurisdictions, not base
            key, old_version, text, old, new = _halved(path)
            packs[key] = {"old": old_version, "text": text, "old_value": old, "new_value": new}
    published: list[str] = []
    real_build = replay_module.build_engine

    def build_and_publish(*args, **kwargs):
        # What a compliance officer's publish does to a running engine: the same registry call
        # the API and the folder watcher make, on the registry the replay decides with.
        engine = real_build(*args, **kwargs)
        for key, pack in packs.items():
            engine.rules.publish(key, pack["text"], instant, actor="compliance@test")
            published.append(key)
        return engine

    patch = pytest.MonkeyPatch()
    patch.setattr(replay_module, "build_engine", build_and_publish)
    try:
        result = CliRunner().invoke(
            app,
            [
                "replay", "--data", str(tiny_world), "--models", str(tiny_bundle),
                "--out", str(out), "--aml", "--quiet",
            ],
        )  # fmt: skip
    finally:
        patch.undo()
    assert result.exit_code == 0, result.output
    assert sorted(published) == sorted(packs)
    decisions = pl.read_parquet(out / "decisions.parquet")
    return {
        "instant": instant,
        "packs": packs,
        "decisions": decisions,
        "alerts": _alerts(out),
        "edge_alert": middle["alert_id"],
    }


def test_each_decision_is_judged_by_the_version_in_force_at_its_time(switched_run) -> None:
    instant, packs = switched_run["instant"], switched_run["packs"]
    decisions = switched_run["decisions"].with_columns(
        pl.col("jurisdiction")
        .replace_strict({k: p["old"] for k, p in packs.items()}, default=None)
        .alias("old"),
    )
    assert decisions.get_column("old").null_count() == 0  # every jurisdiction has its own pack
    expected = (
        pl.when(pl.col("ts") >= instant).then(pl.col("old") + "-halved").otherwise(pl.col("old"))
    )
    wrong = decisions.filter(pl.col("rule_pack_version") != expected)
    assert wrong.height == 0, wrong.select("txn_id", "ts", "jurisdiction", "rule_pack_version")
    # Both sides of the instant are populated, and the payment at the instant is the first
    # one judged by the new version: the edge is inclusive and sharp.
    before = decisions.filter(pl.col("ts") < instant)
    after = decisions.filter(pl.col("ts") >= instant)
    assert before.height > 100 and after.height > 100
    at = decisions.filter(pl.col("ts") == instant)
    assert at.height >= 1 and at.get_column("rule_pack_version").str.ends_with("-halved").all()
    assert not before.get_column("rule_pack_version").str.ends_with("-halved").any()


def _large_value_hits(decisions: pl.DataFrame, column: str = "reasons") -> pl.Series:
    """Per decision: did the large-value reporting rule (BASE-LARGE-VALUE) hit?"""
    return (
        decisions.get_column(column)
        .list.eval(pl.element().struct.field("code") == "large_value_report")
        .list.any()
    )


def test_the_new_threshold_is_the_one_applied_from_the_instant(switched_run) -> None:
    """Payments between the new and the old threshold are reported only from the instant on."""
    instant, packs = switched_run["instant"], switched_run["packs"]
    decisions = switched_run["decisions"]
    decisions = decisions.with_columns(
        pl.col("jurisdiction")
        .replace_strict({k: p["new_value"] for k, p in packs.items()}, default=None)
        .alias("new_value"),
        pl.col("jurisdiction")
        .replace_strict({k: p["old_value"] for k, p in packs.items()}, default=None)
        .alias("old_value"),
        _large_value_hits(decisions).alias("reported"),
    )
    # strictly between the two thresholds: every pack's rule ("> t" or ">= t") agrees there
    between = decisions.filter(
        (pl.col("amount") > pl.col("new_value")) & (pl.col("amount") < pl.col("old_value"))
    )
    before = between.filter(pl.col("ts") < instant)
    after = between.filter(pl.col("ts") >= instant)
    assert before.height > 0 and after.height > 0
    assert not before.get_column("reported").any()
    assert after.get_column("reported").all()


def test_aml_alerts_follow_the_switch(switched_run, baseline) -> None:
    """The detectors read the thresholds of the pack in force at each alert's payment; the
    alert completed by the payment at the instant is the first judged by the new version."""
    instant, packs = switched_run["instant"], switched_run["packs"]
    alerts = switched_run["alerts"]
    sides = {"before": 0, "after": 0}
    for alert in alerts:
        raised = datetime.fromisoformat(alert["raised_at"])
        old = packs[alert["jurisdiction"]]["old"]
        side = "after" if raised >= instant else "before"
        sides[side] += 1
        expected = f"{old}-halved" if side == "after" else old
        assert alert["pack_version"] == expected, alert["alert_id"]
        if "large_value" in alert["params"]:
            value = "new_value" if side == "after" else "old_value"
            assert alert["params"]["large_value"] == packs[alert["jurisdiction"]][value]
    assert sides["before"] > 0 and sides["after"] > 0, sides
    edge = next(a for a in alerts if a["alert_id"] == switched_run["edge_alert"])
    assert datetime.fromisoformat(edge["raised_at"]) == instant
    assert edge["pack_version"].endswith("-halved")
    # Before the instant the monitor saw the very same thresholds as without the publish.
    old_alerts = [a for a in _alerts(baseline) if datetime.fromisoformat(a["raised_at"]) < instant]
    assert [a for a in alerts if datetime.fromisoformat(a["raised_at"]) < instant] == old_alerts


def test_before_the_instant_nothing_differs_from_a_replay_without_the_publish(
    switched_run, baseline
) -> None:
    """A future-dated publish leaves every earlier decision exactly as the old version made it."""
    instant = switched_run["instant"]
    columns = ["txn_id", "action", "score", "reasons", "rule_pack_version"]
    old = pl.read_parquet(baseline / "decisions.parquet")
    new = switched_run["decisions"]
    assert new.height == old.height
    before = [d.filter(pl.col("ts") < instant).select(columns) for d in (new, old)]
    assert before[0].height > 0 and before[0].equals(before[1])
    after = new.filter(pl.col("ts") >= instant).join(
        old.select("txn_id", pl.col("reasons").alias("old_reasons")), on="txn_id"
    )
    assert after.height == new.height - before[0].height
    # ... and from the instant on, the halved threshold reports payments the old one did not.
    assert (_large_value_hits(after) & ~_large_value_hits(after, "old_reasons")).any()
