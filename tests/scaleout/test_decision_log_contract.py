"""One contract for the decision log on SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from vigil.schema.records import Decision, Reason
from vigil.store.decisions import SqliteDecisionLog, open_decision_log
from vigil.store.postgres import drop_schema

T0 = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


def _decision(txn_id: str, at: datetime = T0, action: str = "approve") -> Decision:
    return Decision(
        txn_id=txn_id,
        decided_at=at,
        action=action,
        score=0.123456789012345,
        reasons=[Reason("rules", "SG_LARGE_CASH", "cash over SGD 20,000", 0.2)],
        jurisdiction="SG",
        rule_pack_version="sg@3",
        model_bundle_version="gbdt-x",
        degraded=False,
        latency_us={"features": 80, "total": 200},
    )


@pytest.fixture(params=["sqlite", "postgres"])
def log(request, tmp_path, namespace):
    if request.param == "sqlite":
        made = SqliteDecisionLog(tmp_path / "decisions.sqlite")
        yield made
        made.close()
        return
    url = request.getfixturevalue("postgres_url")
    made = open_decision_log(url, schema=namespace)
    yield made
    made.close()
    drop_schema(url, namespace)


def test_a_decision_is_recorded_once(log):
    assert log.record(_decision("T1"))
    assert not log.record(_decision("T1", action="decline"))  # a redelivery changes nothing
    assert log.count() == 1
    stored = log.get("T1")
    assert stored["action"] == "approve" and stored["score"] == 0.123456789012345
    assert stored["reasons"][0]["code"] == "SG_LARGE_CASH"
    assert log.get("T2") is None


def test_naive_times_are_refused_and_nothing_is_stored(log):
    with pytest.raises(ValueError, match="naive"):
        log.record(_decision("T1", at=datetime(2026, 2, 1)))
    assert log.count() == 0


def test_archive_moves_old_decisions_to_parquet(log, tmp_path):
    for i in range(10):
        log.record(_decision(f"T{i}", at=T0 + timedelta(days=i)))
    path = log.archive(T0 + timedelta(days=4), tmp_path / "archive")
    archived = pl.read_parquet(path)
    assert sorted(archived.get_column("txn_id")) == [f"T{i}" for i in range(4)]
    assert archived.get_column("degraded").dtype == pl.Boolean
    assert log.txn_ids() == [f"T{i}" for i in range(4, 10)]
    assert log.archive(T0, tmp_path / "archive") is None  # nothing that old is left


def test_a_failed_archive_deletes_nothing(log, tmp_path):
    log.record(_decision("T1"))
    blocked = tmp_path / "archive"
    blocked.write_text("a file where the folder should be")
    with pytest.raises(OSError):
        log.archive(T0 + timedelta(days=1), blocked)
    assert log.count() == 1


def test_a_batch_counts_only_new_decisions(log):
    log.record(_decision("T1"))
    assert log.record_many([_decision("T1"), _decision("T2"), _decision("T3")]) == 2
    assert log.known(["T1", "T3", "T9"]) == {"T1", "T3"}
    assert log.known([]) == set()


def test_archive_from_the_command_line(tmp_path):
    from typer.testing import CliRunner

    from vigil.cli import app

    path = tmp_path / "decisions.sqlite"
    log = SqliteDecisionLog(path)
    log.record(_decision("T1"))
    log.record(_decision("T2", at=T0 + timedelta(days=3)))
    log.close()
    result = CliRunner().invoke(
        app,
        ["stream", "archive", "--before", "2026-02-02", "--to", str(tmp_path / "a"), "--log",
         str(path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(next((tmp_path / "a").glob("*.parquet"))).height == 1
    assert SqliteDecisionLog(path).txn_ids() == ["T2"]
