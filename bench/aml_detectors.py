"""AML typology detectors on a labelled world: recall, alert load, precision and cost per event.

    python bench/aml_detectors.py --data data/demo [--split-days 23] [--period test|tune|both]

Streams the world's transactions in time order through :class:`AmlMonitor` (thresholds from
the shipped rule packs, looked up at each payment's time) and, as the reference in the same
run, through a naive monitor that applies the same rules by rescanning each account's history
within the window, as a first implementation would. Every transaction goes through both from
the first day, so windows are warm; the figures count only the chosen period: ``tune`` (the
first ``--split-days`` days, on which the parameters were chosen) or ``test`` (the days after,
the figures reported).

Per AML typology it prints
- incident recall: of the incidents (the typology's labelled transactions, grouped by the
  customer accounts they share) completed in the period (their last transaction in it), the
  share with at least one transaction in the evidence of an alert of the same typology;
- transaction recall: the same over those incidents' transactions;
- alerts raised in the period, and per 10,000 transactions of the period;
- precision: the share of alerts with an AML-labelled transaction in their evidence (``same
  typology``: labelled with the alert's own; ``any label`` also counts fraud, e.g. mule rings);
- cost per transaction, p50 and p99 in µs, of each detector (timed alone, in a second pass)
  and of its naive reference; the last row times the whole ``AmlMonitor.observe`` call
  (evidence record and pack lookup included) against the whole naive monitor;
- agreement: alerts both monitors raised over the alerts either raised (same rules, so 100%
  unless the cycle search's bounds cut a search the unbounded reference completes).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl

from vigil.aml.alerts import Alert, Evidence
from vigil.aml.detectors import AmlMonitor, AmlParams, CycleParams, DormantParams, Regime
from vigil.aml.detectors.base import CASH_CHANNELS, customer_sides, watched
from vigil.aml.detectors.params import DAY
from vigil.aml.detectors.quiet import Quiet
from vigil.features.accounts import AccountBook
from vigil.features.replay import sorted_transactions, transactions_of
from vigil.runtime import collector_paused
from vigil.schema.io import read_table

TYPOLOGIES = (
    "structuring",
    "fan_in",
    "fan_out",
    "cycle",
    "pass_through",
    "dormant_reactivation",
)

#: The demo world has 30 days of history, so no account can be seen silent for 90 days; the
#: world's sleepers are "old and silent in the window" (docs/world.md).
DEMO_SILENT_DAYS = 21.0


# --- the reference: the same rules, rescanning each account's history ---------------------------


class NaiveMonitor:
    """Every account's whole history in lists; each rule rescans the window it needs.

    What a first implementation does, and the cost the streaming detectors avoid: its work per
    transaction grows with the activity of the accounts involved (a merchant, an agent), and
    its memory with the length of history.
    """

    def __init__(self, opened_at: dict[str, float]):
        self.ins: dict[str, list[Evidence]] = defaultdict(list)  # customer inflows
        self.outs: dict[str, list[Evidence]] = defaultdict(list)  # customer outflows
        self.opened_at = opened_at
        self.since: float | None = None
        self.quiet = {t: Quiet() for t in TYPOLOGIES}
        self.wake_start: dict[str, float] = {}

    def observe(self, leg: Evidence, regime: Regime, timer: list[int]) -> list[Alert]:
        """Run every rule, then record the leg; ``timer`` receives ns per typology."""
        if self.since is None:
            self.since = leg.at
        out: list[Alert] = []
        for index, rule in enumerate(
            (
                self._structuring,
                self._fan_in,
                self._fan_out,
                self._cycle,
                self._pass_through,
                self._dormant,
            )
        ):
            started = time.perf_counter_ns()
            out += rule(leg, regime)
            timer[index] = time.perf_counter_ns() - started
        payer, payee = customer_sides(leg)
        if payer is not None:
            self.outs[payer].append(leg)
        if payee is not None:
            self.ins[payee].append(leg)
        return out

    @staticmethod
    def _recent(legs: list[Evidence], since: float) -> list[Evidence]:
        found = []
        for leg in reversed(legs):
            if leg.at < since:
                break
            found.append(leg)
        found.reverse()
        return found

    def _fire(self, typology: str, subject: str, leg: Evidence, until: float) -> list[Alert]:
        quiet = self.quiet[typology]
        if quiet.holds(subject, leg.at):
            return []
        quiet.hold(subject, until)
        return [_bare_alert(typology, subject, leg)]

    def _structuring(self, leg: Evidence, regime: Regime) -> list[Alert]:
        p = regime.params.structuring
        if p.cash_only and leg.channel not in CASH_CHANNELS:
            return []

        def near(e: Evidence) -> bool:
            share = regime.threshold_share(e)
            ok = share is not None and regime.structuring_band <= share < 1.0
            return ok and (not p.cash_only or e.channel in CASH_CHANNELS)

        if not near(leg):
            return []
        payer, payee = customer_sides(leg)
        alerts = []
        for subject, history in ((payer, self.outs), (payee, self.ins)):
            if subject is None:
                continue
            count = 1 + sum(map(near, self._recent(history[subject], leg.at - p.window_s)))
            if count >= p.min_count:
                alerts += self._fire("structuring", subject, leg, leg.at + p.window_s)
        return alerts

    def _fan_in(self, leg: Evidence, regime: Regime) -> list[Alert]:
        p = regime.params.fan_in
        payer, payee = customer_sides(leg)
        if (
            leg.usd_cents < p.min_usd * 100
            or payer is None
            or payee is None
            or payer == payee
            or not watched(leg.payee_kind, p.subject_kinds)
            or not watched(leg.payer_kind, p.payer_kinds)
        ):
            return []
        legs = [
            e
            for e in self._recent(self.ins[payee], leg.at - p.window_s)
            if e.usd_cents >= p.min_usd * 100
            and e.channel not in CASH_CHANNELS
            and e.payer_id != payee
            and watched(e.payer_kind, p.payer_kinds)
        ]
        legs.append(leg)
        payers = {e.payer_id for e in legs}
        if len(payers) >= p.min_payers and sum(e.usd_cents for e in legs) >= p.min_total_usd * 100:
            return self._fire("fan_in", payee, leg, leg.at + p.window_s)
        return []

    def _fan_out(self, leg: Evidence, regime: Regime) -> list[Alert]:
        p = regime.params.fan_out
        payer, payee = customer_sides(leg)
        if (
            payer is None
            or payer == payee
            or leg.usd_cents < p.min_usd * 100
            or not watched(leg.payer_kind, p.subject_kinds)
        ):
            return []
        since = leg.at - p.window_s
        outs = [
            e
            for e in self._recent(self.outs[payer], since)
            if e.usd_cents >= p.min_usd * 100 and e.payee_id != payer
        ]
        outs.append(leg)
        out_cents = sum(e.usd_cents for e in outs)
        if len({e.payee_id for e in outs}) < p.min_payees or out_cents < p.min_total_usd * 100:
            return []
        lump = max(
            (e.usd_cents for e in self._recent(self.ins[payer], since) if e.payer_id != payer),
            default=0,
        )
        if lump and p.funded_share * out_cents <= lump <= out_cents / p.funded_share:
            return self._fire("fan_out", payer, leg, leg.at + p.window_s)
        return []

    def _pass_through(self, leg: Evidence, regime: Regime) -> list[Alert]:
        p = regime.params.pass_through
        payer, payee = customer_sides(leg)
        floor = p.min_leg_usd * 100
        if (
            payer is None
            or payer == payee
            or leg.usd_cents < floor
            or not watched(leg.payer_kind, p.subject_kinds)
        ):
            return []
        since = leg.at - p.window_s
        ins = [
            e
            for e in self._recent(self.ins[payer], since)
            if e.usd_cents >= floor and e.payer_id != payer
        ]
        outs = [
            e
            for e in self._recent(self.outs[payer], since)
            if e.usd_cents >= floor and e.payee_id != payer
        ]
        outs.append(leg)
        in_cents = sum(e.usd_cents for e in ins)
        out_cents = sum(e.usd_cents for e in outs)
        if (
            ins
            and in_cents >= p.min_usd * 100
            and ins[0].at <= outs[0].at
            and (1 - p.tolerance) * in_cents <= out_cents <= (1 + p.tolerance) * in_cents
        ):
            return self._fire("pass_through", payer, leg, leg.at + p.window_s)
        return []

    def _cycle(self, leg: Evidence, regime: Regime) -> list[Alert]:
        p = regime.params.cycle
        payer, payee = customer_sides(leg)
        floor = p.min_usd * 100
        if leg.usd_cents < floor or payer is None or payee is None or payer == payee:
            return []
        if self.quiet["cycle"].holds(payee, leg.at):
            return []
        if self._back(leg, payer, leg, p.max_length - 1, {payer}, leg.at - p.window_s, p):
            return self._fire("cycle", payee, leg, leg.at + p.window_s)
        return []

    def _back(
        self,
        closing: Evidence,
        node: str,
        later: Evidence,
        hops_left: int,
        on_path: set[str],
        cutoff: float,
        p: CycleParams,
    ) -> bool:
        """Whether ``closing``'s payee paid ``node``, through at most ``hops_left`` hops."""
        floor = p.min_usd * 100
        for e in reversed(self._recent(self.ins[node], cutoff)):
            source = e.payer_id
            if e.usd_cents < floor or e.at > later.at or source in on_path:
                continue
            if source == node or e.channel in CASH_CHANNELS:
                continue
            if not 1.0 - p.max_hop_loss <= later.usd_cents / e.usd_cents <= 1.0 + p.max_hop_gain:
                continue
            if source == closing.payee_id:
                return True
            if hops_left > 1 and self._back(
                closing, source, e, hops_left - 1, on_path | {source}, cutoff, p
            ):
                return True
        return False

    def _dormant(self, leg: Evidence, regime: Regime) -> list[Alert]:
        p = regime.params.dormant
        alerts = []
        for account in customer_sides(leg):
            if account is None:
                continue
            history = sorted(
                (
                    *self._recent(self.ins[account], leg.at - p.window_s - p.silent_days * DAY),
                    *self._recent(self.outs[account], leg.at - p.window_s - p.silent_days * DAY),
                ),
                key=lambda e: e.at,
            )
            start = self.wake_start.get(account)
            if start is None or leg.at - start > p.window_s:
                previous = history[-1].at if history else self._known_from(account)
                if leg.at - previous < p.silent_days * DAY:
                    continue
                start = self.wake_start[account] = leg.at
            moved = leg.usd_cents + sum(e.usd_cents for e in history if e.at >= start)
            if moved >= p.min_usd * 100:
                alerts += self._fire("dormant_reactivation", account, leg, start + p.window_s)
        return alerts

    def _known_from(self, account: str) -> float:
        assert self.since is not None
        opened = self.opened_at.get(account)
        return self.since if opened is None else max(opened, self.since)


