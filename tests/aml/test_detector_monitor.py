"""The AML monitor as a whole: evidence, deduplication, thresholds that follow the live packs,
pack overrides of detector parameters, bounded memory and deterministic replays."""

from __future__ import annotations

import itertools
import json
import logging
import random
from dataclasses import fields
from datetime import UTC, datetime, timedelta

import pytest

from vigil.aml.alerts import Alert
from vigil.aml.detectors import AmlMonitor, AmlParams, pack_param_names
from vigil.features.accounts import AccountBook, AccountInfo
from vigil.rules.pack import PACKS_DIR, context_names
from vigil.rules.registry import RuleRegistry
from vigil.schema.records import Transaction

T0 = datetime(2026, 3, 2, tzinfo=UTC)
_ids = itertools.count()


def txn(hours: float, payer: str, payee: str, sgd: float, channel: str = "transfer"):
    return Transaction(
        txn_id=f"M{next(_ids):08d}",
        ts=T0 + timedelta(hours=hours),
        payer_id=payer,
        payee_id=payee,
        amount=round(sgd * 100),
        currency="SGD",
        channel=channel,
        jurisdiction="SG",
    )


def run(monitor: AmlMonitor, txns: list[Transaction]) -> list[Alert]:
    return [alert for t in txns for alert in monitor.observe(t)]


def of(alerts: list[Alert], typology: str) -> list[Alert]:
    return [a for a in alerts if a.typology == typology]


