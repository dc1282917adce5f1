"""The graph feature block: point in time, ring signals, on-the-fly scores equal to the bulk
path, online == offline replay, snapshot/restore mid-stream, save/load."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from vigil.engine.pipeline import Budgets, Engine
from vigil.features.replay import (
    compute_features,
    merged_stream,
    sorted_transactions,
    transactions_of,
    world_features,
)
from vigil.graph import block as block_module
from vigil.graph.account_features import node_features
from vigil.graph.block import (
    INFERRED,
    MISSING,
    PRECOMPUTED,
    BlockConfig,
    GraphBlock,
    GraphError,
    NumpyGeniePath,
    model_module,
)
from vigil.graph.embeddings import EmbeddingConfig
from vigil.graph.nn import build_model
from vigil.graph.sampler import EDGE_ATTR_NAMES, NeighborSampler
from vigil.graph.store import GraphStore, to_micros
from vigil.graph.train import TrainConfig, new_model
from vigil.rules.pack import PACKS_DIR, context_names
from vigil.rules.registry import RuleRegistry
from vigil.schema.records import Transaction

#: a short fit: these tests check the mechanics, not how well GeniePath learns
QUICK = BlockConfig(
    train=TrainConfig(epochs=2, batch_size=128),
    embedding=EmbeddingConfig(dim=8, walks_per_node=1, walk_length=8),
    embedding_dims=2,
)
T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


#: the block is fitted on the first four days of the tiny world and walks its first six
FIT_UNTIL = datetime(2026, 1, 5, tzinfo=UTC)
WALK_UNTIL = datetime(2026, 1, 7, tzinfo=UTC)


@pytest.fixture(scope="module")
def world_frame(tiny_world) -> pl.DataFrame:
    return sorted_transactions(tiny_world).filter(pl.col("ts") < WALK_UNTIL)


@pytest.fixture(scope="module")
def saved_block(world_frame, tmp_path_factory) -> Path:
    torch.set_num_threads(1)
    block = GraphBlock.fit(world_frame.filter(pl.col("ts") < FIT_UNTIL), seed=2, config=QUICK)
    folder = tmp_path_factory.mktemp("graph-block")
    block.save(folder)
    return folder


def walk(block: GraphBlock, frame: pl.DataFrame, labels=None) -> np.ndarray:
    """The block alone over a frame, labels released as the replay releases them."""
    rows = []
    for txn, label in merged_stream(frame, labels):
        if txn is None:
            block.observe_label(*label)
        else:
            rows.append(block.process(txn))
    return np.asarray(rows, dtype=np.float64)


def column(block: GraphBlock, values: np.ndarray, name: str) -> np.ndarray:
    return values[:, block.names.index(name)]


# -- online == offline ------------------------------------------------------------------------


def test_two_replays_through_the_feature_engine_give_identical_vectors(
    tiny_world, world_frame, saved_block
):
    frame = world_frame
    first = compute_features(
        frame, world_features(tiny_world, blocks=[GraphBlock.load(saved_block)])
    )
    again = compute_features(
        frame, world_features(tiny_world, blocks=[GraphBlock.load(saved_block)])
    )
    np.testing.assert_array_equal(first, again)  # NaN where NaN, bit for bit elsewhere
    block = GraphBlock.load(saved_block)
    names = world_features(tiny_world, blocks=[block]).names
    graph = first[:, [names.index(n) for n in block.names]]
    sources = graph[:, block.names.index("graph_payee_score_source")]
    # the check has teeth: every kind of value occurs on this world
    assert {PRECOMPUTED, INFERRED, MISSING} <= set(sources.tolist())
    assert np.nanmax(graph[:, block.names.index("graph_payer_device_peers")]) > 0
    assert np.isfinite(graph[:, block.names.index("graph_cosine")]).any()


def test_snapshot_and_restore_mid_stream_continue_exactly(world_frame, saved_block, tmp_path):
    whole = walk(GraphBlock.load(saved_block), world_frame)
    cut = world_frame.height * 2 // 3
    head, tail = world_frame.head(cut), world_frame.slice(cut)
    first = GraphBlock.load(saved_block)
    part = walk(first, head)
    first.snapshot(tmp_path / "graph.snapshot")
    second = GraphBlock.load(saved_block)
    second.restore(tmp_path / "graph.snapshot")
    last_seen = head.get_column("ts").max()
    from vigil.features.replay import label_events

    pending = [e for e in label_events(world_frame) if e[0] >= last_seen]
    rest = walk(second, tail, pending)
    np.testing.assert_array_equal(np.vstack([part, rest]), whole)


def test_restore_refuses_another_models_snapshot(saved_block, tmp_path):
    block = GraphBlock.load(saved_block)
    block.snapshot(tmp_path / "graph.snapshot")
    other = GraphBlock(
        QUICK, block.weights, {**block.scores, "P-extra": 0.5}, block.fitted_at, block.embeddings
    )
    with pytest.raises(GraphError, match="snapshot was written by"):
        other.restore(tmp_path / "graph.snapshot")


def test_save_and_load_keep_the_fingerprint_and_every_value(saved_block, tmp_path, world_frame):
    block = GraphBlock.load(saved_block)
    block.save(tmp_path / "again")
    copy = GraphBlock.load(tmp_path / "again")
    assert copy.fingerprint == block.fingerprint and copy.names == block.names
    frame = world_frame.slice(world_frame.height - 600)
    np.testing.assert_array_equal(walk(block, frame), walk(copy, frame))
    scores = pl.read_parquet(tmp_path / "again" / "scores.parquet")
    scores.with_columns(score=pl.col("score") * 0.5).write_parquet(
        tmp_path / "again" / "scores.parquet"
    )
    with pytest.raises(GraphError, match="files hash to"):
        GraphBlock.load(tmp_path / "again")


def test_learnt_values_are_missing_before_the_fit_moment(saved_block, world_frame):
    block = GraphBlock.load(saved_block)
    values = walk(block, world_frame)
    before = (world_frame.get_column("ts").dt.epoch("us") < block.fitted_at).to_numpy()
    for name in ("graph_payer_score", "graph_payee_score", "graph_cosine", "graph_payer_emb_0"):
        assert np.isnan(column(block, values, name)[before]).all(), name
    assert (column(block, values, "graph_payer_score_source")[before] == MISSING).all()
    # the ring signals need no model and are there from the first payment
    assert np.isfinite(column(block, values, "graph_payer_device_peers")).all()


# -- on-the-fly inference ---------------------------------------------------------------------


def test_on_the_fly_scores_equal_the_bulk_sampler_and_torch_model(saved_block, world_frame):
    block = GraphBlock.load(saved_block)
    cut = world_frame.height // 2
    for txn in transactions_of(world_frame.head(cut)):
        block.process(txn)
    now = to_micros(world_frame.get_column("ts")[cut]) + 1
    block._flush()
    bulk = GraphStore.from_transactions(world_frame.head(cut))
    x = torch.from_numpy(node_features(bulk, now))
    sampler = NeighborSampler(bulk.adjacency(), block.config.train.fanouts, strategy="recent")
    model = model_module(block.config, block.weights)
    rng = np.random.default_rng(0)
    for seed in range(0, bulk.num_nodes, max(1, bulk.num_nodes // 25)):
        sub = sampler.sample(np.array([seed]), np.array([now]), rng)
        n_id, _, _, edges, _ = block.sample(seed)
        assert sorted(n_id.tolist()) == sorted(sub.n_id.tolist())
        assert sorted(edges.tolist()) == sorted(sub.e_id.tolist())
        with torch.inference_mode():
            expected = torch.sigmoid(model(x[sub.n_id], sub.edge_index, sub.edge_attr)[0]).item()
        assert block.infer(seed, now) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("name", ["geniepath", "geniepath_lazy"])
def test_numpy_geniepath_equals_the_torch_model(name):
    torch.manual_seed(0)
    model = build_model(name, 23, 16, 1, edge_dim=len(EDGE_ATTR_NAMES)).eval()
    weights = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    x = torch.randn(30, 23)
    edge_index = torch.randint(0, 30, (2, 70))
    edge_attr = torch.rand(70, len(EDGE_ATTR_NAMES))
    with torch.inference_mode():
        expected = model(x, edge_index, edge_attr).squeeze(-1).numpy()
    net = NumpyGeniePath(weights, lazy=name == "geniepath_lazy")
    source, target = edge_index[0].numpy(), edge_index[1].numpy()
    got = [net.logit(x.numpy(), source, target, edge_attr.numpy(), node) for node in range(30)]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_a_spent_live_budget_leaves_inferences_out_counted_and_degraded(saved_block, world_frame):
    block = GraphBlock.load(saved_block)
    block.scores = {}  # every account must be inferred
    block.live(0)
    degraded = []
    for txn in transactions_of(world_frame):
        block.process(txn)
        degraded.append(block.degraded)
    assert block.latency()["inferred"] == 0
    assert block.skipped > 0 and any(degraded)
    block.live(None)  # a batch again: every inference runs, nothing is degraded
    block.process(next(transactions_of(world_frame.tail(1))))
    assert not block.degraded


class SteppingClock:
    """A ``time`` whose ``perf_counter_ns`` moves 1 ms a call, so that every step is slow."""

    def __init__(self):
        self.now = 0

    def perf_counter_ns(self) -> int:
        self.now += 1_000_000
        return self.now


def test_an_inference_past_the_live_budget_is_kept_and_the_next_left_out(
    saved_block, world_frame, monkeypatch
):
    """The budget is kept at the inferences' boundaries, as the engine keeps its layers'."""
    block = GraphBlock.load(saved_block)
    block.scores = {}  # every account must be inferred
    head = world_frame.filter(pl.col("ts") < FIT_UNTIL)  # learnt values start at the fit
    walk(block, head)
    known = {row["payer_id"] for row in head.iter_rows(named=True)}
    txn = next(
        t
        for t in transactions_of(world_frame.filter(pl.col("ts") >= FIT_UNTIL))
        if t.payer_id in known and t.payee_id in known and t.payer_id != t.payee_id
    )
    monkeypatch.setattr(block_module, "time", SteppingClock())
    block.live(2_500)  # the payer's inference starts 1 ms in, ends 4 ms in: past the budget
    values = dict(zip(block.names, block.process(txn), strict=True))
    assert values["graph_payer_score_source"] == INFERRED
    assert values["graph_payer_score"] == values["graph_payer_score"]  # kept, not NaN
    assert values["graph_payee_score_source"] == MISSING  # no budget left for the payee
    assert block.degraded and block.skipped == 1 and block.inferred == 1


def test_live_decisions_short_of_graph_values_are_degraded_and_batches_never(
    tiny_world, saved_block, world_frame
):
    def engine(blocks_us: int) -> Engine:
        block = GraphBlock.load(saved_block)
        block.scores = {}  # every account must be inferred
        budgets = Budgets(rules_us=10**9, model_us=10**9, deadline_us=10**10, blocks_us=blocks_us)
        features = world_features(tiny_world, blocks=[block])
        return Engine(features, RuleRegistry(PACKS_DIR, context_names()), None, budgets=budgets)

    txns = list(transactions_of(world_frame))
    batch = engine(0).decide_batch(txns)
    hurried = engine(0)
    live = [hurried.decide(t) for t in txns]
    assert not any(d.degraded for d in batch)
    assert any(d.degraded for d in live)
    assert hurried.features.blocks[0].skipped > 0


def test_with_time_to_spare_live_vectors_equal_the_batch_ones(tiny_world, saved_block, world_frame):
    def features(budget_us: int | None):
        block = GraphBlock.load(saved_block)
        block.scores = {}  # every account must be inferred
        online = world_features(tiny_world, blocks=[block])
        online.live(budget_us)
        return online

    spare, batch = features(10**9), features(None)
    for txn in transactions_of(world_frame):
        np.testing.assert_array_equal(spare.process(txn), batch.process(txn))
        assert not spare.blocks_degraded
    assert spare.blocks[0].inferred > 0


def test_a_negative_live_budget_is_refused(saved_block):
    with pytest.raises(GraphError, match="budget_us"):
        GraphBlock.load(saved_block).live(-1)


# -- ring signals on a hand-built stream ------------------------------------------------------


def bare_block(**settings) -> GraphBlock:
    """A block with an untrained model, nothing precomputed and no embeddings."""
    config = BlockConfig(train=TrainConfig(), embedding=None, **settings)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        weights = {k: v.detach().numpy() for k, v in new_model(config.train).state_dict().items()}
    return GraphBlock(config, weights, {}, fitted_at=0)


def pay(minute: float, payer: str, payee: str, device: str | None = None, txn_id: str = ""):
    return Transaction(
        txn_id=txn_id or f"T{payer}{payee}{minute}",
        ts=T0 + timedelta(minutes=minute),
        payer_id=payer,
        payee_id=payee,
        amount=5_000,
        currency="SGD",
        channel="transfer",
        jurisdiction="SG",
        device_id=device,
    )


def read(block: GraphBlock, txn: Transaction) -> dict[str, float]:
    return dict(zip(block.names, block.process(txn), strict=True))


def test_ring_signals_count_peers_and_known_fraud_two_hops_away():
    block = bare_block()
    read(block, pay(0, "M1", "X", "phone"))
    read(block, pay(1, "M2", "Y", "phone"))
    read(block, pay(2, "V", "M1", "victims-phone", txn_id="scam"))
    block.observe_label("scam", True)  # V paid M1 in a scam: M1 received fraud
    m2 = read(block, pay(3, "M2", "Z", "phone"))
    assert m2["graph_payer_device_peers"] == 1  # M1 used the phone too
    assert m2["graph_payer_fraud_receivers"] == 1  # ... and received fraud
    assert m2["graph_payer_link_fraud"] == 0  # the scam was paid from the victim's phone
    w = read(block, pay(4, "W", "M2", "w-phone"))
    assert w["graph_payee_device_peers"] == 1 and w["graph_payee_fraud_receivers"] == 1
    assert w["graph_payer_device_peers"] == 0
    m1 = read(block, pay(5, "M1", "Q", "new-phone"))
    assert m1["graph_payer_received_fraud"] == 1
    assert m1["graph_payer_fraud_receivers"] == 0  # itself is not its own peer
    assert m1["graph_payer_device_peers"] == 1  # M2 on the old phone; the new one is empty
    v = read(block, pay(6, "V", "M1", "victims-phone"))
    assert v["graph_payer_fraud_senders"] == 0 and v["graph_payer_link_fraud"] == 1
    assert v["graph_shared_links"] == 0


def test_the_session_device_counts_for_the_payer_before_its_first_use():
    block = bare_block()
    read(block, pay(0, "A", "X", "tablet"))
    read(block, pay(1, "B", "X", "tablet"))
    first_use = read(block, pay(2, "C", "X", "tablet"))
    assert first_use["graph_payer_device_peers"] == 2
    shared = read(block, pay(3, "A", "B", "tablet"))
    assert shared["graph_shared_links"] == 1


def test_hubs_are_left_out_of_every_sum():
    block = bare_block(hub_cap=3)
    for i in range(4):
        read(block, pay(i, f"A{i}", "X", "agent-terminal"))
    hub = read(block, pay(10, "A0", "X", "agent-terminal"))
    assert hub["graph_payer_device_peers"] == 0
    small = bare_block(hub_cap=4)
    for i in range(4):
        read(small, pay(i, f"A{i}", "X", "agent-terminal"))
    assert read(small, pay(10, "A0", "X", "agent-terminal"))["graph_payer_device_peers"] == 3


def test_payments_at_one_instant_do_not_see_each_other():
    block = bare_block()
    read(block, pay(0, "A", "X", "tablet"))
    same = read(block, pay(1, "B", "X", "tablet", txn_id="one"))
    tied = read(block, pay(1, "C", "X", "tablet", txn_id="two"))
    assert same["graph_payer_device_peers"] == tied["graph_payer_device_peers"] == 1
    later = read(block, pay(2, "D", "X", "tablet"))
    assert later["graph_payer_device_peers"] == 3


def test_an_account_first_seen_now_has_no_score_and_a_known_one_is_inferred():
    block = bare_block()
    first = read(block, pay(0, "A", "B", "phone"))
    assert first["graph_payer_score_source"] == MISSING and np.isnan(first["graph_payer_score"])
    second = read(block, pay(1, "A", "C", "phone"))
    assert second["graph_payer_score_source"] == INFERRED
    assert 0 < second["graph_payer_score"] < 1
    block.scores["A"] = 0.75
    assert read(block, pay(2, "A", "C"))["graph_payer_score"] == 0.75