def _bare_alert(typology: str, subject: str, leg: Evidence) -> Alert:
    return Alert(
        alert_id=f"{typology}:{subject}:{leg.txn_id}",
        typology=typology,
        subject=subject,
        jurisdiction=leg.jurisdiction,
        raised_at=leg.ts,
        trigger_txn_id=leg.txn_id,
        evidence=(leg,),
        path=(),
        params={},
        pack_version="",
        summary="",
    )


# --- scoring -----------------------------------------------------------------------------------


def incidents(frame: pl.DataFrame) -> dict[str, list[tuple[set[str], float]]]:
    """Per AML typology, its incidents: (txn_ids, time of the last one in epoch seconds).

    Labelled rows of one typology are linked when they share a customer account (a cash
    agent's side does not link: it serves every smurf in town).
    """
    out: dict[str, list[tuple[set[str], float]]] = {}
    labelled = frame.filter(pl.col("typology").is_in(TYPOLOGIES))
    for typology in TYPOLOGIES:
        rows = labelled.filter(pl.col("typology") == typology)
        parent: dict[str, str] = {}
        find = partial(_root, parent)
        records = rows.select("txn_id", "payer_id", "payee_id", "channel", "ts").rows()
        for _, payer, payee, channel, _ in records:
            sides = [
                a
                for a, agent in ((payer, channel == "cash_in"), (payee, channel == "cash_out"))
                if not agent
            ]
            for other in sides[1:]:
                parent[find(other)] = find(sides[0])
            find(sides[0])
        groups: dict[str, tuple[set[str], list[float]]] = {}
        for txn_id, payer, payee, channel, ts in records:
            key = find(payee if channel == "cash_in" else payer)
            ids, times = groups.setdefault(key, (set(), []))
            ids.add(txn_id)
            times.append(ts.timestamp())
        out[typology] = [(ids, max(ts)) for ids, ts in groups.values()]
    return out


