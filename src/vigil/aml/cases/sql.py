"""The case store's logic in SQL that SQLite and PostgreSQL both run.

The SQL is kept to what both run (plain types, ``LIMIT``, no ``AUTOINCREMENT`` or
``INSERT OR ...``; times as ISO 8601 UTC text with microseconds, which sort as they compare),
so the backends (:mod:`~vigil.aml.cases.sqlite`, :mod:`~vigil.aml.cases.postgres`) differ only
in how they connect and how they make a change one transaction that no other writer
interleaves. Each change and its audit rows commit together.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from vigil.aml.cases.model import (
    AlertLike,
    AuditEvent,
    Case,
    CaseAlert,
    CaseError,
    CaseStatus,
    LabelEvent,
    Note,
    Priority,
    SlaPolicy,
    UnknownCase,
    check_transition,
    higher,
)
from vigil.store.scopes import ScopedStore, Scopes
from vigil.store.sql import Database

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS cases (
        case_id TEXT PRIMARY KEY,
        subject TEXT NOT NULL,
        jurisdiction TEXT NOT NULL,
        status TEXT NOT NULL,
        priority TEXT NOT NULL,
        assignee TEXT,
        opened_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        due_at TEXT NOT NULL,
        closed_at TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS cases_by_subject ON cases (subject, status)",
    "CREATE INDEX IF NOT EXISTS cases_by_due ON cases (status, due_at)",
    """CREATE TABLE IF NOT EXISTS case_alerts (
        alert_id TEXT PRIMARY KEY,
        case_id TEXT NOT NULL REFERENCES cases (case_id),
        seq INTEGER NOT NULL,
        typology TEXT NOT NULL,
        jurisdiction TEXT NOT NULL,
        raised_at TEXT NOT NULL,
        summary TEXT NOT NULL,
        score REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS alerts_by_case ON case_alerts (case_id, seq)",
    """CREATE TABLE IF NOT EXISTS alert_txns (
        alert_id TEXT NOT NULL REFERENCES case_alerts (alert_id),
        seq INTEGER NOT NULL,
        txn_id TEXT NOT NULL,
        PRIMARY KEY (alert_id, seq)
    )""",
    """CREATE TABLE IF NOT EXISTS case_notes (
        case_id TEXT NOT NULL REFERENCES cases (case_id),
        seq INTEGER NOT NULL,
        noted_at TEXT NOT NULL,
        author TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (case_id, seq)
    )""",
    """CREATE TABLE IF NOT EXISTS case_audit (
        case_id TEXT NOT NULL REFERENCES cases (case_id),
        seq INTEGER NOT NULL,
        changed_at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL,
        PRIMARY KEY (case_id, seq)
    )""",
)

_CLOSED = (CaseStatus.CLOSED_TRUE_POSITIVE.value, CaseStatus.CLOSED_FALSE_POSITIVE.value)
_CASE_COLUMNS = (
    "case_id, subject, jurisdiction, status, priority, assignee, opened_at, updated_at, due_at, "
    "closed_at"
)


