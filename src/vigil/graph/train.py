"""Node classification of accounts: which accounts of the payment graph are run by fraudsters.

The task is transductive in time: a graph built from payments before a moment, accounts labelled
by what was known before that moment (:func:`vigil.graph.account_features.bad_accounts`), and a
score for every account, including the unlabelled ones, which is the point. Validation is a
split in time, never at random: the model is trained on the graph and labels as of ``t1`` and
judged on the accounts *newly* found bad between ``t1`` and ``t2``, scored on the graph as of
``t2``; at random, a ring's members would sit on both sides and the score would flatter.

Mini-batches are disjoint sampled trees (:class:`vigil.graph.sampler.NeighborSampler`, one tree
per seed, ``"recent"`` neighbours): each seed sees exactly the neighbourhood the online block
samples for it one payment at a time, so a score computed here in bulk and one computed live
agree. Negatives are plenty and cheap, positives few: each epoch takes every positive and a
fresh draw of at most ``negatives_per_positive`` times as many negatives, and the loss weighs
positives by the ratio of the two, so that a batch is about the decision boundary rather than
about the thousands of ordinary shoppers.

The same harness trains every model of :func:`vigil.graph.nn.build_model` and LightGBM on
neighbour-aggregated features (GADBench's strongest simple baseline), on the same splits, for
the comparison in ``docs/graph.md`` (``bench/graph.py models``).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime

import numpy as np
import polars as pl
import torch
import torch.nn.functional as F
from sklearn.metrics import average_precision_score
from torch import nn

from vigil.graph.account_features import (
    NODE_FEATURE_NAMES,
    account_nodes,
    bad_accounts,
    neighbour_aggregates,
    node_features,
    node_ids,
)
from vigil.graph.nn import build_model
from vigil.graph.sampler import EDGE_ATTR_NAMES, NeighborSampler
from vigil.graph.store import GraphStore, to_micros


@dataclass(frozen=True)
class TrainConfig:
    """How a node classifier is trained; the defaults train the demo graph in about a minute
    on one thread."""

    model: str = "geniepath"
    hidden: int = 32
    fanouts: tuple[int, ...] = (10, 5)
    epochs: int = 15
    patience: int = 4  #: epochs without a better validation AUPRC before stopping
    batch_size: int = 256
    lr: float = 0.005
    weight_decay: float = 1e-5
    negatives_per_positive: int = 20  #: per epoch; 0 takes every negative
    max_positive_weight: float = 50.0
    seed: int = 0


@dataclass(frozen=True)
class Split:
    """Accounts to learn from or judge, on the graph as of one moment (µs)."""

    as_of: int
    nodes: np.ndarray  #: store ids of account nodes
    labels: np.ndarray  #: float32, 1 for bad

    @property
    def positives(self) -> int:
        return int(self.labels.sum())


@dataclass
class EpochLog:
    epoch: int
    loss: float
    seconds: float
    valid_auprc: float | None


@dataclass
class FitResult:
    model: nn.Module
    config: TrainConfig
    epochs: list[EpochLog] = field(default_factory=list)
    best_epoch: int = 0
    note: str = ""

    @property
    def seconds_per_epoch(self) -> float:
        return float(np.mean([e.seconds for e in self.epochs])) if self.epochs else 0.0

    def summary(self) -> dict:
        return {
            "config": asdict(self.config),
            "epochs": [asdict(e) for e in self.epochs],
            "best_epoch": self.best_epoch,
            "seconds_per_epoch": self.seconds_per_epoch,
            "note": self.note,
        }


# -- splits -----------------------------------------------------------------------------------


def known_split(
    store: GraphStore, bad: pl.DataFrame, as_of: datetime | int, since: datetime | int | None = None
) -> Split:
    """Accounts on the graph as of ``as_of``, positive when a label naming them bad was known
    before it. With ``since``, the accounts already known bad before ``since`` are left out, so
    that the positives are the ones found in between (a validation split after training at
    ``since``); the negatives may hold bad accounts nobody has found yet, as in life."""
    moment = to_micros(as_of)
    nodes = account_nodes(store, moment)
    known = _micros(bad.get_column("known_at"))
    ids = node_ids(store, bad.get_column("account_id").to_list())
    positive = _member(nodes, ids[(known < moment) & (ids >= 0)])
    keep = np.ones(len(nodes), dtype=bool)
    if since is not None:
        keep = ~_member(nodes, ids[(known < to_micros(since)) & (ids >= 0)])
    return Split(moment, nodes[keep], positive[keep].astype(np.float32))


def hindsight_split(
    store: GraphStore, bad: pl.DataFrame, as_of: datetime | int, since: datetime | int
) -> Split:
    """The test split: accounts on the graph as of ``as_of``, positive when they are bad in
    hindsight (every label of the data) and active as such before ``as_of``, negative when no
    label ever names them; accounts already known bad before ``since`` (the training side's
    knowledge) and those whose bad payments all lie after ``as_of`` are left out."""
    moment, before = to_micros(as_of), to_micros(since)
    nodes = account_nodes(store, moment)
    ids = node_ids(store, bad.get_column("account_id").to_list())
    known = _micros(bad.get_column("known_at"))
    active = _micros(bad.get_column("active_at"))
    present = ids >= 0
    positive = _member(nodes, ids[present & (active < moment) & (known >= before)])
    drop = _member(nodes, ids[present & ((known < before) | (active >= moment))])
    keep = positive | ~drop
    return Split(moment, nodes[keep], positive[keep].astype(np.float32))


def thinned(split: Split, negatives_per_positive: int, rng: np.random.Generator) -> Split:
    """Every positive and at most ``negatives_per_positive`` times as many negatives, drawn
    once: model selection needs the ranking near the top, not thousands of shoppers scored
    every epoch. Metrics reported as results are always read on whole splits."""
    take = negatives_per_positive * split.positives
    negatives = np.flatnonzero(split.labels == 0)
    if not take or take >= len(negatives):
        return split
    keep = np.sort(
        np.concatenate(
            [np.flatnonzero(split.labels > 0), rng.choice(negatives, take, replace=False)]
        )
    )
    return Split(split.as_of, split.nodes[keep], split.labels[keep])


def _micros(column: pl.Series) -> np.ndarray:
    return column.dt.epoch("us").to_numpy().astype(np.int64)


def _member(nodes: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    return np.isin(nodes, chosen)


# -- training ---------------------------------------------------------------------------------


class GraphData:
    """A store's features and sampler, computed once per moment and reused across epochs."""

    def __init__(self, store: GraphStore, fanouts: tuple[int, ...]):
        self.store = store
        self.adjacency = store.adjacency()
        self.sampler = NeighborSampler(self.adjacency, fanouts, strategy="recent")
        self._features: dict[int, torch.Tensor] = {}

    def features(self, as_of: int) -> torch.Tensor:
        if as_of not in self._features:
            self._features[as_of] = torch.from_numpy(
                node_features(self.store, as_of, self.adjacency)
            )
        return self._features[as_of]

    def batch(self, nodes: np.ndarray, as_of: int, rng: np.random.Generator):
        """Disjoint trees around ``nodes`` as of ``as_of``: (x, edge_index, edge_attr, seeds)."""
        sub = self.sampler.sample(nodes, np.full(len(nodes), as_of, dtype=np.int64), rng)
        x = self.features(as_of)[sub.n_id]
        return x, sub.edge_index, sub.edge_attr, sub.seed_index