def _root(parent: dict[str, str], x: str) -> str:
    """Union-find root of ``x``, with path halving."""
    while parent.setdefault(x, x) != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def score(
    alerts: Sequence[Alert],
    frame: pl.DataFrame,
    period: tuple[float, float],
) -> dict[str, dict[str, float]]:
    lo, hi = period
    label = dict(zip(frame["txn_id"].to_list(), frame["typology"].to_list(), strict=True))
    at = frame["ts"].dt.epoch("us").to_numpy() / 1e6
    n_txns = int(((at >= lo) & (at < hi)).sum())
    groups = incidents(frame)
    in_period = [a for a in alerts if lo <= a.raised_at.timestamp() < hi]
    out: dict[str, dict[str, float]] = {}
    for typology in TYPOLOGIES:
        mine = [a for a in in_period if a.typology == typology]
        covered = {t for a in alerts if a.typology == typology for t in a.txn_ids}
        cases = [ids for ids, last in groups[typology] if lo <= last < hi]
        rows = [t for ids in cases for t in ids]
        labels = [[label[t] for t in a.txn_ids] for a in mine]
        out[typology] = {
            "incidents": len(cases),
            "incident_recall": _share(sum(bool(ids & covered) for ids in cases), len(cases)),
            "txn_recall": _share(sum(t in covered for t in rows), len(rows)),
            "alerts": len(mine),
            "per_10k": len(mine) / n_txns * 1e4 if n_txns else float("nan"),
            "precision_same": _share(sum(typology in ls for ls in labels), len(mine)),
            "precision": _share(sum(any(x in TYPOLOGIES for x in ls) for ls in labels), len(mine)),
            "precision_any_label": _share(
                sum(any(x != "legit" for x in ls) for ls in labels), len(mine)
            ),
        }
    return out


