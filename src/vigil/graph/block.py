"""The graph layer as a feature block: what the network around a payment's two accounts says.

Per payment the block reads its state *before* the payment, then the payment enters the graph
store (:meth:`GraphStore.add_transaction`) and the block's incremental counters. Three kinds of
features come out, all prefixed ``graph_``:

**Ring signals**, from counters kept up to date event by event (never a snapshot rebuild): how
many other accounts have used the devices and addresses of the payer (this session's included)
and of the payee (those it used as a payer); how many of those accounts are already known to
have received or sent fraud (labels arrive through :meth:`GraphBlock.observe_label` at their
``label_ts``; the block keeps each payment's place in the event log to find its parties); the
fraud labels on those devices and addresses; whether the payer has itself received fraud and
the payee sent it (the core features count only the other direction); and how many devices or
addresses payer and payee share. A device or address with more than ``hub_cap`` accounts (a
cash agent's terminal, a carrier's NAT address) is left out of every sum: it ties everyone to
everyone and says nothing about a ring.

**GeniePath scores** of payer and payee (:mod:`vigil.graph.train`): precomputed at fit time for
every account the training graph held (a dict lookup), and for an account it did not hold,
sampled inference on the spot: the same ``"recent"`` fan-out as training, drawn from the block's
own neighbour lists rather than a CSR snapshot (a rebuild costs 0.4 s on the demo graph), node
features from the same counters, and GeniePath run in numpy (a torch forward costs 0.6 ms of
framework overhead on 60 nodes). ``graph_*_score_source`` says which: 0 precomputed, 1 inferred
now, 2 missing (a node with no edge yet, or, live, no budget left for the inference).

**DeepWalk** (:mod:`vigil.graph.embeddings`): the cosine of payer and payee vectors, trained at
fit time; an account the training never saw gets the mean of its trained neighbours' vectors,
kept as a running sum edge by edge (the same rule as :meth:`Embeddings.vectors`), or the
account type's mean; the source codes are features too.

**Point in time.** Nothing is read that came at or after the payment: the block holds back
payments sharing one timestamp until a later one arrives, so "strictly before" holds even for
ties, as in the store. The learnt values (scores, embeddings) know the graph and the labels up to
the fit moment, so for a payment before it they are missing: an in-sample score there would be
better than it can ever be live (the training replay masks those rows anyway).

**Deterministic.** Everything is a function of the payments and labels seen, in order, so a
replay gives the same vectors online and offline, and :meth:`snapshot` / :meth:`restore` round
trip mid-stream. The live budget is the one exception and is off unless the engine sets it
(:meth:`GraphBlock.live`, for live decisions only), since a busy machine would then change the
values.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import time
from array import array
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch

from vigil.graph.account_features import NodeCounters
from vigil.graph.embeddings import EmbeddingConfig, Embeddings, train_embeddings
from vigil.graph.sampler import EDGE_ATTR_NAMES
from vigil.graph.store import GraphStore, NodeType, Relation, to_micros
from vigil.graph.train import AccountModel, TrainConfig, new_model, train_account_model
from vigil.schema.records import Transaction

CONFIG = "config.json"
WEIGHTS = "weights.npz"
SCORES = "scores.parquet"
EMBEDDINGS = "embeddings"
_FORMAT = 1
_NAN = math.nan
_MICROS_PER_DAY = 86_400 * 1_000_000
# plain ints: comparing numpy scalars with an IntEnum costs microseconds in enum lookups
_ACCOUNT, _DEVICE, _IP = int(NodeType.ACCOUNT), int(NodeType.DEVICE), int(NodeType.IP)
_LINKS = frozenset({int(Relation.USES_DEVICE), int(Relation.USES_IP), int(Relation.IN_SUBNET)})

#: Score sources.
PRECOMPUTED, INFERRED, MISSING = 0.0, 1.0, 2.0


class GraphError(ValueError):
    pass


@dataclass(frozen=True)
class BlockConfig:
    """How the block is fitted and what it computes."""

    train: TrainConfig = field(default_factory=TrainConfig)
    #: DeepWalk settings, lighter than the module's defaults (a fit should not spend a minute
    #: on a feature of modest weight); None leaves the embedding features out
    embedding: EmbeddingConfig | None = field(
        default_factory=lambda: EmbeddingConfig(dim=16, walks_per_node=2, walk_length=12)
    )
    embedding_dims: int = 0  #: raw coordinates of payer and payee vectors added as features
    hub_cap: int = 50  #: devices and addresses with more accounts are left out of ring sums
    valid_share: float = 0.25  #: the last part of the fit span, for time-split validation


def feature_names(config: BlockConfig) -> tuple[str, ...]:
    names = [
        "graph_payer_score",
        "graph_payee_score",
        "graph_payer_score_source",
        "graph_payee_score_source",
        "graph_payer_device_peers",
        "graph_payee_device_peers",
        "graph_payer_ip_peers",
        "graph_payee_ip_peers",
        "graph_payer_fraud_receivers",
        "graph_payee_fraud_receivers",
        "graph_payer_fraud_senders",
        "graph_payee_fraud_senders",
        "graph_payer_link_fraud",
        "graph_payee_link_fraud",
        "graph_payer_received_fraud",
        "graph_payee_sent_fraud",
        "graph_shared_links",
    ]
    if config.embedding is not None:
        names += ["graph_cosine", "graph_payer_embedding_source", "graph_payee_embedding_source"]
        for role in ("payer", "payee"):
            names += [f"graph_{role}_emb_{i}" for i in range(config.embedding_dims)]
    return tuple(names)


class GraphBlock:
    """Features ``graph_*`` (see the module docstring) for each payment."""

    kind = "graph"

    def __init__(
        self,
        config: BlockConfig,
        weights: dict[str, np.ndarray],
        scores: dict[str, float],
        fitted_at: int,
        embeddings: Embeddings | None = None,
        training: dict[str, Any] | None = None,
    ):
        self.config = config
        self.weights = weights
        self.scores = scores
        self.fitted_at = fitted_at
        self.embeddings = embeddings
        self.training = training or {}
        self.names = feature_names(config)
        self.net = NumpyGeniePath(weights, lazy=config.train.model == "geniepath_lazy")
        self.fingerprint = _fingerprint(config, weights, scores, embeddings)
        self._trained_rows: dict[tuple[int, str], int] = {}
        self._type_means = None
        if embeddings is not None:
            rows = np.flatnonzero(embeddings.trained)
            self._trained_rows = {
                (int(embeddings.node_type[r]), embeddings.keys[r]): int(r) for r in rows
            }
            self._type_means = embeddings.type_means.astype(np.float64)
        #: the live budget (µs of inference per payment) or None (batch: infer every time)
        self.budget_us: int | None = None
        #: whether the latest payment left out an inference or overran the budget
        self.degraded = False
        #: measurements, not state: how many inferences ran and were left out, the latest
        #: wall times (µs; bounded, since a serving process runs for weeks)
        self.inferred = 0
        self.skipped = 0
        self.inference_us: deque[int] = deque(maxlen=100_000)
        self._cold()

    # ---- state --------------------------------------------------------------------------------

    def _cold(self) -> None:
        self.store = GraphStore()
        self.counters = NodeCounters()
        self.slots: list[array] = []  # per node: (edge << 1 | neighbour-is-target), time order
        self.kinds: list[int] = []  # per node: its NodeType
        self.links: list[list[int]] = []  # per account: its devices and addresses, time order
        self.link_accounts: list[int] = []  # per device/address: accounts seen on it
        self.received: list[int] = []  # per account: fraud payments it received (known)
        self.sent: list[int] = []  # per account: fraud payments it sent (known)
        self.link_labels: list[int] = []  # per device/address: fraud payments made from it
        self.link_receivers: list[int] = []  # per device/address: its accounts with received > 0
        self.link_senders: list[int] = []  # per device/address: its accounts with sent > 0
        self.embedding_row: list[int] = []  # per node: row of its trained vector, or -1
        self.embedding_sum: dict[int, np.ndarray] = {}  # untrained accounts: trained neighbours
        self.embedding_count: dict[int, int] = {}
        self.txn_events: dict[str, int] = {}  # txn_id -> first event << 2 | events
        self.pending: list[Transaction] = []  # payments at the latest instant, held back
        self.pending_ts = -1
        self.deferred: list[str] = []  # fraud labels of held-back payments

    def _state(self) -> dict[str, Any]:
        return {
            name: getattr(self, name)
            for name in (
                "store",
                "counters",
                "slots",
                "kinds",
                "links",
                "link_accounts",
                "received",
                "sent",
                "link_labels",
                "link_receivers",
                "link_senders",
                "embedding_row",
                "embedding_sum",
                "embedding_count",
                "txn_events",
                "pending",
                "pending_ts",
                "deferred",
            )
        }

    # ---- per payment --------------------------------------------------------------------------

    def process(self, txn: Transaction) -> list[float]:
        """Values for ``names`` from the state before ``txn``; then ``txn`` enters the state."""
        now = to_micros(txn.ts)
        if self.pending and now > self.pending_ts:
            self._flush()
        values = self._read(txn, now)
        self.pending.append(txn)
        self.pending_ts = now
        return values

    def observe_label(self, txn_id: str, is_fraud: bool) -> None:
        """A fraud label marks the payment's payer as having sent fraud, its payee as having
        received it, and its device and address as used for it. Legitimate labels change
        nothing; a payment the block never saw (or still holds back) is ignored."""
        if not is_fraud:
            return
        packed = self.txn_events.get(txn_id)
        if packed is None:
            if any(txn.txn_id == txn_id for txn in self.pending):
                self.deferred.append(txn_id)  # applied once the payment itself is in
            return
        first, events = packed >> 2, packed & 3
        store = self.store
        event_edge, src, dst = store._event_edge.data, store._src.data, store._dst.data
        pays = int(event_edge[first])
        payer, payee = int(src[pays]), int(dst[pays])
        for i in range(first + 1, first + events):
            self.link_labels[int(dst[event_edge[i]])] += 1
        self.sent[payer] += 1
        if self.sent[payer] == 1:
            for link in self.links[payer]:
                self.link_senders[link] += 1
        self.received[payee] += 1
        if self.received[payee] == 1:
            for link in self.links[payee]:
                self.link_receivers[link] += 1

    def _flush(self) -> None:
        for txn in self.pending:
            self._add(txn)
        self.pending.clear()
        deferred, self.deferred = self.deferred, []
        for txn_id in deferred:
            self.observe_label(txn_id, True)

    def _add(self, txn: Transaction) -> None:
        """One payment into the store, then into the counters and neighbour lists."""
        store = self.store
        nodes, edges, events = store.num_nodes, store.num_edges, store._event_edge.size
        store.add_transaction(txn)
        now = to_micros(txn.ts)
        if store.num_nodes > nodes:
            self._new_nodes(nodes, store.num_nodes, now)
        src, dst, relation = store._src.data, store._dst.data, store._relation.data
        counters, slots, links = self.counters, self.slots, self.links
        for edge in range(edges, store.num_edges):
            s, d, r = int(src[edge]), int(dst[edge]), int(relation[edge])
            counters.new_edge(s, d, r)
            slots[s].append(edge << 1 | 1)
            slots[d].append(edge << 1)
            if r in _LINKS:
                links[s].append(d)
                self.link_accounts[d] += 1
                if self.received[s]:
                    self.link_receivers[d] += 1
                if self.sent[s]:
                    self.link_senders[d] += 1
            if self.embeddings is not None:
                self._embedding_edge(s, d)
        event_edge, amount = store._event_edge.data, store._event_amount.data
        for i in range(events, store._event_edge.size):
            edge = int(event_edge[i])
            counters.event(int(src[edge]), int(dst[edge]), int(relation[edge]), int(amount[i]))
        self.txn_events[txn.txn_id] = events << 2 | (store._event_edge.size - events)

    def _new_nodes(self, begin: int, end: int, now: int) -> None:
        types = self.store._node_type.data[begin:end].astype(np.int64)
        self.counters.grow(types, now)
        keys = self.store.keys()
        for node, kind in zip(range(begin, end), types.tolist(), strict=True):
            self.kinds.append(kind)
            self.slots.append(array("q"))
            self.links.append([])
            for column in (
                self.link_accounts,
                self.received,
                self.sent,
                self.link_labels,
                self.link_receivers,
                self.link_senders,
            ):
                column.append(0)
            self.embedding_row.append(self._trained_rows.get((kind, keys[node]), -1))

    def _embedding_edge(self, s: int, d: int) -> None:
        """Running sums of trained neighbours' vectors for untrained accounts, one per edge."""
        rows, kinds = self.embedding_row, self.kinds
        for mine, other in ((s, d), (d, s)):
            if rows[mine] < 0 and kinds[mine] == _ACCOUNT and rows[other] >= 0:
                vector = self.embeddings.matrix[rows[other]].astype(np.float64)
                if mine in self.embedding_sum:
                    self.embedding_sum[mine] += vector
                    self.embedding_count[mine] += 1
                else:
                    self.embedding_sum[mine] = vector.copy()
                    self.embedding_count[mine] = 1

    # ---- reading ------------------------------------------------------------------------------

    def _read(self, txn: Transaction, now: int) -> list[float]:
        node_id = self.store.node_id
        payer = node_id(_ACCOUNT, txn.payer_id)
        payee = node_id(_ACCOUNT, txn.payee_id)
        session = [
            node
            for node in (
                None if txn.device_id is None else node_id(_DEVICE, txn.device_id),
                None if txn.ip is None else node_id(_IP, txn.ip),
            )
            if node is not None
        ]
        payer_links = self.links[payer] if payer is not None else []
        payee_links = self.links[payee] if payee is not None else []
        extra = [node for node in session if node not in payer_links]
        a = self._ring(payer, payer_links, extra)
        b = self._ring(payee, payee_links, [])
        shared = len(set(payer_links).union(extra).intersection(payee_links)) if payee_links else 0
        values = [
            _NAN,
            _NAN,
            MISSING,
            MISSING,
            a[0],
            b[0],
            a[1],
            b[1],
            a[2],
            b[2],
            a[3],
            b[3],
            a[4],
            b[4],
            float(self.received[payer]) if payer is not None else 0.0,
            float(self.sent[payee]) if payee is not None else 0.0,
            float(shared),
        ]
        self.degraded = False
        if now >= self.fitted_at:
            began = time.perf_counter_ns()
            values[0], values[2] = self._score(txn.payer_id, payer, now, began)
            values[1], values[3] = self._score(txn.payee_id, payee, now, began)
        if self.embeddings is not None:
            values.extend(self._embedding_values(payer, payee, now))
        return values

    def _ring(self, account: int | None, own: list[int], extra: list[int]) -> tuple[float, ...]:
        """(device peers, address peers, fraud receivers, fraud senders, link fraud labels)
        over the account's devices and addresses (and this session's), hubs left out."""
        cap = self.config.hub_cap
        kinds = self.kinds
        devices = addresses = receivers = senders = labels = 0
        received = account is not None and self.received[account] > 0
        sent = account is not None and self.sent[account] > 0
        for links, mine in ((own, 1), (extra, 0)):
            for link in links:
                accounts = self.link_accounts[link]
                if accounts > cap:
                    continue
                peers = accounts - mine
                if kinds[link] == _DEVICE:
                    devices += peers
                else:
                    addresses += peers
                receivers += self.link_receivers[link] - (mine and received)
                senders += self.link_senders[link] - (mine and sent)
                labels += self.link_labels[link]
        return float(devices), float(addresses), float(receivers), float(senders), float(labels)

    def _score(self, key: str, node: int | None, now: int, began: int) -> tuple[float, float]:
        """A precomputed score, or one inferred now within the live budget.

        Python cannot stop an inference halfway, so the budget is kept at its boundaries, as
        the engine keeps its layers': an inference is left out (missing) when the payment's
        inferences have already spent the budget, and one that ends past it is kept but marks
        the payment degraded.
        """
        score = self.scores.get(key)
        if score is not None:
            return score, PRECOMPUTED
        budget = self.budget_us
        if budget is not None and (time.perf_counter_ns() - began) // 1_000 >= budget:
            if self._has_edges(node):
                self.skipped += 1
                self.degraded = True
            return _NAN, MISSING
        inferred = self.infer(node, now)
        if budget is not None and (time.perf_counter_ns() - began) // 1_000 > budget:
            self.degraded = True
        return (_NAN, MISSING) if inferred is None else (inferred, INFERRED)

    def live(self, budget_us: int | None) -> None:
        """Keep on-the-fly inferences within ``budget_us`` per payment (None: always infer)."""
        if budget_us is not None and budget_us < 0:
            raise GraphError(f"budget_us must be >= 0 or None, got {budget_us}")
        self.budget_us = budget_us

    def infer(self, node: int | None, now: int) -> float | None:
        """GeniePath's probability for one node, sampled from the live neighbour lists as of
        ``now``; None when the node has no edge yet."""
        if not self._has_edges(node):
            return None
        began = time.perf_counter_ns()
        n_id, source, target, edges, reverse = self.sample(node)
        x = self.counters.features(n_id, now)
        edge_attr = self.edge_attr(edges, reverse, now)
        logit = self.net.logit(x, source, target, edge_attr)
        self.inferred += 1
        self.inference_us.append((time.perf_counter_ns() - began) // 1_000)
        return 1.0 / (1.0 + math.exp(-logit))

    def _has_edges(self, node: int | None) -> bool:
        """Whether ``node`` has an edge in the graph yet (and so a neighbourhood to score)."""
        return node is not None and node < len(self.slots) and bool(self.slots[node])

    def sample(self, seed: int) -> tuple[np.ndarray, ...]:
        """One tree around ``seed`` as :class:`NeighborSampler` draws it with ``"recent"``:
        each hop takes the newest ``fanout`` neighbours of every node first reached at the
        previous hop; a node reached again is linked, not expanded again. Returns global node
        ids (seed first), edge sources and targets (local), edge ids and reverse flags."""
        slots = self.slots
        src, dst = self.store._src.data, self.store._dst.data
        nodes, local = [seed], {seed: 0}
        frontier = [0]
        sources, targets, edges, reverse = [], [], [], []
        for fanout in self.config.train.fanouts:
            fresh = []
            for owner in frontier:
                for packed in slots[nodes[owner]][-fanout:]:
                    edge, is_target = packed >> 1, packed & 1
                    neighbour = int(dst[edge] if is_target else src[edge])
                    at = local.get(neighbour)
                    if at is None:
                        at = local[neighbour] = len(nodes)
                        nodes.append(neighbour)
                        fresh.append(at)
                    sources.append(at)
                    targets.append(owner)
                    edges.append(edge)
                    reverse.append(is_target)
            frontier = fresh
            if not frontier:
                break
        return (
            np.array(nodes, dtype=np.int64),
            np.array(sources, dtype=np.int64),
            np.array(targets, dtype=np.int64),
            np.array(edges, dtype=np.int64),
            np.array(reverse, dtype=np.float32),
        )

    def edge_attr(self, edges: np.ndarray, reverse: np.ndarray, now: int) -> np.ndarray:
        """:data:`EDGE_ATTR_NAMES` from the store's running edge totals (every stored event is
        earlier than ``now``)."""
        store = self.store
        out = np.zeros((len(edges), len(EDGE_ATTR_NAMES)), dtype=np.float32)
        relations = len(Relation)
        out[np.arange(len(edges)), store._relation.data[edges].astype(np.int64)] = 1.0
        out[:, relations] = reverse
        out[:, relations + 1] = np.log1p(store._total.data[edges] / 100.0)
        out[:, relations + 2] = np.log1p(store._count.data[edges])
        out[:, relations + 3] = np.log1p((now - store._first_seen.data[edges]) / _MICROS_PER_DAY)
        return out

    def _embedding_values(self, payer: int | None, payee: int | None, now: int) -> list[float]:
        dims = self.config.embedding_dims
        if now < self.embeddings.as_of:
            return [_NAN] * (3 + 2 * dims)
        u, u_source = self._vector(payer)
        v, v_source = self._vector(payee)
        norm = math.sqrt(float(u @ u) * float(v @ v))
        cosine = float(u @ v) / norm if norm > 0 else _NAN
        return [cosine, u_source, v_source, *u[:dims].tolist(), *v[:dims].tolist()]

    def _vector(self, node: int | None) -> tuple[np.ndarray, float]:
        if node is not None:
            row = self.embedding_row[node]
            if row >= 0:
                return self.embeddings.matrix[row].astype(np.float64), 0.0
            count = self.embedding_count.get(node)
            if count:
                return self.embedding_sum[node] / count, 1.0
        return self._type_means[_ACCOUNT], 2.0

    # ---- state files --------------------------------------------------------------------------

    def snapshot(self, path: Path) -> None:
        """The whole online state (store, counters, lists, held-back payments) to one file,
        tagged with the fingerprint; written atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        data = {"format": _FORMAT, "fingerprint": self.fingerprint, "state": self._state()}
        with partial.open("wb") as handle:
            pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, path)

    def restore(self, path: Path) -> None:
        """Replace the state with a snapshot's. Pickle, as for the feature store: a snapshot is
        only read by the engine that wrote it, and another model's is refused."""
        with Path(path).open("rb") as handle:
            data = pickle.load(handle)
        if data.get("format") != _FORMAT:
            raise GraphError(f"{path}: snapshot format {data.get('format')} is not {_FORMAT}")
        if data.get("fingerprint") != self.fingerprint:
            raise GraphError(
                f"{path}: snapshot was written by graph block {data.get('fingerprint')}, "
                f"this block is {self.fingerprint}"
            )
        for name, value in data["state"].items():
            setattr(self, name, value)

    # ---- model files --------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Weights, scores, embeddings and settings (not the online state) to ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / WEIGHTS, **self.weights)
        pl.DataFrame(
            {
                "account_id": list(self.scores),
                "score": np.fromiter(self.scores.values(), np.float64, len(self.scores)),
            },
            schema={"account_id": pl.String, "score": pl.Float64},
        ).write_parquet(folder / SCORES)
        if self.embeddings is not None:
            self.embeddings.save(folder / EMBEDDINGS)
        manifest = {
            "format": _FORMAT,
            "kind": self.kind,
            "fingerprint": self.fingerprint,
            "names": list(self.names),
            "fitted_at_us": self.fitted_at,
            "config": _config_dict(self.config),
            "training": self.training,
        }
        (folder / CONFIG).write_text(json.dumps(manifest, indent=2, default=str) + "\n")

    @classmethod
    def load(cls, folder: Path) -> GraphBlock:
        """A saved block with a cold state; refuses files that do not hash to the manifest."""
        folder = Path(folder)
        manifest = json.loads((folder / CONFIG).read_text())
        if manifest.get("format") != _FORMAT:
            raise GraphError(f"{folder}: format {manifest.get('format')} is not {_FORMAT}")
        with np.load(folder / WEIGHTS, allow_pickle=False) as file:
            weights = {k: file[k] for k in file.files}
        table = pl.read_parquet(folder / SCORES)
        scores = dict(
            zip(
                table.get_column("account_id").to_list(),
                table.get_column("score").to_list(),
                strict=True,
            )
        )
        config = _config_from(manifest["config"])
        embeddings = Embeddings.load(folder / EMBEDDINGS) if config.embedding is not None else None
        block = cls(
            config, weights, scores, manifest["fitted_at_us"], embeddings, manifest["training"]
        )
        if block.fingerprint != manifest["fingerprint"]:
            raise GraphError(
                f"{folder}: files hash to {block.fingerprint}, the manifest says "
                f"{manifest['fingerprint']}"
            )
        return block

    @classmethod
    def fit(
        cls,
        frame: pl.DataFrame,
        seed: int = 0,
        progress: bool = False,
        config: BlockConfig | None = None,
    ) -> GraphBlock:
        """Train GeniePath (and DeepWalk) on a time-ordered frame of labelled payments; the
        block can serve payments from just after the frame's last one, and starts cold."""
        config = config or BlockConfig()
        config = replace(config, train=replace(config.train, seed=seed))
        if config.embedding is not None:
            config = replace(config, embedding=replace(config.embedding, seed=seed))
        store = GraphStore.from_transactions(frame)
        say = print if progress else None
        with torch.random.fork_rng():
            fitted: AccountModel = train_account_model(
                frame, config.train, config.valid_share, store, say
            )
            embeddings = (
                train_embeddings(store, fitted.as_of, config.embedding)
                if config.embedding is not None
                else None
            )
        weights = {k: v.detach().numpy().copy() for k, v in fitted.fit.model.state_dict().items()}
        training = {"rows": frame.height, "seed": seed, **fitted.metrics}
        return cls(config, weights, fitted.scores, fitted.as_of, embeddings, training)

    # ---- measurements -------------------------------------------------------------------------

    def latency(self) -> dict[str, float | int | None]:
        """On-the-fly inferences so far: how many ran and were left out, and p50 and p99 of
        the latest (up to 100,000) wall times, in µs."""
        times = np.asarray(self.inference_us, dtype=np.float64)
        return {
            "inferred": self.inferred,
            "p50_us": float(np.percentile(times, 50)) if len(times) else None,
            "p99_us": float(np.percentile(times, 99)) if len(times) else None,
            "skipped": self.skipped,
        }


class NumpyGeniePath:
    """GeniePath / GeniePath-lazy inference for one node in numpy, from the torch weights.

    The same arithmetic as :mod:`vigil.graph.nn.geniepath` (self loops replaced by one per node
    with zero attributes, additive attention softmaxed over each target's incoming edges,
    LSTM-style depth gates), without the framework's per-call overhead, and only for what the
    one node's output needs: the last hop for that node alone, each earlier hop for the nodes
    within reach. The softmax subtracts one maximum per hop rather than one per target: the
    scores are bounded (``tanh`` times the attention vector), and a constant cancels within a
    target. Float32, as torch computes.
    """

    def __init__(self, weights: dict[str, np.ndarray], lazy: bool = False):
        w = {k: v.astype(np.float32) for k, v in weights.items()}
        self.lazy = lazy
        self.lin_in = (w["lin_in.weight"].T.copy(), w["lin_in.bias"])
        self.layers = []
        layer = 0
        while f"breadth.{layer}.lin.weight" in w:
            p = f"breadth.{layer}."
            edge = w.get(p + "lin_edge.weight")
            self.layers.append(
                _Layer(
                    lin=w[p + "lin.weight"].T.copy(),
                    w_self=w[p + "lin_self.weight"].T.copy(),
                    b_self=w[p + "lin_self.bias"],
                    w_neighbour=w[p + "lin_neighbour.weight"].T.copy(),
                    w_edge=None if edge is None else edge.T.copy(),
                    att=w[p + "att.weight"].ravel().copy(),
                    gates=w[f"depth.{layer}.gates.weight"].T.copy(),
                    gates_bias=w[f"depth.{layer}.gates.bias"],
                )
            )
            layer += 1
        self.head = (w["head.weight"].T.copy(), w["head.bias"])

    def logit(
        self,
        x: np.ndarray,
        source: np.ndarray,
        target: np.ndarray,
        edge_attr: np.ndarray,
        node: int = 0,
    ) -> float:
        """The logit of ``node`` (a local index) given the subgraph's edges source → target."""
        n = len(x)
        keep = source != target
        loops = np.arange(n)
        source = np.concatenate([source[keep], loops])
        target = np.concatenate([target[keep], loops])
        edge_attr = np.concatenate(
            [edge_attr[keep], np.zeros((n, edge_attr.shape[1]), dtype=np.float32)]
        ).astype(np.float32)
        # which targets each hop must compute, from the last hop (the node) backwards
        mask = np.zeros(n, dtype=bool)
        mask[node] = True
        needed = [mask]
        for _ in self.layers[1:]:
            mask = mask.copy()
            mask[source[mask[target]]] = True
            needed.append(mask)
        needed.reverse()
        h = x.astype(np.float32) @ self.lin_in[0] + self.lin_in[1]
        cell = np.zeros_like(h)
        hops = []
        for layer, mask in zip(self.layers, needed, strict=True):
            rows = np.flatnonzero(mask)
            edges = np.flatnonzero(mask[target])
            out = self._breadth(layer, h, source[edges], target[edges], edge_attr[edges], n)
            if self.lazy:
                h = out
                hops.append(out)
            else:
                h = h.copy()
                h[rows], cell[rows] = self._depth(layer, out[rows], cell[rows])
        if self.lazy:
            memory = np.zeros((1, h.shape[1]), dtype=np.float32)
            cell = np.zeros_like(memory)
            for hop, layer in zip(hops, self.layers, strict=True):
                u = np.concatenate([hop[[node]], memory], axis=1)
                memory, cell = self._depth(layer, u, cell)
            h_node = memory[0]
        else:
            h_node = h[node]
        return float(h_node @ self.head[0][:, 0] + self.head[1][0])

    @staticmethod
    def _breadth(
        layer: _Layer,
        h: np.ndarray,
        source: np.ndarray,
        target: np.ndarray,
        edge_attr: np.ndarray,
        n: int,
    ) -> np.ndarray:
        score = (h[source] @ layer.w_neighbour) + (h[target] @ layer.w_self + layer.b_self)
        if layer.w_edge is not None:
            score += edge_attr @ layer.w_edge
        e = np.tanh(score) @ layer.att
        e = np.exp(e - e.max())
        alpha = e / np.bincount(target, weights=e, minlength=n)[target]
        weights = np.bincount(target * n + source, weights=alpha, minlength=n * n)
        return np.tanh(weights.reshape(n, n).astype(np.float32) @ (h @ layer.lin))

    @staticmethod
    def _depth(layer: _Layer, u: np.ndarray, cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        gates = u @ layer.gates + layer.gates_bias
        width = gates.shape[1] // 4
        i, f, o = (_sigmoid(gates[:, k * width : (k + 1) * width]) for k in range(3))
        cell = f * cell + i * np.tanh(gates[:, 3 * width :])
        return o * np.tanh(cell), cell


@dataclass(frozen=True, slots=True)
class _Layer:
    lin: np.ndarray
    w_self: np.ndarray
    b_self: np.ndarray
    w_neighbour: np.ndarray
    w_edge: np.ndarray | None
    att: np.ndarray
    gates: np.ndarray
    gates_bias: np.ndarray


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _config_dict(config: BlockConfig) -> dict[str, Any]:
    return asdict(config)


def _config_from(data: dict[str, Any]) -> BlockConfig:
    train = dict(data["train"])
    train["fanouts"] = tuple(train["fanouts"])
    embedding = data.get("embedding")
    return BlockConfig(
        train=TrainConfig(**train),
        embedding=None if embedding is None else EmbeddingConfig(**embedding),
        embedding_dims=data["embedding_dims"],
        hub_cap=data["hub_cap"],
        valid_share=data["valid_share"],
    )


def _fingerprint(
    config: BlockConfig,
    weights: dict[str, np.ndarray],
    scores: dict[str, float],
    embeddings: Embeddings | None,
) -> str:
    # "deadline_us": None stands for the live budget the config once held (now the engine's,
    # see GraphBlock.live), so that blocks saved before keep their fingerprint
    settings = {**_config_dict(config), "deadline_us": None}
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for name in sorted(weights):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(weights[name]).tobytes())
    digest.update("\n".join(scores).encode())
    digest.update(np.fromiter(scores.values(), np.float64, len(scores)).tobytes())
    if embeddings is not None:
        digest.update(np.ascontiguousarray(embeddings.matrix).tobytes())
        digest.update(str(embeddings.as_of).encode())
    return digest.hexdigest()[:16]


def model_module(config: BlockConfig, weights: dict[str, np.ndarray]) -> torch.nn.Module:
    """The torch model of a block's weights (for tests and offline scoring)."""
    with torch.random.fork_rng():
        model = new_model(config.train)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    return model.eval()
