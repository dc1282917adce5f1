"""The trade indexes and the propagated risk on graphs small enough to check by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from vigil.credit.network import (
    NEVER,
    US_PER_DAY,
    EventIndex,
    NetworkParams,
    TradeIndex,
    build_snapshot,
    snapshot_time,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)
IDS = pl.Series(["A", "B", "C", "D", "E"])


def us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def trade(*rows: tuple[str, str, int, int]) -> pl.DataFrame:
    """(supplier, buyer, day, US dollars) rows, invoiced in USD."""
    return pl.DataFrame(
        {
            "supplier_id": [r[0] for r in rows],
            "buyer_id": [r[1] for r in rows],
            "ts": [T0 + timedelta(days=r[2]) for r in rows],
            "amount": [r[3] * 100 for r in rows],
            "currency": ["USD"] * len(rows),
        }
    )


def test_relationship_reads_count_only_invoices_strictly_before() -> None:
    index = TradeIndex(trade(("A", "B", 10, 100), ("A", "B", 20, 50), ("C", "B", 5, 7)), IDS)
    assert index.n_edges == 2
    edge = int(np.flatnonzero((index.supplier == 0) & (index.buyer == 1))[0])
    moments = [us(T0 + timedelta(days=d)) for d in (10, 11, 20, 21)]
    count, cents, last = index.edge_stats(np.full(4, edge), np.array(moments))
    assert count.tolist() == [0, 1, 1, 2]
    assert cents.tolist() == [0, 10_000, 10_000, 15_000]
    assert last[0] == -1 and last[3] == us(T0 + timedelta(days=20))


def test_pairs_see_both_roles_with_trailing_windows() -> None:
    rows = [("A", "B", 1, 10), ("A", "B", 200, 20), ("A", "B", 300, 40), ("B", "C", 250, 5)]
    index = TradeIndex(trade(*rows), IDS)
    moment = us(T0 + timedelta(days=320))
    pairs = index.pairs(np.array([1, 1]), np.array([moment, us(T0 + timedelta(days=100))]))
    # B at day 320: supplier A (bought 70 over the year, 40 in the last 90 days, 20 before),
    # buyer C; at day 100 it has only A (first seen on day 1), and C is not yet visible.
    now = pairs.row == 0
    by_partner = dict(zip(pairs.counterparty[now].tolist(), range(now.sum()), strict=True))
    a, c = by_partner[0], by_partner[2]
    assert not pairs.is_buyer[now][a] and pairs.is_buyer[now][c]
    assert pairs.usd_365[now][a] == 70 and pairs.usd_90[now][a] == 40
    assert pairs.usd_prev_90[now][a] == 20
    assert pairs.counterparty[pairs.row == 1].tolist() == [0]
    # A firm outside the index has no relationships.
    assert len(index.pairs(np.array([-1]), np.array([moment])).row) == 0


def test_event_index_answers_last_event_before() -> None:
    index = EventIndex(np.array([0, 0, 2]), np.array([5, 9, 7]), np.array([1.0, 2.0, 3.0]))
    count, last = index.before(
        np.array([0, 0, 0, 1, 2, -1, 9]), np.array([5, 6, 10, 10, 8, 10, 10])
    )
    assert count.tolist() == [0, 1, 2, 0, 1, 0, 0]
    assert index.value[last[2]] == 2.0 and last[3] == -1
    assert index.last_time(np.array([0]), 10).tolist() == [9]


def test_risk_travels_from_known_defaults_along_trade_shares() -> None:
    # A sells to B; B sells to C (its only buyer) and to D (a little); E trades with no one.
    rows = [("A", "B", 10, 1_000), ("B", "C", 12, 900), ("B", "D", 12, 100), ("D", "E", 400, 1)]
    index = TradeIndex(trade(*rows), IDS)
    params = NetworkParams(snapshot_days=1)
    moment = us(T0 + timedelta(days=30))
    default_time = np.full(5, NEVER)
    default_time[2] = moment - US_PER_DAY  # C failed the day before
    snap = build_snapshot(index, default_time, moment, params)
    risk = snap.risk
    assert risk[2] > risk[1] > risk[0] > 0  # C itself, then B (its buyer), then A via B
    assert risk[1] > risk[3] > 0  # D reaches C only through B
    assert risk[4] == 0  # E's invoice is in the future
    assert snap.defaults_known == 1
    # A default at or after the snapshot moment is not known to it.
    default_time[2] = moment
    assert build_snapshot(index, default_time, moment, params).risk.max() == 0


def test_snapshot_grid_is_anchored_to_the_epoch() -> None:
    params = NetworkParams(snapshot_days=14)
    step = 14 * US_PER_DAY
    moment = us(T0) + 5
    at = snapshot_time(moment, params)
    assert at <= moment < at + step and at % step == 0
