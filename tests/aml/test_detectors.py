"""Each typology detector on a minimal hand-built case, and on its legitimate look-alike.

Amounts are Singapore dollars booked in SG, whose pack sets the reporting threshold at
SGD 20,000 (``large_value`` 2,000,000 cents) and the near-threshold band at 80%.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from vigil.aml.alerts import Alert
from vigil.aml.detectors import AmlMonitor, AmlParams, CycleParams, StructuringParams
from vigil.features.accounts import AccountBook, AccountInfo
from vigil.rules.pack import PACKS_DIR, context_names
from vigil.rules.registry import RuleRegistry
from vigil.schema.records import Transaction

T0 = datetime(2026, 3, 2, tzinfo=UTC)
OLD = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp())
_ids = itertools.count()


def txn(
    hours: float,
    payer: str,
    payee: str,
    sgd: float,
    channel: str = "transfer",
    currency: str = "SGD",
    jurisdiction: str = "SG",
) -> Transaction:
    """A payment ``hours`` after T0 of ``sgd`` major units (in ``currency``)."""
    return Transaction(
        txn_id=f"T{next(_ids):08d}",
        ts=T0 + timedelta(hours=hours),
        payer_id=payer,
        payee_id=payee,
        amount=round(sgd * 100),
        currency=currency,
        channel=channel,
        jurisdiction=jurisdiction,
    )


def run(monitor: AmlMonitor, txns: list[Transaction]) -> list[Alert]:
    return [alert for t in txns for alert in monitor.observe(t)]


def of(alerts: list[Alert], typology: str) -> list[Alert]:
    return [a for a in alerts if a.typology == typology]


def book(**kinds: str) -> AccountBook:
    """Accounts opened long ago, of the given kinds."""
    return AccountBook({a: AccountInfo(OLD, "SG", 3.0, k) for a, k in kinds.items()})


@pytest.fixture(scope="module")
def registry() -> RuleRegistry:
    return RuleRegistry(PACKS_DIR, context_names())


@pytest.fixture
def monitor(registry):
    def make(**kwargs) -> AmlMonitor:
        return AmlMonitor(registry, **kwargs)

    return make


# --- structuring --------------------------------------------------------------------------------


def test_structuring_cash_deposits_under_the_threshold(monitor):
    m = monitor()
    deposits = [txn(h, agent, "P1", 18_500, "cash_in") for h, agent in ((0, "A1"), (30, "A2"))]
    assert not of(run(m, deposits), "structuring")
    third = txn(70, "A3", "P1", 19_000, "cash_in")
    (alert,) = of(m.observe(third), "structuring")
    assert alert.subject == "P1"  # the depositor, not the agents
    assert alert.txn_ids == (*(d.txn_id for d in deposits), third.txn_id)
    assert alert.params["large_value"] == 2_000_000
    assert alert.params["role"] == "beneficiary"
    assert alert.pack_version.startswith("sg-")


def test_structuring_per_payer_on_cash_withdrawals(monitor):
    m = monitor()
    alerts = run(m, [txn(h, "P2", "A1", 17_000, "cash_out") for h in (0, 20, 40)])
    (alert,) = of(alerts, "structuring")
    assert (alert.subject, alert.params["role"]) == ("P2", "payer")


def test_structuring_lookalikes_stay_quiet(monitor):
    m = monitor()
    rent = [txn(24 * 30 * i, "P3", "P4", 19_500) for i in range(3)]  # monthly, by transfer
    takings = [txn(h, "A1", "M1", 18_000, "cash_in") for h in (0, 100)]  # twice in a week
    spread = [txn(h, "A1", "P5", 18_000, "cash_in") for h in (0, 24 * 8, 24 * 16)]  # > window
    over = [txn(h, "A1", "P6", 25_000, "cash_in") for h in (0, 5, 10)]  # reported anyway
    small = [txn(h, "A1", "P7", 9_000, "cash_in") for h in (0, 5, 10)]  # well under the band
    assert not of(run(m, rent + takings + spread + over + small), "structuring")


def test_structuring_on_transfers_when_configured(monitor):
    splits = [txn(h, "P8", f"P{9 + h}", 19_000) for h in (0, 1, 2)]  # one payer, three payees
    assert not of(run(monitor(), splits), "structuring")  # the default counts cash only
    m = monitor(params=AmlParams(structuring=StructuringParams(cash_only=False)))
    collected = [txn(10 + h, f"P{20 + h}", "P30", 19_000) for h in (0, 1, 2)]
    alerts = of(run(m, splits + collected), "structuring")
    assert [(a.subject, a.params["role"]) for a in alerts] == [
        ("P8", "payer"),
        ("P30", "beneficiary"),
    ]


# --- fan-in -------------------------------------------------------------------------------------


def test_fan_in_many_people_pay_one_collector(monitor):
    kinds = {f"P{i}": "person" for i in range(10)} | {"B1": "business"}
    m = monitor(accounts=book(**kinds))
    alerts = run(m, [txn(6 * i, f"P{i}", "B1", 2_400 + 10 * i) for i in range(6)])
    (alert,) = of(alerts, "fan_in")
    assert alert.subject == "B1"
    assert len({e.payer_id for e in alert.evidence}) == 4  # raised at the fourth payer
    assert alert.evidence[-1].payer_kind == "person"


def test_fan_in_merchant_customers_and_supplier_invoices_stay_quiet(monitor):
    shoppers = {f"P{i}": "person" for i in range(40)}
    firms = {f"B{i}": "business" for i in range(10)}
    m = monitor(accounts=book(**shoppers, **firms, M1="merchant", M2="merchant", B99="business"))
    till = [txn(i, f"P{i}", "M1", 40, "card") for i in range(40)]  # many small payments
    jeweller = [txn(i, f"P{i}", "M2", 1_500, "card") for i in range(10)]  # a merchant
    supplier = [txn(i, f"B{i}", "B99", 3_000) for i in range(10)]  # firms pay a firm
    assert not of(run(m, till + jeweller + supplier), "fan_in")


def test_fan_in_without_account_kinds_counts_every_sizeable_payer(monitor):
    m = monitor()  # no reference data: behaviour alone
    assert of(run(m, [txn(i, f"X{i}", "X99", 2_000) for i in range(4)]), "fan_in")


# --- fan-out ------------------------------------------------------------------------------------


def test_fan_out_lump_split_across_many(monitor):
    m = monitor()
    lump = txn(0, "F1", "S1", 20_000)
    outs = [txn(2 + 5 * i, "S1", f"R{i}", 4_850) for i in range(4)]
    (alert,) = of(run(m, [lump, *outs]), "fan_out")
    assert alert.subject == "S1"
    assert alert.txn_ids == (lump.txn_id, *(o.txn_id for o in outs))


def test_fan_out_payroll_without_a_lump_stays_quiet(monitor):
    m = monitor()
    receipts = [txn(i, f"C{i}", "B1", 3_000) for i in range(10)]  # turnover, no single lump
    payroll = [txn(30 + i / 60, "B1", f"E{i}", 3_300) for i in range(25)]
    assert not of(run(m, receipts + payroll), "fan_out")


# --- cycles -------------------------------------------------------------------------------------


def cycle(start: float, accounts: list[str], sgd: float, fee: float = 0.02, gap: float = 10):
    hops = []
    for i, payer in enumerate(accounts):
        payee = accounts[(i + 1) % len(accounts)]
        hops.append(txn(start + gap * i, payer, payee, round(sgd * (1 - fee) ** i)))
    return hops


def test_cycle_found_when_the_closing_payment_arrives(monitor):
    m = monitor()
    hops = cycle(0, ["A", "B", "C", "D"], 12_000)
    assert not of(run(m, hops[:-1]), "cycle")
    (alert,) = of(m.observe(hops[-1]), "cycle")
    assert alert.subject == "A"
    assert alert.path == ("A", "B", "C", "D", "A")
    assert alert.txn_ids == tuple(h.txn_id for h in hops)


def test_cycle_of_two_and_across_currencies(monitor):
    m = monitor()
    out = txn(0, "A", "B", 10_000)
    back = txn(5, "B", "A", 33_000, currency="MYR", jurisdiction="MY")  # USD 7,260 of 7,400
    alerts = of(run(m, [out, back]), "cycle")
    assert [a.path for a in alerts] == [("A", "B", "A")]
    assert alerts[0].jurisdiction == "MY"


def test_cycle_lookalikes_stay_quiet(monitor):
    m = monitor(params=AmlParams(cycle=CycleParams(max_length=4)))
    lunch = cycle(0, ["P1", "P2", "P3"], 30)  # a circle of friends settling up
    slow = cycle(100, ["Q1", "Q2", "Q3"], 9_000, gap=24 * 6)  # 12 days: beyond the window
    unequal = [
        txn(300, "U1", "U2", 9_000),
        txn(301, "U2", "U3", 2_000),
        txn(302, "U3", "U1", 2_000),
    ]
    long = cycle(400, ["L1", "L2", "L3", "L4", "L5"], 9_000)  # five accounts, at most four
    # V3 pays V1 before V2 has paid V3: the money never went round
    backwards = [
        txn(500, "V1", "V2", 9_000),
        txn(501, "V3", "V1", 9_000),
        txn(502, "V2", "V3", 9_000),
    ]
    assert not of(run(m, lunch + slow + unequal + long + backwards), "cycle")


def test_cycle_search_is_bounded_on_a_hub(monitor):
    params = CycleParams(max_branching=32, max_expansions=50)
    m = monitor(params=AmlParams(cycle=params))
    run(m, [txn(i / 100, f"S{i}", "HUB", 5_000) for i in range(2_000)])  # all look like hops
    detector = next(d for d in m.detectors if d.typology == "cycle")
    back, calls = detector._back, []
    detector._back = lambda *args: calls.append(args) or back(*args)
    assert not of(m.observe(txn(30, "HUB", "Q", 5_000)), "cycle")
    assert 1 < len(calls) <= 1 + min(params.max_branching, params.max_expansions)


# --- pass-through -------------------------------------------------------------------------------


def test_pass_through_in_and_out_within_hours(monitor):
    m = monitor(accounts=book(P1="person"))
    into = [txn(0, "X1", "P1", 4_000), txn(0.5, "X2", "P1", 3_000)]
    outs = [txn(2, "P1", "Y1", 3_500), txn(3, "P1", "Y2", 3_300)]
    alerts = run(m, into + outs)
    (alert,) = of(alerts, "pass_through")
    assert alert.subject == "P1"
    assert alert.txn_ids == tuple(t.txn_id for t in into + outs)


def test_pass_through_lookalikes_stay_quiet(monitor):
    m = monitor(accounts=book(P2="person", P3="person", B1="business"))
    salary = [txn(0, "B9", "P2", 3_000)] + [
        txn(1 + i, "P2", f"M{i}", 40, "card") for i in range(20)
    ]
    firm = [txn(0, "C1", "B1", 5_000), txn(2, "B1", "S1", 4_900)]  # working capital
    spent_first = [txn(0, "P3", "Y1", 5_000), txn(1, "X1", "P3", 5_000)]  # out, then in
    assert not of(run(m, salary + firm + spent_first), "pass_through")


# --- dormant-account reactivation ---------------------------------------------------------------


def busy(account: str, days: int) -> list[Transaction]:
    """A payment every ten days from ``account``: never dormant."""
    return [txn(24 * d, account, "M9", 30, "card") for d in range(0, days, 10)]


def test_dormant_account_wakes_with_large_sums(monitor):
    m = monitor()
    run(m, [txn(0, "P1", "M1", 30, "card"), *busy("F1", 100)])
    wake = 24 * 100
    inflow = txn(wake, "F1", "P1", 8_000)
    (alert,) = of(m.observe(inflow), "dormant_reactivation")
    assert alert.subject == "P1"
    assert alert.params["silent_days_seen"] == pytest.approx(100)
    again = of(m.observe(txn(wake + 3, "P1", "Y1", 7_800)), "dormant_reactivation")
    assert "P1" not in {a.subject for a in again}  # one alert per wake-up


def test_dormant_lookalikes_stay_quiet(monitor):
    opened = int((T0 + timedelta(days=99)).timestamp())
    accounts = AccountBook({"N1": AccountInfo(opened, "SG", 2.0, "person")})
    m = monitor(accounts=accounts)
    run(m, [txn(0, "P1", "M1", 30, "card"), *busy("F1", 100)])
    groceries = [txn(24 * 100 + i, "P1", "M1", 60, "card") for i in range(5)]  # honest return
    new = [txn(24 * 100, "F1", "N1", 8_000)]  # opened a day ago: new, not dormant
    assert not of(run(m, groceries + new), "dormant_reactivation")


def test_dormancy_is_not_assumed_before_the_monitor_started(monitor):
    m = monitor()
    alerts = run(m, [txn(0, "X", "Y", 10), txn(24 * 30, "F1", "P9", 9_000)])  # 30 days of history
    assert not of(alerts, "dormant_reactivation")
    m = monitor(history_start=T0 - timedelta(days=200))  # transactions known since long before
    alerts = of(run(m, [txn(0, "F1", "P9", 9_000)]), "dormant_reactivation")
    assert {a.subject for a in alerts} == {"F1", "P9"}  # both woke after 200 days
