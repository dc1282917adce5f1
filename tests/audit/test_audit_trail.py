"""The audit trail contract, run on SQLite and on PostgreSQL: appends chain, the database
refuses rewrites, and verification names each record altered, deleted or inserted."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import pytest

from vigil.audit import AuditError, Fault, verify_records
from vigil.audit.chain import GENESIS, new_record, record_hash, to_row

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def _fill(trail: Any, n: int = 5) -> list[Any]:
    return [
        trail.append(
            f"api:key{i}",
            "rules.publish",
            "SG",
            {"version": f"sg-{i}", "effective_from": T0, "note": "réglé ✓", "n": [i, 1.5]},
        )
        for i in range(1, n + 1)
    ]


def _faults(trail: Any, anchor: str | None = None) -> list[tuple[Fault, int]]:
    return [(p.fault, p.seq) for p in trail.verify(anchor).problems]


def test_appends_chain_and_read_back_as_written(trail: Any) -> None:
    written = _fill(trail)
    assert [r.seq for r in written] == [1, 2, 3, 4, 5]
    assert written[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in pairwise(written))
    assert list(trail.records()) == written
    assert [r.seq for r in trail.records(since=3)] == [4, 5]
    first = written[0]
    assert first.details["effective_from"] == "2026-03-01T09:30:00.000000Z"
    assert first.time.endswith("Z") and first.actor == "api:key1"
    result = trail.verify()
    assert result.ok and result.count == 5 and result.head == written[-1].hash
    assert "OK: 5 records" in result.render()


def test_an_empty_trail_verifies(trail: Any) -> None:
    result = trail.verify()
    assert result.ok and result.count == 0 and result.head == GENESIS


def test_reopening_continues_the_chain(open_trail: Any) -> None:
    first = open_trail()
    _fill(first, 2)
    first.close()
    again = open_trail()  # the schema migration (or CREATE IF NOT EXISTS) runs again: a no-op
    record = again.append("startup", "rules.load", "base")
    assert record.seq == 3 and again.verify().ok


def test_the_database_refuses_update_and_delete(trail: Any, raw: Any) -> None:
    _fill(trail, 2)
    for statement in ("UPDATE {t} SET actor = 'mallory' WHERE seq = 1", "DELETE FROM {t}"):
        with pytest.raises(Exception, match="append-only"):
            raw.run(statement, triggers=True)
    if raw.backend == "postgres":
        with pytest.raises(Exception, match="append-only"):
            raw.run("TRUNCATE {t}", triggers=True)
    assert [r.actor for r in trail.records()] == ["api:key1", "api:key2"]
    assert trail.verify().ok


def test_an_altered_record_is_named(trail: Any, raw: Any) -> None:
    _fill(trail)
    raw.run(f"UPDATE {{t}} SET actor = 'api:someone-else' WHERE seq = {raw.mark}", (3,))
    assert _faults(trail) == [(Fault.ALTERED, 3)]
    raw.run(f"UPDATE {{t}} SET details = 'not json' WHERE seq = {raw.mark}", (4,))
    assert _faults(trail) == [(Fault.ALTERED, 3), (Fault.ALTERED, 4)]


def test_a_record_rewritten_with_a_fresh_hash_breaks_the_next_link(trail: Any, raw: Any) -> None:
    records = _fill(trail)
    forged = new_record(3, T0, "api:mallory", "rules.publish", "SG", {}, records[1].hash)
    raw.run(
        f"UPDATE {{t}} SET time = {raw.mark}, actor = {raw.mark}, details = {raw.mark}, "
        f"hash = {raw.mark} WHERE seq = 3",
        (forged.time, forged.actor, "{}", forged.hash),
    )
    assert _faults(trail) == [(Fault.BROKEN_LINK, 3)]


def test_a_deleted_record_is_named_as_the_gap(trail: Any, raw: Any) -> None:
    _fill(trail)
    raw.run(f"DELETE FROM {{t}} WHERE seq = {raw.mark}", (3,))
    result = trail.verify()
    assert [(p.fault, p.seq) for p in result.problems] == [(Fault.DELETED, 3)]
    assert "record 3 deleted" in result.render()
    raw.run("DELETE FROM {t} WHERE seq IN (1, 2)")
    assert _faults(trail) == [(Fault.DELETED, 1)]


def test_a_record_inserted_out_of_chain_is_named(trail: Any, raw: Any) -> None:
    records = _fill(trail, 4)
    # self-consistent, but chained to record 2 instead of the head
    stray = new_record(5, T0, "api:mallory", "rules.publish", "SG", {}, records[1].hash)
    raw.insert(to_row(stray))
    assert _faults(trail) == [(Fault.INSERTED, 5)]
    # once a genuine append chains to the stray record, the chain alone cannot tell which
    # side lies: verify names the broken link after record 4
    trail.append("api:key5", "rules.publish", "SG")
    assert _faults(trail) == [(Fault.BROKEN_LINK, 4)]


def test_an_anchor_catches_a_truncated_tail(trail: Any, raw: Any) -> None:
    records = _fill(trail)
    head = trail.verify().head
    raw.run(f"DELETE FROM {{t}} WHERE seq = {raw.mark}", (5,))
    assert trail.verify().ok  # the chain alone cannot see a missing tail...
    assert _faults(trail, anchor=head) == [(Fault.ANCHOR_MISSING, 4)]  # ...an anchor can
    assert trail.verify(anchor=records[3].hash).ok


def test_concurrent_appends_build_one_chain(open_trail: Any) -> None:
    trails = [open_trail(), open_trail()]  # two connections, as two workers would have

    def work(i: int) -> None:
        for j in range(15):
            trails[i % 2].append(f"worker{i}", "test.append", str(j))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = trails[0].verify()
    assert result.ok, result.render()
    assert [r.seq for r in trails[1].records()] == list(range(1, 61))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda t: t.append("", "rules.publish"), "actor"),
        (lambda t: t.append("api:x", " "), "action"),
        (lambda t: t.append("api:x", "a", "s", {"score": float("nan")}), r"details\.score"),
        (lambda t: t.append("api:x", "a", "s", {"when": {1, 2}}), r"details\.when"),
        (lambda t: t.append("api:x", "a", "s", ["not", "an", "object"]), "object"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(trail: Any, call: Any, match: str) -> None:
    with pytest.raises(AuditError, match=match):
        call(trail)
    assert list(trail.records()) == []
    assert trail.append("api:x", "ok").seq == 1


def test_the_hash_covers_every_field() -> None:
    record = new_record(1, T0, "api:a", "rules.publish", "SG", {"v": 1}, GENESIS)
    assert record.hash == record_hash(record.payload())
    for change in [
        {"seq": 2},
        {"time": "2026-03-01T09:30:00.000001Z"},
        {"actor": "api:b"},
        {"action": "rules.rollback"},
        {"subject": "MY"},
        {"details": {"v": 2}},
        {"prev_hash": "1" * 64},
    ]:
        assert record_hash(record.payload() | change) != record.hash, change
    assert verify_records([record]).ok