def sg_pack(version: str, **params: object) -> str:
    """A new SG version; it keeps SG's threshold unless told otherwise."""
    params = {"large_value": 2_000_000, **params}
    lines = ["pack: SG", f"version: {version}", "extends: base", "params:"]
    lines += [f"  {name}: {value}" for name, value in params.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def registry() -> RuleRegistry:
    return RuleRegistry(PACKS_DIR, context_names(), clock=lambda: T0)


def test_alert_carries_its_evidence_and_serialises(registry):
    kinds = {f"P{i}": "person" for i in range(5)}
    accounts = AccountBook({a: AccountInfo(0, "SG", 3.0, k) for a, k in kinds.items()})
    m = AmlMonitor(registry, accounts=accounts)
    payments = [txn(i, f"P{i}", "C1", 2_500) for i in range(4)]
    (alert,) = of(run(m, payments), "fan_in")
    assert alert.alert_id == f"fan_in:C1:{payments[-1].txn_id}"
    assert alert.raised_at == payments[-1].ts
    assert alert.window_start == payments[0].ts and alert.window_end == payments[-1].ts
    assert alert.total_usd_cents == sum(e.usd_cents for e in alert.evidence) == 4 * 185_000
    first = alert.evidence[0]
    assert (first.payer_id, first.payee_id, first.amount, first.currency) == (
        "P0",
        "C1",
        250_000,
        "SGD",
    )
    data = json.loads(json.dumps(alert.to_dict()))
    assert data["params"]["payer_kinds"] == ["person"]
    assert data["params"]["min_payers"] == 4
    assert data["pack_version"] == "sg-2026.01.1"
    assert [e["txn_id"] for e in data["evidence"]] == [p.txn_id for p in payments]
    assert "4 distinct payers" in data["summary"] and "C1" in data["summary"]


def test_one_alert_per_subject_and_typology_per_window(registry):
    m = AmlMonitor(registry)
    wave = [txn(3 * i, f"P{i}", "C1", 2_500) for i in range(12)]  # 12 payers in 36 hours
    assert len(of(run(m, wave), "fan_in")) == 1
    later = [txn(100 + i, f"Q{i}", "C1", 2_500) for i in range(4)]  # the window has passed
    assert len(of(run(m, later), "fan_in")) == 1


def test_threshold_follows_the_pack_in_force_at_the_payments_time(registry):
    switch = T0 + timedelta(days=10)
    registry.publish("SG", sg_pack("sg-test-2", large_value=1_000_000), switch, "compliance")
    m = AmlMonitor(registry)
    at = (switch - T0) / timedelta(hours=1)  # hours from T0 to the switch

    def deposits(account: str, sgd: float, hours: list[float]) -> list[Transaction]:
        return [txn(h, "A1", account, sgd, "cash_in") for h in hours]

    before = [-30.0, -20.0, -10.0]
    after = [10.0, 20.0, 30.0]
    alerts = run(
        m,
        deposits("OLD-NEAR", 18_000, [at + h for h in before])  # 90% of SGD 20,000
        + deposits("OLD-LOW", 9_000, [at + h for h in before])  # 45%: not near
        + deposits("NEW-NEAR", 9_000, [at + h for h in after])  # 90% of SGD 10,000
        + deposits("NEW-OVER", 18_000, [at + h for h in after])  # over: reported anyway
        + deposits("AT-SWITCH", 9_000, [at, at + 1, at + 2])  # the instant itself is new
        + deposits("JUST-BEFORE", 9_000, [at - 1 / 3600, at + 1, at + 2]),
    )
    found = {a.subject: a for a in of(alerts, "structuring")}
    assert set(found) == {"OLD-NEAR", "NEW-NEAR", "AT-SWITCH"}
    assert found["OLD-NEAR"].pack_version == "sg-2026.01.1"
    assert found["OLD-NEAR"].params["large_value"] == 2_000_000
    assert found["NEW-NEAR"].pack_version == "sg-test-2"
    assert found["NEW-NEAR"].params["large_value"] == 1_000_000


def test_a_pack_overrides_detector_params(registry, caplog):
    registry.publish(
        "SG",
        sg_pack(
            "sg-test-3",
            aml_structuring_min_count=2,
            aml_fan_in_min_payers="many",  # wrong type: logged, default kept
            aml_pass_through_subject_kinds='"person,business"',
        ),
        None,
        "compliance",
    )
    m = AmlMonitor(registry)
    with caplog.at_level(logging.ERROR):
        alerts = run(m, [txn(h, "A1", "P1", 18_000, "cash_in") for h in (0, 5)])
    (alert,) = of(alerts, "structuring")
    assert alert.params["min_count"] == 2 and alert.pack_version == "sg-test-3"
    regime = m.regimes.at("SG", T0)
    assert regime.params.fan_in.min_payers == AmlParams().fan_in.min_payers
    assert regime.params.pass_through.subject_kinds == {"person", "business"}
    assert "aml_fan_in_min_payers" in caplog.text


def test_every_detector_param_is_a_legal_pack_param(registry):
    defaults = AmlParams()
    values = {
        f"aml_{group.name}_{f.name}": getattr(getattr(defaults, group.name), f.name)
        for group in fields(defaults)
        for f in fields(getattr(defaults, group.name))
    }
    assert sorted(values) == sorted(pack_param_names())
    text = {
        name: f'"{",".join(sorted(v))}"' if isinstance(v, frozenset) else str(v).lower()
        for name, v in values.items()
    }
    registry.publish("SG", sg_pack("sg-test-4", **text), None, "compliance")
    assert AmlMonitor(registry).regimes.at("SG", T0).params == defaults


PER_HOUR = 15


def traffic(days: int, seed: int = 3) -> list[Transaction]:
    """Busy random transfers among 3,000 accounts: every detector keeps state."""
    rng = random.Random(seed)
    out = []
    for hour in range(days * 24):
        for _ in range(PER_HOUR):
            payer, payee = rng.sample(range(3_000), 2)
            sgd = round(rng.lognormvariate(8.0, 0.6))
            out.append(txn(hour + rng.random(), f"P{payer}", f"P{payee}", sgd))
    out.sort(key=lambda t: t.ts)
    return out


def test_memory_stays_bounded_as_old_edges_expire(registry):
    m = AmlMonitor(registry)
    sizes = []
    for _, chunk in itertools.groupby(traffic(30), key=lambda t: (t.ts - T0).days):
        for t in chunk:
            m.observe(t)
        sizes.append(m.state_size())
    warm = sizes[12]  # after the longest window (10 days, for cycles)
    assert max(sizes[12:]) < 1.2 * warm
    cycle = next(d for d in m.detectors if d.typology == "cycle")
    assert cycle.state_size() < 11 * 24 * PER_HOUR  # edges of the last ~10 days, not 30


def test_replays_raise_the_same_alerts(registry):
    stream = traffic(3, seed=5)
    first = [a.alert_id for a in run(AmlMonitor(registry), stream)]
    second = [a.alert_id for a in run(AmlMonitor(registry), stream)]
    assert first and first == second


def test_default_detectors_cover_the_worlds_aml_typologies(registry):
    typologies = {d.typology for d in AmlMonitor(registry).detectors}
    assert typologies == {
        "structuring",
        "fan_in",
        "fan_out",
        "cycle",
        "pass_through",
        "dormant_reactivation",
    }
