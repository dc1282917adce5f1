"""The graph store: one graph from the bulk and the online path, read strictly as of a moment."""

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from vigil.features.replay import sorted_transactions, transactions_of
from vigil.graph.store import GraphStore, NodeType, Relation, subnet_of, to_micros
from vigil.money import to_usd_cents
from vigil.schema.io import read_table

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def payments(*rows: tuple) -> pl.DataFrame:
    """(minutes after T0, payer, payee, amount, currency[, device[, ip]]) per payment."""
    full = [(*r, *([None] * (7 - len(r)))) for r in rows]
    return pl.DataFrame(
        {
            "ts": [T0 + timedelta(minutes=r[0]) for r in full],
            "payer_id": [r[1] for r in full],
            "payee_id": [r[2] for r in full],
            "amount": [r[3] for r in full],
            "currency": [r[4] for r in full],
            "device_id": [r[5] for r in full],
            "ip": [r[6] for r in full],
        },
        schema_overrides={"ts": pl.Datetime("us", "UTC"), "amount": pl.Int64},
    )


def assert_same_graph(a: GraphStore, b: GraphStore) -> None:
    assert list(a.keys()) == list(b.keys())
    np.testing.assert_array_equal(a.node_types(), b.node_types())
    for table in ("edges", "events"):
        left, right = getattr(a, table)(), getattr(b, table)()
        for name in left:
            np.testing.assert_array_equal(left[name], right[name], err_msg=f"{table}.{name}")
    adj_a, adj_b = a.adjacency(), b.adjacency()
    for name in ("indptr", "neighbor", "edge", "reverse", "times", "_slot_key", "_event_key"):
        np.testing.assert_array_equal(getattr(adj_a, name), getattr(adj_b, name), err_msg=name)


@pytest.mark.parametrize("subnets", [False, True])
def test_bulk_and_online_paths_build_the_same_graph(tiny_world, subnets):
    frame = sorted_transactions(tiny_world)
    online = GraphStore(subnets=subnets)
    for txn in transactions_of(frame):
        online.add_transaction(txn)
    bulk = GraphStore.from_transactions(frame, subnets=subnets)
    assert_same_graph(bulk, online)
    assert bulk.num_edges > 5_000 and bulk.num_nodes > 2_000
    kinds = set(NodeType(k) for k in np.unique(bulk.node_types()))
    assert (NodeType.SUBNET in kinds) is subnets


def test_bulk_appends_in_chunks_and_mixes_with_online_events(tiny_world):
    frame = sorted_transactions(tiny_world)
    half = frame.height // 2
    whole = GraphStore.from_transactions(frame)

    chunked = GraphStore()
    chunked.add_transactions(frame.head(half))
    chunked.add_transactions(frame.tail(frame.height - half))
    assert_same_graph(whole, chunked)

    mixed = GraphStore()
    for txn in transactions_of(frame.head(100)):
        mixed.add_transaction(txn)
    early = mixed.adjacency()
    # the online events built an edge-key index; the bulk path must keep it in step
    mixed.add_transactions(frame.slice(100, half - 100))
    assert mixed.adjacency() is not early and mixed.adjacency() is mixed.adjacency()
    for txn in transactions_of(frame.tail(frame.height - half)):
        mixed.add_transaction(txn)
    assert_same_graph(whole, mixed)


def test_an_edge_exists_strictly_after_its_first_event():
    store = GraphStore.from_transactions(
        payments((0, "A", "B", 1_000, "USD", "d1"), (10, "A", "B", 3_000, "USD", "d1"))
    )
    adj = store.adjacency()
    a, b = store.node_id(NodeType.ACCOUNT, "A"), store.node_id(NodeType.ACCOUNT, "B")
    first = to_micros(T0)
    assert adj.degree(np.array([a, b]), first).tolist() == [0, 0]
    assert adj.degree(np.array([a, b]), first + 1).tolist() == [2, 1]  # B and d1; A
    assert adj.neighbors(b, first + 1).tolist() == [a]

    pays = int(np.flatnonzero(store.edges()["relation"] == Relation.PAYS)[0])
    second = to_micros(T0 + timedelta(minutes=10))
    for moment, expected in [
        (first, (0, 0, -1)),
        (second, (1, 1_000, first)),
        (second + 1, (2, 4_000, second)),
    ]:
        count, total, last = adj.edge_stats(np.array([pays]), moment)
        assert (count[0], total[0], last[0]) == expected
    whole = store.edges()
    assert whole["count"][pays] == 2 and whole["first_seen"][pays] == first


def test_events_out_of_time_order_keep_the_earliest_first_seen():
    late_first = payments((30, "A", "B", 100, "USD"), (5, "A", "B", 100, "USD"))
    online = GraphStore()
    for txn in transactions_of(late_first):
        online.add_transaction(txn)
    bulk = GraphStore.from_transactions(late_first)
    assert_same_graph(bulk, online)
    assert bulk.edges()["first_seen"][0] == to_micros(T0 + timedelta(minutes=5))
    assert bulk.edges()["last_seen"][0] == to_micros(T0 + timedelta(minutes=30))


def test_amounts_are_us_cents_and_rounded_like_the_money_module():
    frame = payments((0, "A", "B", 1_234_567, "VND"), (1, "C", "D", 999, "SGD"))
    store = GraphStore.from_transactions(frame)
    assert store.events()["amount"].tolist() == [
        to_usd_cents(1_234_567, "VND"),
        to_usd_cents(999, "SGD"),
    ]


def test_missing_device_and_ip_add_no_edges():
    store = GraphStore.from_transactions(payments((0, "A", "B", 100, "USD")))
    assert store.num_nodes == 2 and store.num_edges == 1
    kinds = set(store.node_types().tolist())
    assert kinds == {NodeType.ACCOUNT}


def test_subnet_prefixes():
    assert subnet_of("203.0.113.77") == "203.0.113.0/24"
    assert subnet_of("2001:db8:1:2:3::9") == "2001:db8:1:2::/64"
    assert subnet_of("not an address") is None


def test_claims_graph_links_claims_through_what_they_share(tiny_world):
    claims = read_table(tiny_world, "claims")
    store = GraphStore.from_claims(claims)
    types = store.node_types()
    assert (types == NodeType.CLAIM).sum() == claims.height
    adj = store.adjacency()
    after = to_micros(claims.get_column("ts").max()) + 1

    # two claims giving the same phone are two hops apart, through the phone node
    shared = (
        claims.group_by("phone")
        .agg(pl.col("claim_id"), pl.len().alias("n"))
        .filter(pl.col("n") > 1)
        .row(0, named=True)
    )
    phone = store.node_id(NodeType.PHONE, shared["phone"])
    linked = {store.key(int(c))[1] for c in adj.neighbors(phone, after)}
    assert set(shared["claim_id"]) <= linked

    claim = store.node_id(NodeType.CLAIM, claims.item(0, "claim_id"))
    kinds = {NodeType(int(types[n])) for n in adj.neighbors(claim, after)}
    assert {NodeType.CLAIMANT, NodeType.PROVIDER, NodeType.PHONE} <= kinds
    relations = set(store.edges()["relation"].tolist())
    assert relations <= {r.value for r in Relation if r >= Relation.FILED_BY}