def new_model(config: TrainConfig) -> nn.Module:
    return build_model(
        config.model, len(NODE_FEATURE_NAMES), config.hidden, 1, edge_dim=len(EDGE_ATTR_NAMES)
    )


def fit(
    data: GraphData,
    train: Split,
    valid: Split | None = None,
    config: TrainConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> FitResult:
    """Train ``config.model`` on ``train``; keep the epoch with the best AUPRC on ``valid``
    (the last epoch when there is no validation split or it has no positive)."""
    config = config or TrainConfig()
    rng = np.random.default_rng(config.seed)
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        model = new_model(config)
    result = FitResult(model, config)
    positives = train.nodes[train.labels > 0]
    negatives = train.nodes[train.labels == 0]
    if len(positives) == 0:
        result.note = "no positive account before the cutoff: the model is untrained"
        return result
    judged = valid is not None and 0 < valid.positives < len(valid.nodes)
    if judged:
        valid = thinned(valid, config.negatives_per_positive, np.random.default_rng(config.seed))
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    best, best_state, stale = -1.0, copy.deepcopy(model.state_dict()), 0
    for epoch in range(1, config.epochs + 1):
        began = time.perf_counter()
        take = config.negatives_per_positive * len(positives)
        drawn = (
            negatives
            if not take or take >= len(negatives)
            else rng.choice(negatives, take, replace=False)
        )
        seeds = rng.permutation(np.concatenate([positives, drawn]))
        label = np.isin(seeds, positives).astype(np.float32)
        weight = torch.tensor(
            min(len(drawn) / len(positives), config.max_positive_weight), dtype=torch.float32
        )
        model.train()
        losses = []
        for lo in range(0, len(seeds), config.batch_size):
            x, edge_index, edge_attr, seed_index = data.batch(
                seeds[lo : lo + config.batch_size], train.as_of, rng
            )
            logits = model(x, edge_index, edge_attr)[seed_index].squeeze(-1)
            target = torch.from_numpy(label[lo : lo + config.batch_size])
            loss = F.binary_cross_entropy_with_logits(logits, target, pos_weight=weight)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        seconds = time.perf_counter() - began
        auprc = None
        if judged:
            auprc = float(average_precision_score(valid.labels, score(data, model, valid, config)))
        result.epochs.append(EpochLog(epoch, float(np.mean(losses)), seconds, auprc))
        if progress is not None:
            shown = "-" if auprc is None else f"{auprc:.4f}"
            progress(
                f"{config.model} epoch {epoch}: loss {np.mean(losses):.4f}, "
                f"{seconds:.1f} s, valid AUPRC {shown}"
            )
        if not judged or auprc > best:
            best, best_state, stale = (auprc or 0.0), copy.deepcopy(model.state_dict()), 0
            result.best_epoch = epoch
        else:
            stale += 1
            if stale >= config.patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    return result


def score(
    data: GraphData,
    model: nn.Module,
    split: Split | None = None,
    config: TrainConfig | None = None,
    nodes: np.ndarray | None = None,
    as_of: int | None = None,
    batch_size: int = 1024,
) -> np.ndarray:
    """Fraud probability of each node of ``split`` (or of ``nodes`` as of ``as_of``)."""
    config = config or TrainConfig()
    if split is not None:
        nodes, as_of = split.nodes, split.as_of
    if nodes is None or as_of is None:
        raise ValueError("score needs a split, or nodes and as_of")
    rng = np.random.default_rng(0)  # "recent" sampling draws nothing; the generator is a formality
    out = np.empty(len(nodes), dtype=np.float32)
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for lo in range(0, len(nodes), batch_size):
            x, edge_index, edge_attr, seed_index = data.batch(
                nodes[lo : lo + batch_size], as_of, rng
            )
            logits = model(x, edge_index, edge_attr)[seed_index].squeeze(-1)
            out[lo : lo + batch_size] = torch.sigmoid(logits).numpy()
    model.train(was_training)
    return out


# -- LightGBM on neighbour aggregates ---------------------------------------------------------


@dataclass
class TreeResult:
    booster: object
    seconds: float
    rounds: int


def fit_lightgbm(
    store: GraphStore, train: Split, valid: Split | None = None, seed: int = 0, rounds: int = 400
) -> TreeResult:
    """LightGBM on each account's own, one-hop and two-hop mean features (full neighbourhoods,
    not samples), early-stopped on ``valid``."""
    import lightgbm as lgb

    began = time.perf_counter()
    x_train = aggregated(store, train)
    params = {
        "objective": "binary",
        "learning_rate": 0.05,
        "num_leaves": 31,
        "min_child_samples": 10,
        "scale_pos_weight": min(
            (len(train.labels) - train.positives) / max(train.positives, 1), 50.0
        ),
        "seed": seed,
        "deterministic": True,
        "num_threads": 1,
        "verbose": -1,
    }
    train_set = lgb.Dataset(x_train, train.labels)
    callbacks, sets = [], []
    if valid is not None and 0 < valid.positives < len(valid.nodes):
        sets = [lgb.Dataset(aggregated(store, valid), valid.labels, reference=train_set)]
        params["metric"] = "average_precision"
        callbacks = [lgb.early_stopping(40, verbose=False)]
    booster = lgb.train(params, train_set, rounds, valid_sets=sets, callbacks=callbacks)
    rounds_used = booster.best_iteration or rounds
    return TreeResult(booster, time.perf_counter() - began, rounds_used)


def aggregated(store: GraphStore, split: Split) -> np.ndarray:
    x = node_features(store, split.as_of)
    return neighbour_aggregates(store, x, split.as_of)[split.nodes]


def score_lightgbm(store: GraphStore, result: TreeResult, split: Split) -> np.ndarray:
    return result.booster.predict(aggregated(store, split), num_iteration=result.rounds)


# -- metrics ----------------------------------------------------------------------------------


def ranking_metrics(labels: np.ndarray, scores: np.ndarray, fpr: float = 0.01) -> dict:
    """AUPRC and recall at a false-positive rate (a threshold strictly above the negatives'
    ``1 - fpr`` quantile, as :mod:`vigil.evaluation.metrics` reads it)."""
    labels = labels.astype(bool)
    if labels.all() or not labels.any():
        return {"n": len(labels), "positives": int(labels.sum()), "auprc": None, "recall": None}
    negatives = np.sort(scores[~labels])
    allowed = int(np.floor(fpr * len(negatives)))
    threshold = negatives[len(negatives) - allowed - 1]
    return {
        "n": len(labels),
        "positives": int(labels.sum()),
        "auprc": float(average_precision_score(labels, scores)),
        "recall": float((scores[labels] > threshold).mean()),
    }


# -- the block's model ------------------------------------------------------------------------


@dataclass
class AccountModel:
    """What :class:`vigil.graph.block.GraphBlock` keeps from a fit: the model, the moment
    it knows the graph up to, and every known account's score as of then."""

    fit: FitResult
    as_of: int
    scores: dict[str, float]
    metrics: dict


def train_account_model(
    frame: pl.DataFrame,
    config: TrainConfig | None = None,
    valid_share: float = 0.25,
    store: GraphStore | None = None,
    progress: Callable[[str], None] | None = None,
) -> AccountModel:
    """Fit on a time-ordered frame of labelled payments and score every account it holds.

    The cutoff is just after the frame's last payment; the model trains on the graph and labels
    as of ``valid_share`` of the span before it and is validated on the accounts found bad in
    that last stretch (at least a day), as of the cutoff. Scores are read at the cutoff.
    """
    config = config or TrainConfig()
    store = GraphStore.from_transactions(frame) if store is None else store
    first, last = (to_micros(frame.get_column("ts").min()), to_micros(frame.get_column("ts").max()))
    cutoff = last + 1
    gap = max(int((cutoff - first) * valid_share), 86_400 * 1_000_000)
    t1 = max(first + 1, cutoff - gap)
    bad = bad_accounts(frame)
    data = GraphData(store, config.fanouts)
    train = known_split(store, bad, t1)
    valid = known_split(store, bad, cutoff, since=t1)
    result = fit(data, train, valid, config, progress)
    nodes = account_nodes(store, cutoff)
    probabilities = score(data, result.model, config=config, nodes=nodes, as_of=cutoff)
    keys = store.keys()
    scores = {keys[n]: float(p) for n, p in zip(nodes.tolist(), probabilities, strict=True)}
    valid_scores = score(data, result.model, valid, config) if valid.positives else None
    metrics = {
        "train_accounts": len(train.nodes),
        "train_positives": train.positives,
        "valid_accounts": len(valid.nodes),
        "valid_positives": valid.positives,
        "valid": None if valid_scores is None else ranking_metrics(valid.labels, valid_scores),
        **result.summary(),
    }
    return AccountModel(result, cutoff, scores, metrics)