def _text(ts: datetime) -> str:
    if ts.tzinfo is None:
        raise CaseError(f"times are UTC and must say so; got naive {ts.isoformat()}")
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class SqlCaseStore(ScopedStore):
    """A :class:`~vigil.aml.cases.store.CaseStore` over any :class:`Database`; a backend gives
    the connection scopes."""

    def __init__(self, scopes: Scopes, sla: SlaPolicy | None = None):
        super().__init__(scopes)
        self.sla = sla or SlaPolicy()

    # --- writes --------------------------------------------------------------------------

    def add_alert(self, alert: AlertLike, *, now: datetime, actor: str = "system") -> Case:
        with self._write() as db:
            known = db.execute(
                "SELECT case_id FROM case_alerts WHERE alert_id = ?", (alert.alert_id,)
            ).fetchone()
            if known:
                case_id = known[0]
            else:
                case_id = self._file(db, alert.subject, CaseAlert.of(alert), now, actor)
        return self.get(case_id)

    def _file(self, db: Database, subject: str, alert: CaseAlert, now: datetime, actor: str) -> str:
        priority = self.sla.priority_of(alert.score)
        row = db.execute(
            "SELECT case_id, priority, due_at FROM cases WHERE subject = ? AND status NOT IN "
            "(?, ?) ORDER BY opened_at LIMIT 1",
            (subject, *_CLOSED),
        ).fetchone()
        if row is None:
            case_id = self._next_id(db)
            db.execute(
                f"INSERT INTO cases ({_CASE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    case_id,
                    subject,
                    alert.jurisdiction,
                    CaseStatus.OPEN.value,
                    priority.value,
                    None,
                    _text(now),
                    _text(now),
                    _text(self.sla.due(now, priority)),
                    None,
                ),
            )
            self._audit(db, case_id, now, actor, "opened", {"priority": priority.value})
        else:
            case_id, current, due = row[0], Priority(row[1]), datetime.fromisoformat(row[2])
            raised = higher(current, priority)
            if raised != current:
                due = min(due, self.sla.due(now, raised))
                db.execute(
                    "UPDATE cases SET priority = ?, due_at = ? WHERE case_id = ?",
                    (raised.value, _text(due), case_id),
                )
                self._audit(
                    db, case_id, now, actor, "priority", {"from": current, "to": raised.value}
                )
        seq = db.execute("SELECT COUNT(*) FROM case_alerts WHERE case_id = ?", (case_id,))
        db.execute(
            "INSERT INTO case_alerts (alert_id, case_id, seq, typology, jurisdiction, raised_at, "
            "summary, score) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                alert.alert_id,
                case_id,
                seq.fetchone()[0],
                alert.typology,
                alert.jurisdiction,
                _text(alert.ts),
                alert.summary,
                alert.score,
            ),
        )
        db.executemany(
            "INSERT INTO alert_txns (alert_id, seq, txn_id) VALUES (?, ?, ?)",
            [(alert.alert_id, i, txn_id) for i, txn_id in enumerate(alert.txn_ids)],
        )
        db.execute("UPDATE cases SET updated_at = ? WHERE case_id = ?", (_text(now), case_id))
        detail = {"alert_id": alert.alert_id, "typology": alert.typology, "score": alert.score}
        self._audit(db, case_id, now, actor, "alert_added", detail)
        return case_id

    def transition(
        self, case_id: str, to: CaseStatus, *, actor: str, now: datetime, reason: str = ""
    ) -> Case:
        to = CaseStatus(to)
        with self._write() as db:
            current = CaseStatus(self._row(db, case_id)[3])
            check_transition(case_id, current, to)
            db.execute(
                "UPDATE cases SET status = ?, updated_at = ?, closed_at = ? WHERE case_id = ?",
                (to.value, _text(now), _text(now) if to.closed else None, case_id),
            )
            detail = {"from": current.value, "to": to.value, "reason": reason}
            self._audit(db, case_id, now, actor, "transition", detail)
        return self.get(case_id)

    def assign(self, case_id: str, assignee: str | None, *, actor: str, now: datetime) -> Case:
        with self._write() as db:
            row = self._row(db, case_id)
            if CaseStatus(row[3]).closed:
                raise CaseError(f"case {case_id} is closed ({row[3]}); it cannot be reassigned")
            db.execute(
                "UPDATE cases SET assignee = ?, updated_at = ? WHERE case_id = ?",
                (assignee, _text(now), case_id),
            )
            self._audit(db, case_id, now, actor, "assigned", {"from": row[5], "to": assignee})
        return self.get(case_id)

    def add_note(self, case_id: str, text: str, *, actor: str, now: datetime) -> Case:
        if not text.strip():
            raise CaseError(f"case {case_id}: a note needs text")
        with self._write() as db:
            self._row(db, case_id)
            seq = db.execute("SELECT COUNT(*) FROM case_notes WHERE case_id = ?", (case_id,))
            db.execute(
                "INSERT INTO case_notes (case_id, seq, noted_at, author, body) "
                "VALUES (?, ?, ?, ?, ?)",
                (case_id, seq.fetchone()[0], _text(now), actor, text),
            )
            db.execute("UPDATE cases SET updated_at = ? WHERE case_id = ?", (_text(now), case_id))
            self._audit(db, case_id, now, actor, "note", {"text": text})
        return self.get(case_id)

    def _next_id(self, db: Database) -> str:
        return f"C{db.execute('SELECT COUNT(*) FROM cases').fetchone()[0] + 1:08d}"

    def _audit(
        self,
        db: Database,
        case_id: str,
        at: datetime,
        actor: str,
        action: str,
        detail: dict[str, Any],
    ) -> None:
        seq = db.execute("SELECT COUNT(*) FROM case_audit WHERE case_id = ?", (case_id,))
        db.execute(
            "INSERT INTO case_audit (case_id, seq, changed_at, actor, action, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (case_id, seq.fetchone()[0], _text(at), actor, action, json.dumps(detail)),
        )

    # --- reads ---------------------------------------------------------------------------

    def _row(self, db: Database, case_id: str) -> tuple[Any, ...]:
        row = db.execute(f"SELECT {_CASE_COLUMNS} FROM cases WHERE case_id = ?", (case_id,))
        found = row.fetchone()
        if found is None:
            raise UnknownCase(f"no case {case_id!r}")
        return found

    def get(self, case_id: str) -> Case:
        with self._read() as db:
            row = self._row(db, case_id)
            alerts = db.execute(
                "SELECT alert_id, typology, jurisdiction, raised_at, summary, score "
                "FROM case_alerts WHERE case_id = ? ORDER BY seq",
                (case_id,),
            ).fetchall()
            txns: dict[str, list[str]] = {}
            for alert_id, txn_id in db.execute(
                "SELECT t.alert_id, t.txn_id FROM alert_txns t JOIN case_alerts a "
                "ON a.alert_id = t.alert_id WHERE a.case_id = ? ORDER BY t.alert_id, t.seq",
                (case_id,),
            ):
                txns.setdefault(alert_id, []).append(txn_id)
            notes = db.execute(
                "SELECT noted_at, author, body FROM case_notes WHERE case_id = ? ORDER BY seq",
                (case_id,),
            ).fetchall()
        return Case(
            case_id=row[0],
            subject=row[1],
            jurisdiction=row[2],
            status=CaseStatus(row[3]),
            priority=Priority(row[4]),
            assignee=row[5],
            opened_at=datetime.fromisoformat(row[6]),
            updated_at=datetime.fromisoformat(row[7]),
            due_at=datetime.fromisoformat(row[8]),
            closed_at=_time(row[9]),
            alerts=tuple(
                CaseAlert(a, t, j, datetime.fromisoformat(ts), tuple(txns.get(a, ())), s, sc)
                for a, t, j, ts, s, sc in alerts
            ),
            notes=tuple(Note(datetime.fromisoformat(at), who, body) for at, who, body in notes),
        )

    def find(
        self,
        *,
        status: CaseStatus | None = None,
        subject: str | None = None,
        assignee: str | None = None,
    ) -> list[Case]:
        filters = {"status": status and CaseStatus(status).value, "subject": subject}
        filters["assignee"] = assignee
        where = [f"{column} = ?" for column, value in filters.items() if value is not None]
        values = [value for value in filters.values() if value is not None]
        sql = "SELECT case_id FROM cases"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._read() as db:
            ids = [r[0] for r in db.execute(sql + " ORDER BY opened_at, case_id", values)]
        return [self.get(case_id) for case_id in ids]

    def overdue(self, now: datetime) -> list[Case]:
        with self._read() as db:
            ids = [
                r[0]
                for r in db.execute(
                    "SELECT case_id FROM cases WHERE status NOT IN (?, ?) AND due_at < ? "
                    "ORDER BY due_at, case_id",
                    (*_CLOSED, _text(now)),
                )
            ]
        return [self.get(case_id) for case_id in ids]

    def audit(self, case_id: str) -> list[AuditEvent]:
        with self._read() as db:
            self._row(db, case_id)
            rows = db.execute(
                "SELECT changed_at, actor, action, detail FROM case_audit WHERE case_id = ? "
                "ORDER BY seq",
                (case_id,),
            ).fetchall()
        return [
            AuditEvent(case_id, datetime.fromisoformat(at), actor, action, json.loads(detail))
            for at, actor, action, detail in rows
        ]

    def labels_of(self, case_id: str) -> list[LabelEvent]:
        case = self.get(case_id)
        if not case.status.closed or case.closed_at is None:
            return []
        fraud = case.status is CaseStatus.CLOSED_TRUE_POSITIVE
        typology: dict[str, str] = {}
        for alert in case.alerts:
            for txn_id in alert.txn_ids:
                typology.setdefault(txn_id, alert.typology)
        return [
            LabelEvent(txn_id, fraud, case.closed_at, case_id, kind)
            for txn_id, kind in typology.items()
        ]
