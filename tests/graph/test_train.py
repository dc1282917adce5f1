"""Account labels, node features, time splits and node-classification training on the graph."""

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
import torch

from vigil.graph.account_features import (
    NODE_FEATURE_NAMES,
    NodeCounters,
    aggregate_names,
    bad_accounts,
    neighbour_aggregates,
    node_features,
)
from vigil.graph.nn import MODEL_NAMES
from vigil.graph.store import GraphStore, NodeType, to_micros
from vigil.graph.train import (
    GraphData,
    TrainConfig,
    fit,
    fit_lightgbm,
    hindsight_split,
    known_split,
    ranking_metrics,
    score,
    score_lightgbm,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def payments(rows: list[dict]) -> pl.DataFrame:
    """A frame of payments from short dicts; defaults fill the contract's columns."""
    base = {
        "channel": "transfer",
        "currency": "SGD",
        "jurisdiction": "SG",
        "amount": 10_000,
        "device_id": None,
        "ip": None,
        "mcc": None,
        "is_fraud": False,
        "typology": "legit",
        "label_ts": None,
    }
    full = [
        {**base, "txn_id": f"T{i:04d}", "ts": T0 + timedelta(minutes=i), **row}
        for i, row in enumerate(rows)
    ]
    return pl.DataFrame(
        full,
        schema={
            "txn_id": pl.String,
            "ts": pl.Datetime("us", "UTC"),
            "payer_id": pl.String,
            "payee_id": pl.String,
            "amount": pl.Int64,
            "currency": pl.String,
            "channel": pl.String,
            "jurisdiction": pl.String,
            "device_id": pl.String,
            "ip": pl.String,
            "mcc": pl.String,
            "is_fraud": pl.Boolean,
            "typology": pl.String,
            "label_ts": pl.Datetime("us", "UTC"),
        },
    )


# -- labels -----------------------------------------------------------------------------------


def test_bad_accounts_name_the_operators_and_spare_victims_and_merchants():
    known = T0 + timedelta(days=5)
    fraud = {"is_fraud": True, "label_ts": known}
    frame = payments(
        [
            # account takeover: victim V1 drained to mule M1, who cashes out at agent A
            {"payer_id": "V1", "payee_id": "M1", "typology": "account_takeover", **fraud},
            {
                "payer_id": "M1",
                "payee_id": "A",
                "channel": "cash_out",
                "mcc": "6011",
                "typology": "account_takeover",
                **fraud,
            },
            # mule ring: scam victim V2 pays mule M2, who forwards to collector C
            {"payer_id": "V2", "payee_id": "M2", "typology": "mule_ring", **fraud},
            {"payer_id": "M2", "payee_id": "C", "typology": "mule_ring", **fraud},
            # synthetic identity S: funded at agent A, buys at shop X
            {
                "payer_id": "A",
                "payee_id": "S",
                "channel": "cash_in",
                "mcc": "6011",
                "typology": "synthetic_identity",
                **fraud,
            },
            {
                "payer_id": "S",
                "payee_id": "X",
                "channel": "card",
                "mcc": "5732",
                "typology": "synthetic_identity",
                **fraud,
            },
            # first-party fraud and card testing name no bad account
            {"payer_id": "F", "payee_id": "X", "channel": "card", "mcc": "5732", **fraud}
            | {"typology": "first_party"},
            {"payer_id": "V3", "payee_id": "X", "channel": "card", "mcc": "5816", **fraud}
            | {"typology": "card_testing"},
            # laundering: both parties of a transfer
            {"payer_id": "L1", "payee_id": "L2", "typology": "cycle", **fraud},
            {"payer_id": "H", "payee_id": "J"},  # honest
        ]
    )
    bad = bad_accounts(frame)
    assert sorted(bad.get_column("account_id").to_list()) == ["C", "L1", "L2", "M1", "M2", "S"]
    assert (bad.get_column("known_at") == known).all()


def test_in_merchant_collusion_the_shop_and_collector_are_bad_and_the_buyers_victims():
    fraud = {"is_fraud": True, "label_ts": T0 + timedelta(days=5), "typology": "merchant_collusion"}
    frame = payments(
        [
            # the crew checks rented shop R with a purchase at honest shop X
            {"payer_id": "R", "payee_id": "X", "channel": "wallet", "mcc": "5816", **fraud},
            # victims V1 and V2 buy at R, which passes the takings to collector C, who cashes out
            {"payer_id": "V1", "payee_id": "R", "channel": "qr", "mcc": "5816", **fraud},
            {"payer_id": "V2", "payee_id": "R", "channel": "card", "mcc": "5816", **fraud},
            {"payer_id": "R", "payee_id": "C", **fraud},
            {"payer_id": "C", "payee_id": "A", "channel": "cash_out", "mcc": "6011", **fraud},
        ]
    )
    assert sorted(bad_accounts(frame).get_column("account_id").to_list()) == ["C", "R"]


def test_an_account_is_known_bad_from_its_first_label_and_active_from_its_first_bad_payment():
    frame = payments(
        [
            {"payer_id": "V", "payee_id": "M", "typology": "mule_ring", "is_fraud": True}
            | {"label_ts": T0 + timedelta(days=9)},
            {"payer_id": "W", "payee_id": "M", "typology": "mule_ring", "is_fraud": True}
            | {"label_ts": T0 + timedelta(days=4)},
        ]
    )
    row = bad_accounts(frame).row(0, named=True)
    assert row["account_id"] == "M"
    assert row["known_at"] == T0 + timedelta(days=4)
    assert row["active_at"] == T0


def test_without_typologies_payers_of_transfers_count_only_when_they_also_receive_fraud():
    frame = payments(
        [
            {"payer_id": "V", "payee_id": "M", "is_fraud": True},
            {"payer_id": "M", "payee_id": "C", "is_fraud": True},
        ]
    ).drop("typology", "label_ts")
    assert sorted(bad_accounts(frame).get_column("account_id").to_list()) == ["C", "M"]


# -- features ---------------------------------------------------------------------------------


def test_incremental_counters_equal_bulk_features_at_any_moment():
    rng = np.random.default_rng(3)
    rows = [
        {
            "payer_id": f"P{rng.integers(12)}",
            "payee_id": f"P{rng.integers(12)}",
            "amount": int(rng.integers(100, 90_000)),
            "device_id": f"D{rng.integers(5)}" if rng.random() < 0.8 else None,
            "ip": f"10.0.0.{rng.integers(4)}",
        }
        for _ in range(120)
    ]
    frame = payments(rows)
    store = GraphStore.from_transactions(frame)
    online, counters = GraphStore(), NodeCounters()
    from vigil.features.replay import transactions_of

    for i, txn in enumerate(transactions_of(frame)):
        if i in (30, 77, 119):
            now = to_micros(txn.ts)
            expected = node_features(store, now)[: online.num_nodes]
            got = counters.features(np.arange(online.num_nodes), now)
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
        nodes, edges, events = online.num_nodes, online.num_edges, online._event_edge.size
        online.add_transaction(txn)
        counters.grow(online.node_types()[nodes:], to_micros(txn.ts))
        e = online.edges()
        for edge in range(edges, online.num_edges):
            counters.new_edge(int(e["src"][edge]), int(e["dst"][edge]), int(e["relation"][edge]))
        ev = online.events()
        for i_ev in range(events, online._event_edge.size):
            edge = ev["edge"][i_ev]
            counters.event(
                int(e["src"][edge]),
                int(e["dst"][edge]),
                int(e["relation"][edge]),
                ev["amount"][i_ev],
            )


def test_node_features_count_only_what_came_before_the_moment():
    frame = payments(
        [
            {"payer_id": "A", "payee_id": "B", "device_id": "D", "amount": 5_000},
            {"payer_id": "A", "payee_id": "C", "device_id": "D", "amount": 7_000},
        ]
    )
    store = GraphStore.from_transactions(frame)
    a = store.node_id(NodeType.ACCOUNT, "A")
    column = {name: i for i, name in enumerate(NODE_FEATURE_NAMES)}
    at_second = node_features(store, to_micros(T0 + timedelta(minutes=1)))
    assert at_second[a, column["log1p_out_pays"]] == pytest.approx(np.log1p(1))
    assert at_second[a, column["log1p_payments_out"]] == pytest.approx(np.log1p(1))
    assert at_second[a, column["is_account"]] == 1.0
    later = node_features(store, to_micros(T0 + timedelta(hours=1)))
    assert later[a, column["log1p_out_pays"]] == pytest.approx(np.log1p(2))
    assert later[a, column["log1p_out_uses_device"]] == pytest.approx(np.log1p(1))


def test_neighbour_aggregates_hold_own_one_hop_and_two_hop_means():
    frame = payments([{"payer_id": "A", "payee_id": "B"}, {"payer_id": "B", "payee_id": "C"}])
    store = GraphStore.from_transactions(frame)
    now = to_micros(T0 + timedelta(hours=1))
    x = node_features(store, now)
    agg = neighbour_aggregates(store, x, now)
    assert agg.shape == (store.num_nodes, len(aggregate_names()))
    a, b = store.node_id(NodeType.ACCOUNT, "A"), store.node_id(NodeType.ACCOUNT, "B")
    width = len(NODE_FEATURE_NAMES)
    np.testing.assert_allclose(agg[a, width : 2 * width], x[b], atol=1e-6)


# -- splits and training ----------------------------------------------------------------------


def ring_world(rings: int = 12, honest: int = 160, seed: int = 0) -> pl.DataFrame:
    """Accounts whose own features are alike: each buys once at a shop, half of them at
    ``T0`` and half four days later. Ring members share one phone per ring (the first cohort's
    rings are confirmed on day 2, the second's on day 6); honest accounts have their own phone,
    or share a family tablet in pairs."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(rings):
        later = r % 2
        for m in range(4):
            rows.append(
                {
                    "ts": T0 + timedelta(days=4 * later),
                    "payer_id": f"R{r}_{m}",
                    "payee_id": f"S{rng.integers(10)}",
                    "device_id": f"ring{r}",
                    "is_fraud": True,
                    "typology": "cycle",
                    "label_ts": T0 + timedelta(days=2 + 4 * later),
                }
            )
    for h in range(honest):
        rows.append(
            {
                "ts": T0 + timedelta(days=4 * (h % 2)),
                "payer_id": f"H{h}",
                "payee_id": f"S{rng.integers(10)}",
                "device_id": f"own{h}" if h % 10 > 1 else f"family{h // 10}",
            }
        )
    rows = [rows[i] | {"channel": "card", "mcc": "5411"} for i in rng.permutation(len(rows))]
    return payments(rows).sort("ts", maintain_order=True)


def test_splits_follow_what_was_known_when():
    frame = ring_world()
    store = GraphStore.from_transactions(frame)
    bad = bad_accounts(frame)
    t1, t2 = T0 + timedelta(days=3), T0 + timedelta(days=7)
    shops = frame.get_column("payee_id").n_unique()
    train = known_split(store, bad, t1)
    assert (train.positives, len(train.nodes)) == (24, 24 + 80 + shops)  # the first cohort
    valid = known_split(store, bad, t2, since=t1)
    # the second cohort's rings, newly known, and every honest account and shop
    assert (valid.positives, len(valid.nodes)) == (24, 24 + 160 + shops)
    test = hindsight_split(store, bad, t2, since=t1)
    assert (test.positives, len(test.nodes)) == (24, 24 + 160 + shops)


def test_ranking_metrics_read_recall_above_the_negatives_quantile():
    labels = np.array([0] * 200 + [1] * 4)
    scores = np.concatenate([np.linspace(0, 0.5, 200), [0.9, 0.8, 0.4, 0.3]])
    m = ranking_metrics(labels, scores)
    assert m["positives"] == 4
    assert m["recall"] == 0.5
    assert 0 < m["auprc"] < 1


def ring_task():
    frame = ring_world()
    store = GraphStore.from_transactions(frame)
    bad = bad_accounts(frame)
    t1, t2 = T0 + timedelta(days=3), T0 + timedelta(days=7)
    return store, known_split(store, bad, t1), hindsight_split(store, bad, t2, since=t1)


def test_geniepath_learns_a_ring_only_the_graph_shows():
    store, train, test = ring_task()
    data = GraphData(store, (10, 5))
    result = fit(data, train, None, TrainConfig(epochs=10, batch_size=32, lr=0.02, seed=1))
    assert ranking_metrics(test.labels, score(data, result.model, test))["auprc"] > 0.9
    # the accounts' own features cannot tell ring members from honest accounts
    x = node_features(store, test.as_of)[test.nodes]
    members, honest = x[test.labels > 0], x[test.labels == 0]
    assert all(any((row == other).all() for other in honest) for row in members)


def test_the_same_seed_trains_the_same_weights():
    store, train, _ = ring_task()
    data = GraphData(store, (10, 5))
    config = TrainConfig(epochs=2, batch_size=32, seed=4)
    first, again = fit(data, train, None, config), fit(data, train, None, config)
    pairs = zip(first.model.state_dict().items(), again.model.state_dict().values(), strict=True)
    for (name, a), b in pairs:
        assert torch.equal(a, b), name


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_trains_on_sampled_trees_and_scores_each_seed(name):
    frame = ring_world(rings=4, honest=40)
    store = GraphStore.from_transactions(frame)
    bad = bad_accounts(frame)
    data = GraphData(store, (5, 3))
    train = known_split(store, bad, T0 + timedelta(days=3))
    valid = known_split(store, bad, T0 + timedelta(days=7), since=T0 + timedelta(days=3))
    result = fit(data, train, valid, TrainConfig(model=name, epochs=2, patience=2))
    assert len(result.epochs) == 2 and result.epochs[0].valid_auprc is not None
    scores = score(data, result.model, valid)
    assert scores.shape == (len(valid.nodes),) and ((scores >= 0) & (scores <= 1)).all()


def test_lightgbm_on_neighbour_aggregates_sees_the_ring_too():
    store, train, test = ring_task()
    result = fit_lightgbm(store, train, rounds=60)
    assert ranking_metrics(test.labels, score_lightgbm(store, result, test))["auprc"] > 0.9


def test_training_without_a_known_positive_says_so():
    frame = ring_world(rings=2, honest=20)
    store = GraphStore.from_transactions(frame)
    train = known_split(store, bad_accounts(frame), T0 + timedelta(hours=1))
    result = fit(GraphData(store, (5, 3)), train, None, TrainConfig(epochs=1))
    assert "no positive" in result.note and not result.epochs
