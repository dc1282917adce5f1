"""Window aggregates, novelty, distinct counts, labels in time, bounded memory, snapshots."""

import math
import pickle
from datetime import UTC, datetime, timedelta

import pytest

from vigil.features import OnlineFeatures
from vigil.features.state import Window
from vigil.features.stores.memory import MemoryStateStore, SnapshotError
from vigil.schema import Transaction

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def txn(i: int, seconds: float, payer="p1", payee="m1", amount=1_000, device="d1", ip="10.0.0.1"):
    return Transaction(
        f"t{i}",
        T0 + timedelta(seconds=seconds),
        payer,
        payee,
        amount,
        "USD",
        "card",
        "SG",
        "SG",
        "SG",
        device,
        ip,
        "5411",
    )


def features(engine: OnlineFeatures, t: Transaction) -> dict[str, float]:
    return dict(zip(engine.names, engine.process(t), strict=True))


def test_counts_sums_and_expiry_over_windows():
    engine = OnlineFeatures()
    for i in range(5):
        features(engine, txn(i, i * 5, amount=1_000 * (i + 1)))  # $10 .. $50 in 25 s
    f = features(engine, txn(5, 30))
    assert f["payer_count_1m"] == 5
    assert f["payer_sum_1m"] == pytest.approx(150.0)
    assert f["payer_max_1h"] == pytest.approx(50.0)
    later = features(engine, txn(6, 30 + 3 * 60))  # three minutes on: the 1 m window is empty
    assert later["payer_count_1m"] == 0
    assert later["payer_count_1h"] == 6
    assert later["payer_secs_since_last"] == 180


def test_features_read_state_before_the_event():
    engine = OnlineFeatures()
    first = features(engine, txn(0, 0))
    assert first["payer_count_24h"] == 0
    assert first["payer_new_device"] == 1 and first["payer_new_payee"] == 1
    assert math.isnan(first["payer_amount_ratio"])
    second = features(engine, txn(1, 60))
    assert second["payer_new_device"] == 0 and second["payer_events"] == 1


def test_shared_device_and_fan_in():
    engine = OnlineFeatures()
    for i in range(6):
        features(engine, txn(i, i * 60, payer=f"mule{i}", payee="collector", device="dX"))
    f = features(engine, txn(9, 600, payer="mule9", payee="collector", device="dX"))
    assert f["device_distinct_payer_24h"] == 6
    assert f["payee_distinct_payer_1h"] == 6


def test_missing_device_gives_missing_features_not_zero():
    engine = OnlineFeatures()
    f = features(engine, txn(0, 0, device=None))
    assert math.isnan(f["device_count_1h"]) and math.isnan(f["payer_new_device"])
    assert f["has_device"] == 0


def test_label_counts_only_after_it_is_known():
    engine = OnlineFeatures()
    features(engine, txn(0, 0, payer="victim", payee="mule"))
    assert features(engine, txn(1, 60, payer="other", payee="mule"))["payee_fraud_labels"] == 0
    assert engine.observe_label("t0", True)
    assert features(engine, txn(2, 120, payer="third", payee="mule"))["payee_fraud_labels"] == 1
    assert not engine.observe_label("never-seen", True)


def test_pass_through_ratio_reads_the_payers_inflow():
    engine = OnlineFeatures()
    features(engine, txn(0, 0, payer="source", payee="mule", amount=100_000))
    f = features(engine, txn(1, 600, payer="mule", payee="sink", amount=95_000))
    assert f["payer_in_sum_24h"] == pytest.approx(1_000.0)
    assert f["payer_in_ratio_24h"] == pytest.approx(0.95)


def test_window_memory_is_bounded_for_a_busy_merchant():
    window = Window(span=86_400, step=7_200)
    for second in range(0, 30 * 86_400, 37):
        window.expire(second)
        window.add(second, 100)
    assert len(window.buckets) <= 13
    engine = OnlineFeatures()
    for i in range(500):
        features(engine, txn(i, i, payer=f"c{i}", payee="big-merchant"))
    flow = engine.store.get_many(["acct:big-merchant:in"])[0]
    assert len(flow.seen["payer_id"].last) == engine.spec.seen_cap