def _share(part: int, whole: int) -> float:
    return part / whole if whole else float("nan")


# --- the run -----------------------------------------------------------------------------------


def run(data: Path, params: AmlParams, limit: int | None) -> dict[str, object]:
    frame = sorted_transactions(data)
    if limit is not None:
        frame = frame.head(limit)
    accounts = read_table(data, "accounts", required=False)
    book = AccountBook.from_frame(accounts)
    opened = (
        dict(
            zip(
                accounts["account_id"].to_list(),
                accounts["created_at"].dt.epoch("s").to_list(),
                strict=True,
            )
        )
        if accounts is not None
        else {}
    )
    n = frame.height
    clock = time.perf_counter_ns
    whole_ns = np.zeros(n, dtype=np.int64)
    fast_ns = np.zeros((n, len(TYPOLOGIES)), dtype=np.int64)
    naive_ns = np.zeros((n, len(TYPOLOGIES)), dtype=np.int64)
    naive_whole_ns = np.zeros(n, dtype=np.int64)
    with collector_paused():  # as the engine's batch walks do; the state holds no cycles
        # 1. the monitor as the engine calls it: these are the alerts scored
        monitor = AmlMonitor(params=params, accounts=book)
        alerts: list[Alert] = []
        for row, txn in enumerate(transactions_of(frame)):
            started = clock()
            found = monitor.observe(txn)
            whole_ns[row] = clock() - started
            alerts += found
        # 2. a fresh monitor again, each detector timed on its own
        timed = AmlMonitor(params=params, accounts=book)
        for row, txn in enumerate(transactions_of(frame)):
            leg = Evidence.of(txn, timed.kind_of)
            regime = timed.regimes.at(txn.jurisdiction, txn.ts)
            for index, detector in enumerate(timed.detectors):
                started = clock()
                detector.observe(leg, regime)
                fast_ns[row, index] = clock() - started
        # 3. the reference, fed the same evidence and regimes
        naive = NaiveMonitor({k: float(v) for k, v in opened.items()})
        reference: list[Alert] = []
        timer = [0] * len(TYPOLOGIES)
        for row, txn in enumerate(transactions_of(frame)):
            started = clock()
            leg = Evidence.of(txn, timed.kind_of)
            regime = timed.regimes.at(txn.jurisdiction, txn.ts)
            reference += naive.observe(leg, regime, timer)
            naive_whole_ns[row] = clock() - started
            naive_ns[row] = timer
    return {
        "frame": frame,
        "alerts": alerts,
        "reference": reference,
        "whole_ns": whole_ns,
        "fast_ns": fast_ns,
        "naive_ns": naive_ns,
        "naive_whole_ns": naive_whole_ns,
        "state": monitor.state_size(),
        "naive_state": sum(map(len, naive.ins.values())) + sum(map(len, naive.outs.values())),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/demo"))
    parser.add_argument("--split-days", type=float, default=23.0)
    parser.add_argument("--period", choices=("test", "tune", "both"), default="test")
    parser.add_argument(
        "--silent-days",
        type=float,
        default=DEMO_SILENT_DAYS,
        help="dormancy for this world (production default 90; the demo has 30 days of history)",
    )
    parser.add_argument("--limit", type=int, default=None, help="first N transactions only")
    args = parser.parse_args(argv)

    params = replace(AmlParams(), dormant=DormantParams(silent_days=args.silent_days))
    started = time.perf_counter()
    result = run(args.data, params, args.limit)
    seconds = time.perf_counter() - started
    frame: pl.DataFrame = result["frame"]  # type: ignore[assignment]
    split = (frame["ts"].min() + timedelta(days=args.split_days)).timestamp()
    print(
        f"{frame.height:,} transactions streamed in {seconds:.0f} s through both monitors; "
        f"dormancy {args.silent_days:g} days; split after day {args.split_days:g}"
    )
    periods = {"tune": (float("-inf"), split), "test": (split, float("inf"))}
    for name in ("tune", "test") if args.period == "both" else (args.period,):
        print_period(name, periods[name], result)
    print(
        f"state at the end: monitor {result['state']:,} items (windows, holds, accounts' last "
        f"activity); naive reference {result['naive_state']:,} history entries"
    )


def print_period(name: str, period: tuple[float, float], result: dict[str, object]) -> None:
    """One markdown table of the figures for the alerts and incidents of ``period``."""
    frame: pl.DataFrame = result["frame"]  # type: ignore[assignment]
    alerts: list[Alert] = result["alerts"]  # type: ignore[assignment]
    at = frame["ts"].dt.epoch("us").to_numpy() / 1e6
    rows = (at >= period[0]) & (at < period[1])
    table = score(alerts, frame, period)
    agreement = _agreement(alerts, result["reference"], period)  # type: ignore[arg-type]
    print()
    if not rows.any():
        print(f"period '{name}': no transactions")
        return
    fast = result["fast_ns"][rows] / 1e3  # type: ignore[index]
    naive = result["naive_ns"][rows] / 1e3  # type: ignore[index]
    whole = result["whole_ns"][rows] / 1e3  # type: ignore[index]
    naive_whole = result["naive_whole_ns"][rows] / 1e3  # type: ignore[index]
    print(f"period '{name}': {int(rows.sum()):,} transactions")
    print()
    print(
        "| typology | incidents | incident recall | txn recall | alerts | alerts / 10k txns "
        "| precision (AML) | precision (same typology) | precision (any label) "
        "| µs p50 / p99 | naive µs p50 / p99 | agreement |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for index, typology in enumerate(TYPOLOGIES):
        r = table[typology]
        f50, f99 = np.percentile(fast[:, index], [50, 99])
        n50, n99 = np.percentile(naive[:, index], [50, 99])
        print(
            f"| {typology} | {r['incidents']:.0f} | {r['incident_recall']:.0%} | "
            f"{r['txn_recall']:.0%} | {r['alerts']:.0f} | {r['per_10k']:.2f} | "
            f"{r['precision']:.0%} | {r['precision_same']:.0%} | {r['precision_any_label']:.0%} | "
            f"{f50:.1f} / {f99:.1f} | {n50:.1f} / {n99:.1f} | {agreement[typology]:.0%} |"
        )
    count = sum(r["alerts"] for r in table.values())
    true = sum(r["alerts"] * r["precision"] for r in table.values() if r["alerts"])
    anyl = sum(r["alerts"] * r["precision_any_label"] for r in table.values() if r["alerts"])
    w50, w99 = np.percentile(whole, [50, 99])
    t50, t99 = np.percentile(naive_whole, [50, 99])
    print(
        f"| **all, per transaction** | | | | {count:.0f} | "
        f"{sum(r['per_10k'] for r in table.values()):.2f} | {_share(round(true), round(count)):.0%} "
        f"| | {_share(round(anyl), round(count)):.0%} | {w50:.1f} / {w99:.1f} | "
        f"{t50:.1f} / {t99:.1f} | |"
    )
    print()


def _agreement(
    alerts: Sequence[Alert], reference: Sequence[Alert], period: tuple[float, float]
) -> dict[str, float]:
    lo, hi = period

    def keys(items: Sequence[Alert], typology: str) -> set[tuple[str, str]]:
        return {
            (a.subject, a.trigger_txn_id)
            for a in items
            if a.typology == typology and lo <= a.raised_at.timestamp() < hi
        }

    out = {}
    for typology in TYPOLOGIES:
        fast, slow = keys(alerts, typology), keys(reference, typology)
        out[typology] = _share(len(fast & slow), len(fast | slow))
    return out


if __name__ == "__main__":
    main()
