"""One contract for every state store: the embedded dict and Redis compute the same features."""

import numpy as np
import pytest

from vigil.features.online import OnlineFeatures
from vigil.features.replay import sorted_transactions, transactions_of
from vigil.features.state import Flow
from vigil.features.stores import MemoryStateStore, StoreUnavailable, TxnKeys
from vigil.features.stores.memory import SnapshotError
from vigil.features.stores.redis_store import RedisStateStore

WINDOWS = {"1h": (3_600, 60), "24h": (86_400, 1_440)}


@pytest.fixture(params=["memory", "redis"])
def make_store(request, namespace):
    """A factory: stores made by one test share their state (one namespace, one server)."""
    made: list[RedisStateStore] = []
    if request.param == "memory":
        shared = MemoryStateStore()
        yield lambda: shared
        return
    url = request.getfixturevalue("redis_url")

    def make() -> RedisStateStore:
        made.append(RedisStateStore(url, namespace=namespace))
        return made[-1]

    yield make
    if made:
        made[0].clear()
    for store in made:
        store.close()


def _flow(events: int) -> Flow:
    flow = Flow(WINDOWS, ("payee_id",), cap=4)
    for i in range(events):
        flow.record(1_000 + 97 * i, 1_234 + i, {"payee_id": f"m{i % 6}"})
    return flow


def test_unknown_and_none_keys_read_as_none(make_store):
    assert make_store().get_many(["acct:nobody:out", None]) == [None, None]


def test_flows_come_back_bit_for_bit(make_store):
    store = make_store()
    store.get_many(["acct:a:out"])
    assert store.put_many({"acct:a:out": _flow(50)}, "t1", TxnKeys(7, "a", "b", None, "1.2.3.4"))
    (back,) = store.get_many(["acct:a:out"])
    expected = _flow(50)
    assert back.events == expected.events and back.total == expected.total
    assert back.log_mean == expected.log_mean and back.log_m2 == expected.log_m2
    assert list(back.windows["1h"].buckets) == list(expected.windows["1h"].buckets)
    assert back.seen["payee_id"].last == expected.seen["payee_id"].last  # capped, in order
    assert store.recall("t1") == TxnKeys(7, "a", "b", None, "1.2.3.4")
    assert store.recall("t2") is None


def test_online_features_are_identical_on_every_store(make_store, tiny_world):
    rows = sorted_transactions(tiny_world).head(600)
    reference = OnlineFeatures()
    shared = OnlineFeatures(store=make_store())
    expected, got = [], []
    for i, txn in enumerate(transactions_of(rows)):
        expected.append(reference.process(txn))
        got.append(shared.process(txn))
        if i % 50 == 49:  # labels move the fraud-label features too
            assert reference.observe_label(txn.txn_id, True)
            assert shared.observe_label(txn.txn_id, True)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))
    assert not shared.state_missing


def test_a_write_over_a_changed_flow_is_refused(redis_url, namespace):
    """Only a shared store has a second writer; the embedded one is a dict in one process."""
    first = RedisStateStore(redis_url, namespace=namespace)
    second = RedisStateStore(redis_url, namespace=namespace)
    first.get_many(["acct:m:in"])
    second.get_many(["acct:m:in"])
    assert second.put_many({"acct:m:in": _flow(3)})
    assert not first.put_many({"acct:m:in": _flow(1)})  # would have lost second's update
    assert first.get_many(["acct:m:in"])[0].events == 3
    assert first.put_many({"acct:m:in": _flow(4)})
    first.clear()


def test_two_feature_engines_sharing_redis_lose_no_update(make_store, tiny_world):
    """Interleaved payments through two engines count like one engine over the same store."""
    rows = sorted_transactions(tiny_world).head(300)
    one, two = OnlineFeatures(store=make_store()), OnlineFeatures(store=make_store())
    reference = OnlineFeatures()
    for i, txn in enumerate(transactions_of(rows)):
        expected = reference.process(txn)
        got = (one if i % 2 else two).process(txn)
        np.testing.assert_array_equal(got, expected)


def test_snapshot_restores_the_same_state(make_store, tiny_world, tmp_path):
    rows = list(transactions_of(sorted_transactions(tiny_world).head(200)))
    features = OnlineFeatures(store=make_store())
    for txn in rows[:150]:
        features.process(txn)
    features.store.snapshot(tmp_path / "state", "spec-1")
    after = [features.process(txn) for txn in rows[150:]]
    features.store.restore(tmp_path / "state", "spec-1")
    np.testing.assert_array_equal([features.process(txn) for txn in rows[150:]], after)
    with pytest.raises(SnapshotError, match="spec-1"):
        features.store.restore(tmp_path / "state", "another-spec")


def test_redis_keys_expire(redis_url, namespace):
    store = RedisStateStore(redis_url, namespace=namespace, ttl_seconds=120)
    try:
        store.get_many(["acct:a:out"])
        store.put_many({"acct:a:out": _flow(2)}, "t1", TxnKeys(1, "a", "b", None, None))
        for key in (f"{namespace}:f:acct:a:out", f"{namespace}:t:t1"):
            assert 0 < store._bulk.ttl(key) <= 120
        assert store.memory_per_flow() > 0
    finally:
        store.clear()


def test_an_unreachable_redis_degrades_the_payment_instead_of_failing(tiny_world):
    store = RedisStateStore("redis://127.0.0.1:1/0", timeout_seconds=0.05)
    with pytest.raises(StoreUnavailable):
        store.get_many(["acct:a:out"])
    features = OnlineFeatures(store=store)
    txn = next(transactions_of(sorted_transactions(tiny_world).head(1)))
    vector = features.process(txn)
    assert features.state_missing
    assert np.isnan(vector[features.names.index("payer_count_24h")])
    assert not np.isnan(vector[features.names.index("amount_usd")])  # context still known
