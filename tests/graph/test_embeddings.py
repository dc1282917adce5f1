"""DeepWalk embeddings: communities come out close, newcomers land near their neighbours, files
round-trip, and nothing is learnt from edges after the training moment.

Speed, one thread on the shared 2-core VM (not run here; a test must stay under 5 s), defaults
(32 dimensions, 3 walks of 20 per node, window 4): a 20,000-node planted-partition graph
(100 communities, 176k edges, 8.4M training pairs) trains in 13 s; the 20,036-node graph of a
6,000-account x 30-day world (107k edges) in 11-13 s.
"""

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
import torch

from vigil.graph.embeddings import (
    EmbeddingConfig,
    Embeddings,
    Source,
    random_walks,
    train_embeddings,
)
from vigil.graph.store import GraphStore, NodeType, to_micros
from vigil.schema.records import Transaction

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CUTOFF = T0 + timedelta(days=6)
COMMUNITIES, SIZE = 6, 40


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def planted_partition(seed: int = 0) -> pl.DataFrame:
    """Six communities of 40 accounts: 8 payments per account inside its community, one in
    ten across, spread over five days."""
    rng = np.random.default_rng(seed)
    n = COMMUNITIES * SIZE
    a = np.repeat(np.arange(n), 8)
    b = (a // SIZE) * SIZE + rng.integers(0, SIZE, len(a))
    c, d = rng.integers(0, n, n // 10), rng.integers(0, n, n // 10)
    src, dst = np.concatenate([a, c]), np.concatenate([b, d])
    keep = src != dst
    ts = to_micros(T0) + rng.integers(0, 5 * 86_400 * 10**6, keep.sum())
    return pl.DataFrame(
        {
            "ts": pl.Series(ts).cast(pl.Datetime("us", "UTC")),
            "payer_id": [f"A{i}" for i in src[keep]],
            "payee_id": [f"A{i}" for i in dst[keep]],
            "amount": 1_000,
            "currency": "USD",
        }
    ).sort("ts")


@pytest.fixture(scope="module")
def trained() -> tuple[GraphStore, Embeddings]:
    torch.set_num_threads(1)
    store = GraphStore.from_transactions(planted_partition())
    return store, train_embeddings(store, CUTOFF)


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def account_ids(store: GraphStore) -> np.ndarray:
    n = COMMUNITIES * SIZE
    return np.array([store.node_id(NodeType.ACCOUNT, f"A{i}") for i in range(n)])


def centroids(store: GraphStore, emb: Embeddings) -> np.ndarray:
    v = unit(emb.matrix[account_ids(store)])
    return unit(v.reshape(COMMUNITIES, SIZE, -1).mean(axis=1))


def test_same_community_is_closer_than_across(trained):
    store, emb = trained
    v = unit(emb.matrix[account_ids(store)])
    community = np.arange(len(v)) // SIZE
    cosine = v @ v.T
    same = community[:, None] == community[None, :]
    np.fill_diagonal(same, False)
    across = community[:, None] != community[None, :]
    assert cosine[same].mean() > cosine[across].mean() + 0.4
    nearest = (v @ centroids(store, emb).T).argmax(axis=1)
    assert (nearest == community).mean() > 0.95
    assert emb.trained[account_ids(store)].all() and emb.dim == 32


def test_a_newcomer_lands_near_the_community_it_pays(trained):
    _, emb = trained
    store = GraphStore.from_transactions(planted_partition())  # a copy to grow
    for i, member in enumerate(range(2 * SIZE, 2 * SIZE + 6)):  # pays six of community 2
        store.add_transaction(
            Transaction(
                txn_id=f"N{i}",
                ts=CUTOFF + timedelta(hours=1 + i),
                payer_id="NEW",
                payee_id=f"A{member}",
                amount=500,
                currency="USD",
                channel="transfer",
                jurisdiction="SG",
                device_id="fresh-device",
            )
        )
    adjacency = store.adjacency()
    newcomer = store.node_id(NodeType.ACCOUNT, "NEW")
    device = store.node_id(NodeType.DEVICE, "fresh-device")

    later = emb.vector(newcomer, adjacency, CUTOFF + timedelta(days=1))
    assert later.source is Source.NEIGHBOURS and later.inferred
    closeness = centroids(store, emb) @ unit(later.values)
    assert closeness.argmax() == 2 and closeness[2] > 0.8

    # before its payments the newcomer has no neighbour: its type's mean, flagged
    early = emb.vector(newcomer, adjacency, CUTOFF + timedelta(minutes=30))
    assert early.source is Source.UNKNOWN
    np.testing.assert_allclose(early.values, emb.type_means[NodeType.ACCOUNT])
    # the device's only neighbour is the newcomer, itself untrained: nothing to average
    assert emb.vector(device, adjacency, CUTOFF + timedelta(days=1)).source is Source.UNKNOWN
    assert emb.vector(account_ids(store)[0]).source is Source.TRAINED
    stranger = emb.vector(adjacency.num_nodes + 5, adjacency, CUTOFF + timedelta(days=1))
    assert stranger.source is Source.UNKNOWN and not stranger.values.any()

    with pytest.raises(ValueError, match="future"):
        emb.vectors(np.array([newcomer]), adjacency, CUTOFF - timedelta(seconds=1))


def test_walks_and_training_see_only_edges_before_the_cutoff(trained):
    store, _ = trained
    adjacency = store.adjacency()
    moment = to_micros(T0 + timedelta(days=1))
    degree = adjacency.degree(np.arange(adjacency.num_nodes), moment)
    starts = np.flatnonzero(degree > 0)
    walks = random_walks(adjacency, starts, 10, moment, np.random.default_rng(0))
    visible = set()
    for node in starts.tolist():
        visible.update((node, int(n)) for n in adjacency.neighbors(node, moment))
    steps = set(zip(walks[:, :-1].ravel().tolist(), walks[:, 1:].ravel().tolist(), strict=True))
    assert steps <= visible

    emb = train_embeddings(store, T0 + timedelta(days=1), EmbeddingConfig(walks_per_node=1))
    assert (emb.trained == (degree > 0)).all() and not emb.trained.all()
    assert not emb.matrix[~emb.trained].any()


def test_save_and_load_round_trip_and_realign_by_key(trained, tmp_path):
    store, emb = trained
    emb.save(tmp_path / "emb")
    back = Embeddings.load(tmp_path / "emb")
    np.testing.assert_array_equal(back.matrix, emb.matrix)
    np.testing.assert_array_equal(back.trained, emb.trained)
    assert back.keys == emb.keys and back.as_of == emb.as_of and back.config == emb.config

    # a store that met the same accounts in another order maps each key to its own row
    other = GraphStore.from_transactions(planted_partition().reverse())
    other.add_transactions(
        pl.DataFrame(
            {
                "ts": [CUTOFF],
                "payer_id": ["ONLY-HERE"],
                "payee_id": ["A0"],
                "amount": [100],
                "currency": ["USD"],
            },
            schema_overrides={"ts": pl.Datetime("us", "UTC")},
        )
    )
    aligned = Embeddings.load(tmp_path / "emb", store=other)
    mine, theirs = account_ids(store), account_ids(other)
    assert (mine != theirs).mean() > 0.9
    np.testing.assert_array_equal(aligned.matrix[theirs], emb.matrix[mine])
    only_here = other.node_id(NodeType.ACCOUNT, "ONLY-HERE")
    assert not aligned.trained[only_here]
    assert aligned.vector(only_here).source is Source.UNKNOWN


def test_same_seed_same_vectors(trained):
    store, emb = trained
    again = train_embeddings(store, CUTOFF)
    np.testing.assert_array_equal(again.matrix, emb.matrix)
