"""The case store contract: every backend is run through the same tests.

Each test runs on SQLite (in memory and in a file) and on PostgreSQL (a schema of its own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vigil.aml.cases import (
    TRANSITIONS,
    CaseError,
    CaseStatus,
    CaseStore,
    InvalidTransition,
    Priority,
    SlaPolicy,
    SqliteCaseStore,
    UnknownCase,
)
from vigil.aml.cases.postgres import PostgresCaseStore
from vigil.store.postgres import drop_schema

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class FakeAlert:
    """Any record with these attributes is an alert to the case store."""

    alert_id: str
    subject: str
    typology: str = "structuring"
    jurisdiction: str = "SG"
    ts: datetime = T0
    txn_ids: tuple[str, ...] = ("T1", "T2")
    summary: str = "5 cash deposits of SGD 19,000-19,900 within 48 h, under the SGD 20,000 CTR"
    score: float = 0.6


STORES: dict[str, Callable[[pytest.FixtureRequest, Path], CaseStore]] = {
    "sqlite-memory": lambda _, __: SqliteCaseStore(),
    "sqlite-file": lambda _, tmp: SqliteCaseStore(tmp / "cases.sqlite"),
    "postgres": lambda request, _: PostgresCaseStore(
        request.getfixturevalue("postgres_url"), schema=request.getfixturevalue("namespace")
    ),
}


@pytest.fixture(params=sorted(STORES))
def store(request, tmp_path) -> Iterator[CaseStore]:
    made = STORES[request.param](request, tmp_path)
    yield made
    if isinstance(made, PostgresCaseStore):
        drop_schema(request.getfixturevalue("postgres_url"), request.getfixturevalue("namespace"))
    made.close()  # type: ignore[attr-defined]


def test_alerts_group_per_subject(store: CaseStore) -> None:
    a = store.add_alert(FakeAlert("A1", "P001"), now=T0)
    b = store.add_alert(FakeAlert("A2", "P001", typology="fan_in", txn_ids=("T3",)), now=T0)
    c = store.add_alert(FakeAlert("A3", "P002"), now=T0)
    assert a.case_id == b.case_id != c.case_id
    assert [x.alert_id for x in b.alerts] == ["A1", "A2"]
    assert b.txn_ids == ("T1", "T2", "T3")
    assert b.status is CaseStatus.OPEN and b.subject == "P001" and b.jurisdiction == "SG"
    assert [x.case_id for x in store.find(subject="P001")] == [a.case_id]


def test_a_repeated_alert_is_filed_once(store: CaseStore) -> None:
    store.add_alert(FakeAlert("A1", "P001"), now=T0)
    again = store.add_alert(FakeAlert("A1", "P001"), now=T0 + timedelta(hours=1))
    assert len(again.alerts) == 1
    assert [e.action for e in store.audit(again.case_id)] == ["opened", "alert_added"]


def test_lifecycle_to_true_positive_with_audit(store: CaseStore) -> None:
    case = store.add_alert(FakeAlert("A1", "P001"), now=T0)
    cid = case.case_id
    store.assign(cid, "ana", actor="lead", now=T0 + timedelta(minutes=5))
    store.transition(cid, CaseStatus.INVESTIGATING, actor="ana", now=T0 + timedelta(hours=1))
    store.add_note(cid, "Deposits split across branches", actor="ana", now=T0 + timedelta(hours=2))
    store.transition(cid, CaseStatus.ESCALATED, actor="ana", now=T0 + timedelta(hours=3))
    closed = store.transition(
        cid,
        CaseStatus.CLOSED_TRUE_POSITIVE,
        actor="mlro",
        now=T0 + timedelta(hours=5),
        reason="STR filed",
    )
    assert closed.status is CaseStatus.CLOSED_TRUE_POSITIVE
    assert closed.closed_at == T0 + timedelta(hours=5) == closed.updated_at
    assert closed.assignee == "ana"
    assert [(n.author, n.text) for n in closed.notes] == [("ana", "Deposits split across branches")]
    history = store.audit(cid)
    assert [(e.actor, e.action) for e in history] == [
        ("system", "opened"),
        ("system", "alert_added"),
        ("lead", "assigned"),
        ("ana", "transition"),
        ("ana", "note"),
        ("ana", "transition"),
        ("mlro", "transition"),
    ]
    assert history[-1].detail == {
        "from": "escalated",
        "to": "closed_true_positive",
        "reason": "STR filed",
    }
    assert all(e.at.tzinfo is not None for e in history)


@pytest.mark.parametrize("current", list(CaseStatus))
def test_every_invalid_transition_raises_and_changes_nothing(
    store: CaseStore, current: CaseStatus
) -> None:
    path = {
        CaseStatus.OPEN: [],
        CaseStatus.INVESTIGATING: [CaseStatus.INVESTIGATING],
        CaseStatus.ESCALATED: [CaseStatus.INVESTIGATING, CaseStatus.ESCALATED],
        CaseStatus.CLOSED_FALSE_POSITIVE: [
            CaseStatus.INVESTIGATING,
            CaseStatus.CLOSED_FALSE_POSITIVE,
        ],
        CaseStatus.CLOSED_TRUE_POSITIVE: [
            CaseStatus.INVESTIGATING,
            CaseStatus.ESCALATED,
            CaseStatus.CLOSED_TRUE_POSITIVE,
        ],
    }[current]
    cid = store.add_alert(FakeAlert("A1", "P001"), now=T0).case_id
    for step in path:
        store.transition(cid, step, actor="ana", now=T0)
    before = store.audit(cid)
    for wanted in set(CaseStatus) - TRANSITIONS[current]:
        with pytest.raises(InvalidTransition, match=f"cannot go from {current} to {wanted}"):
            store.transition(cid, wanted, actor="ana", now=T0)
    assert store.get(cid).status is current
    assert store.audit(cid) == before


def test_closed_case_is_final_and_new_alerts_open_a_new_case(store: CaseStore) -> None:
    cid = store.add_alert(FakeAlert("A1", "P001"), now=T0).case_id
    store.transition(cid, CaseStatus.INVESTIGATING, actor="ana", now=T0)
    store.transition(cid, CaseStatus.CLOSED_FALSE_POSITIVE, actor="ana", now=T0)
    with pytest.raises(CaseError, match="closed"):
        store.assign(cid, "bo", actor="lead", now=T0)
    later = store.add_alert(FakeAlert("A2", "P001"), now=T0 + timedelta(days=1))
    assert later.case_id != cid and later.status is CaseStatus.OPEN
    assert len(store.find(subject="P001")) == 2
    assert [c.case_id for c in store.find(status=CaseStatus.OPEN)] == [later.case_id]


def test_sla_clock_by_priority_and_overdue(store: CaseStore) -> None:
    sla = SlaPolicy()
    low = store.add_alert(FakeAlert("A1", "P001", score=0.2), now=T0)
    high = store.add_alert(FakeAlert("A2", "P002", score=0.95), now=T0)
    assert (low.priority, low.due_at) == (Priority.LOW, T0 + timedelta(hours=sla.hours["low"]))
    assert (high.priority, high.due_at) == (Priority.HIGH, T0 + timedelta(hours=24))
    assert store.overdue(T0 + timedelta(hours=23)) == []
    assert [c.case_id for c in store.overdue(T0 + timedelta(hours=25))] == [high.case_id]
    assert store.get(high.case_id).overdue(T0 + timedelta(hours=25))
    # a stronger alert raises the priority and brings the due time forward, never back
    raised = store.add_alert(FakeAlert("A3", "P001", score=0.9), now=T0 + timedelta(hours=2))
    assert raised.priority is Priority.HIGH
    assert raised.due_at == T0 + timedelta(hours=26)
    weaker = store.add_alert(FakeAlert("A4", "P001", score=0.1), now=T0 + timedelta(hours=3))
    assert (weaker.priority, weaker.due_at) == (Priority.HIGH, raised.due_at)
    store.transition(high.case_id, CaseStatus.INVESTIGATING, actor="ana", now=T0)
    store.transition(high.case_id, CaseStatus.CLOSED_FALSE_POSITIVE, actor="ana", now=T0)
    assert high.case_id not in {c.case_id for c in store.overdue(T0 + timedelta(days=30))}


def test_dispositions_flow_back_as_labels(store: CaseStore) -> None:
    tp = store.add_alert(FakeAlert("A1", "P001", txn_ids=("T1", "T2")), now=T0).case_id
    store.add_alert(FakeAlert("A2", "P001", typology="cycle", txn_ids=("T2", "T3")), now=T0)
    fp = store.add_alert(FakeAlert("A3", "P002", txn_ids=("T9",)), now=T0).case_id
    assert store.labels_of(tp) == []  # nothing is known while the case is open
    closed_at = T0 + timedelta(days=2)
    for cid, end in ((tp, CaseStatus.CLOSED_TRUE_POSITIVE), (fp, CaseStatus.CLOSED_FALSE_POSITIVE)):
        store.transition(cid, CaseStatus.INVESTIGATING, actor="ana", now=T0)
        if end is CaseStatus.CLOSED_TRUE_POSITIVE:
            store.transition(cid, CaseStatus.ESCALATED, actor="ana", now=T0)
        store.transition(cid, end, actor="mlro", now=closed_at)
    labels = store.labels_of(tp)
    assert [(e.txn_id, e.is_fraud, e.typology) for e in labels] == [
        ("T1", True, "structuring"),
        ("T2", True, "structuring"),
        ("T3", True, "cycle"),
    ]
    assert {e.label_ts for e in labels} == {closed_at} and {e.case_id for e in labels} == {tp}
    assert [(e.txn_id, e.is_fraud) for e in store.labels_of(fp)] == [("T9", False)]


def test_errors_name_the_case(store: CaseStore) -> None:
    with pytest.raises(UnknownCase, match="no case 'C404'"):
        store.get("C404")
    with pytest.raises(UnknownCase):
        store.transition("C404", CaseStatus.INVESTIGATING, actor="ana", now=T0)
    cid = store.add_alert(FakeAlert("A1", "P001"), now=T0).case_id
    with pytest.raises(CaseError, match="needs text"):
        store.add_note(cid, "  ", actor="ana", now=T0)
    with pytest.raises(CaseError, match="naive"):
        store.add_note(cid, "x", actor="ana", now=datetime(2026, 1, 1))


def test_sqlite_file_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "cases.sqlite"
    first = SqliteCaseStore(path)
    cid = first.add_alert(FakeAlert("A1", "P001"), now=T0).case_id
    first.transition(cid, CaseStatus.INVESTIGATING, actor="ana", now=T0)
    first.close()
    again = SqliteCaseStore(path)
    assert again.get(cid).status is CaseStatus.INVESTIGATING
    assert len(again.audit(cid)) == 3
    again.close()
