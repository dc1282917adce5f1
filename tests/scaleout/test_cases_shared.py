"""Cases in PostgreSQL are shared: workers on many hosts file alerts into one queue."""

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from vigil.aml.cases import CaseStatus
from vigil.aml.cases.postgres import PostgresCaseStore
from vigil.store.postgres import drop_schema

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Alert:
    alert_id: str
    subject: str
    typology: str = "fan_in"
    jurisdiction: str = "SG"
    ts: datetime = T0
    txn_ids: tuple[str, ...] = ("T1",)
    summary: str = "12 payers into one account within 24 h"
    score: float = 0.5


def test_workers_filing_at_once_keep_one_open_case_per_subject(postgres_url, namespace):
    workers = [PostgresCaseStore(postgres_url, schema=namespace) for _ in range(4)]
    try:

        def file(worker: PostgresCaseStore, w: int) -> None:
            for i in range(15):
                worker.add_alert(Alert(f"A{w}-{i}", f"P{i % 5}"), now=T0)

        threads = [threading.Thread(target=file, args=(s, w)) for w, s in enumerate(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        cases = workers[0].find(status=CaseStatus.OPEN)
        assert sorted(c.subject for c in cases) == [f"P{i}" for i in range(5)]
        assert sorted(c.case_id for c in cases) == [f"C{i:08d}" for i in range(1, 6)]
        assert sum(len(c.alerts) for c in cases) == 60
    finally:
        for worker in workers:
            worker.close()
        drop_schema(postgres_url, namespace)