def test_window_keeps_out_of_order_buckets_beyond_its_ring():
    """Late events open buckets out of order; the C ring grows instead of dropping any."""
    window = Window(span=60, step=5)
    times = [400 - 5 * i for i in range(40)]  # each earlier than the last: 40 buckets
    for i, second in enumerate(times):
        window.add(second, 10 + i)
    assert [b[0] for b in window.buckets] == times
    assert (window.count, window.total, window.peak) == (40, sum(range(10, 50)), 49)
    copy = pickle.loads(pickle.dumps(window))
    assert copy.buckets == window.buckets
    assert (copy.count, copy.total, copy.peak) == (40, sum(range(10, 50)), 49)
    window.expire(1_000)
    assert (window.buckets, window.count, window.total, window.peak) == ([], 0, 0, 0)


def test_window_buckets_before_the_epoch_start_on_their_step():
    window = Window(span=60, step=5)
    window.add(-3, 7)  # Python's floor modulo: the bucket of -3 starts at -5, not 0
    assert window.buckets == [[-5, 1, 7, 7]]


def test_snapshot_of_an_older_format_is_refused_with_the_remedy(tmp_path):
    path = tmp_path / "state"
    path.write_bytes(pickle.dumps({"format": 1, "fingerprint": "x", "flows": {}, "txns": {}}))
    with pytest.raises(SnapshotError, match="retrain"):
        MemoryStateStore().restore(path, "x")


def test_snapshot_restore_continues_identically(tmp_path):
    a = OnlineFeatures()
    for i in range(50):
        features(a, txn(i, i * 90, payer=f"p{i % 7}", payee=f"m{i % 3}"))
    a.store.snapshot(tmp_path / "state", a.fingerprint)
    b = OnlineFeatures()
    b.store.restore(tmp_path / "state", b.fingerprint)
    for i in range(50, 80):
        t = txn(i, i * 90, payer=f"p{i % 7}", payee=f"m{i % 3}")
        assert a.process(t) == pytest.approx(b.process(t), nan_ok=True)
    with pytest.raises(SnapshotError, match="feature spec"):
        MemoryStateStore().restore(tmp_path / "state", "another-spec")


def test_idle_entities_are_evicted():
    engine = OnlineFeatures()
    features(engine, txn(0, 0, payer="gone"))
    features(engine, txn(1, 40 * 86_400, payer="here"))
    removed = engine.store.evict_idle(int((T0 + timedelta(days=40)).timestamp()), 35 * 86_400)
    assert removed > 0
    assert engine.store.get_many(["acct:gone:out"])[0] is None
    assert engine.store.get_many(["acct:here:out"])[0] is not None


def test_a_walk_split_by_roles_adds_up_to_the_whole_vector():
    whole = OnlineFeatures()
    first = OnlineFeatures(roles=("payer", "payee", "payer_in", "pair"))
    second = OnlineFeatures(roles=("device", "ip"))
    for i in range(30):
        t = txn(i, i * 45, payer=f"p{i % 4}", payee=f"m{i % 3}", amount=500 + 37 * i)
        expected = whole.process(t)
        partial = first.process(t, context=False)
        assert math.isnan(partial[first.names.index("amount_usd")])
        assert math.isnan(partial[first.names.index("device_count_24h")])
        second.process(t, into=partial)
        assert partial == pytest.approx(expected, nan_ok=True)
        if i % 7 == 3:  # labels credit each half's own flows
            for engine in (whole, first, second):
                engine.observe_label(t.txn_id, True)


def test_unknown_roles_are_refused():
    with pytest.raises(ValueError, match="unknown roles"):
        OnlineFeatures(roles=("payer", "merchant"))
