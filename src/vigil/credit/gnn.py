"""The comparison: GeniePath on each applicant's trade neighbourhood instead of hand-made
network features.

Each loan becomes a small graph as of its ``issued_at``: the applicant; its partners with
invoices in the trailing year (exact, from the same :class:`~vigil.credit.network.Pairs` the
features use); and up to ``fanout`` of each partner's own largest partners in the network
snapshot at or before that moment. Messages flow toward the applicant. The applicant's node
carries the firm-only features; every node carries what was known of it at the moment (size,
age, a known default, silence, its propagated risk). Edges carry the log volume, the
direction of trade and the hop. GeniePath (:mod:`vigil.graph.nn`) then learns which partners
to listen to, and its output at the applicant is the logit of default.

:class:`vigil.graph.sampler.NeighborSampler` is not used: it samples from a payment
:class:`~vigil.graph.store.Adjacency`, whose store took 36 s to build from the large world's
invoices (see :mod:`vigil.credit.network`); here the first hop is exact and the second is the
snapshot's top partners.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import torch
import torch.nn.functional as F

from vigil.credit.features import (
    BY_NAME,
    SILENT_DAYS,
    US_PER_YEAR,
    Applicants,
    CreditHistory,
    names_of,
)
from vigil.credit.model import Platt
from vigil.credit.network import US_PER_DAY, Pairs, snapshot_time
from vigil.graph.nn import build_model

PROFILE = ("log_revenue", "age_years", "defaulted", "silent", "risk", "log_degree", "is_seed")
EDGE_ATTRS = ("log_usd", "from_buyer", "second_hop")


@dataclass(frozen=True)
class EgoGraphs:
    """Disjoint ego graphs, one per applicant, in one PyG-style batch."""

    x: torch.Tensor  #: [nodes, seed features + profile]
    edge_index: torch.Tensor  #: [2, edges], source → target
    edge_attr: torch.Tensor  #: [edges, len(EDGE_ATTRS)]
    seed: torch.Tensor  #: [applicants], node of each applicant
    owner: np.ndarray  #: [nodes], the applicant each node belongs to


def ego_graphs(
    history: CreditHistory,
    applicants: Applicants,
    pairs: Pairs,
    seed_features: np.ndarray,
    fanout: int = 10,
) -> EgoGraphs:
    """The applicants' ego graphs; ``seed_features`` is their standardised firm-only matrix."""
    n = len(applicants)
    t = applicants.as_of
    active = pairs.usd_365 > 0
    row, partner = pairs.row[active], pairs.counterparty[active]
    volume, from_buyer = pairs.usd_365[active], pairs.is_buyer[active]
    known = partner >= 0
    row, partner, volume, from_buyer = row[known], partner[known], volume[known], from_buyer[known]

    # Second hop: each partner's largest partners in the snapshot graph, the applicant left out.
    src2, dst2, vol2 = [], [], []
    step_moment = np.array([snapshot_time(x, history.params) for x in t[row]], dtype=np.int64)
    for moment in np.unique(step_moment):
        adjacency = history.snapshot(int(moment)).adjacency
        for k in np.flatnonzero(step_moment == moment):
            u = partner[k]
            start, end = adjacency.indptr[u], adjacency.indptr[u + 1]
            others, cents = adjacency.indices[start:end], adjacency.data[start:end]
            keep = others != applicants.firm[row[k]]
            others, cents = others[keep], cents[keep]
            top = np.argsort(-cents, kind="stable")[:fanout]
            src2.append(others[top])
            dst2.append(np.full(len(top), k))
            vol2.append(cents[top] / 100.0)
    second = np.concatenate(src2) if src2 else np.zeros(0, np.int64)
    via = np.concatenate(dst2) if dst2 else np.zeros(0, np.int64)
    second_volume = np.concatenate(vol2) if vol2 else np.zeros(0)

    # Nodes: applicants first, then partners (one per pair), then second-hop nodes.
    firm = np.concatenate([applicants.firm, partner, second]).astype(np.int64)
    owner = np.concatenate([np.arange(n), row, row[via]])
    moment = t[owner]
    is_seed = np.zeros(len(firm), dtype=bool)
    is_seed[:n] = True
    f = history.firms
    safe = np.where(firm >= 0, firm, 0)
    revenue = np.where(
        is_seed,
        np.concatenate([applicants.revenue_usd, np.zeros(len(firm) - n)]),
        f.revenue_usd[safe],
    )
    founded = np.where(
        is_seed,
        np.concatenate([applicants.founded_us, np.zeros(len(firm) - n)]),
        f.founded_us[safe],
    )
    defaulted = (firm >= 0) & (f.default_time[safe] < moment)
    last = history.trade.activity.last_time(firm, moment)
    silent = (firm >= 0) & (last < moment - SILENT_DAYS * US_PER_DAY)
    risk = np.zeros(len(firm))
    degree = np.zeros(len(firm))
    grid = (moment // (history.params.snapshot_days * US_PER_DAY)) * (
        history.params.snapshot_days * US_PER_DAY
    )
    for g in np.unique(grid):
        snap = history.snapshot(int(g))
        sel = (grid == g) & (firm >= 0)
        risk[sel] = snap.risk[firm[sel]]
        degree[sel] = np.diff(snap.adjacency.indptr)[firm[sel]]
    profile = np.column_stack(
        [
            np.log1p(revenue),
            np.maximum(moment - founded, 0) / US_PER_YEAR,
            defaulted,
            silent,
            risk * 10.0,
            np.log1p(degree),
            is_seed,
        ]
    )
    seeds = np.zeros((len(firm), seed_features.shape[1]))
    seeds[:n] = seed_features
    x = np.column_stack([seeds, profile]).astype(np.float32)

    partner_node = n + np.arange(len(partner))
    second_node = n + len(partner) + np.arange(len(second))
    source = np.concatenate([partner_node, second_node])
    target = np.concatenate([row, partner_node[via]])
    attr = np.column_stack(
        [
            np.log1p(np.concatenate([volume, second_volume])) / 10.0,
            np.concatenate([from_buyer, np.zeros(len(second))]),
            np.concatenate([np.zeros(len(partner)), np.ones(len(second))]),
        ]
    ).astype(np.float32)
    return EgoGraphs(
        x=torch.from_numpy(x),
        edge_index=torch.from_numpy(np.stack([source, target]).astype(np.int64)),
        edge_attr=torch.from_numpy(attr),
        seed=torch.arange(n),
        owner=owner,
    )


def _firm_numeric(frame: pl.DataFrame) -> np.ndarray:
    names = [f for f in names_of(("firm",)) if not BY_NAME[f].categorical]
    return np.column_stack([frame[f].cast(pl.Float64).fill_null(np.nan).to_numpy() for f in names])


def _subset(graphs: EgoGraphs, rows: np.ndarray) -> EgoGraphs:
    """The ego graphs of ``rows`` (applicant positions), renumbered."""
    chosen = np.zeros(len(graphs.seed), dtype=bool)
    chosen[rows] = True
    keep_node = chosen[graphs.owner]
    local = np.cumsum(keep_node) - 1
    edges = graphs.edge_index.numpy()
    keep_edge = keep_node[edges[1]]
    seed = local[graphs.seed.numpy()[rows]]
    position = np.full(len(graphs.seed), -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    return EgoGraphs(
        x=graphs.x[torch.from_numpy(keep_node)],
        edge_index=torch.from_numpy(local[edges[:, keep_edge]]),
        edge_attr=graphs.edge_attr[torch.from_numpy(keep_edge)],
        seed=torch.from_numpy(seed),
        owner=position[graphs.owner[keep_node]],
    )


@dataclass
class GeniePathCredit:
    """A trained comparison model: GeniePath logits, Platt-calibrated on the later slice."""

    model: torch.nn.Module
    mean: np.ndarray
    scale: np.ndarray
    calibration: Platt
    fanout: int

    def pd(
        self, history: CreditHistory, applicants: Applicants, pairs: Pairs, frame: pl.DataFrame
    ) -> np.ndarray:
        graphs = ego_graphs(history, applicants, pairs, self._standardise(frame), self.fanout)
        self.model.eval()
        with torch.no_grad():
            logits = self.model(graphs.x, graphs.edge_index, graphs.edge_attr)[graphs.seed, 0]
        return self.calibration(logits.numpy().astype(np.float64))

    def _standardise(self, frame: pl.DataFrame) -> np.ndarray:
        return np.nan_to_num((_firm_numeric(frame) - self.mean) / self.scale)


def train_geniepath(
    history: CreditHistory,
    applicants: Applicants,
    pairs: Pairs,
    frame: pl.DataFrame,
    labels: np.ndarray,
    calibration_share: float = 0.25,
    hidden: int = 32,
    epochs: int = 40,
    batch: int = 256,
    fanout: int = 10,
    seed: int = 0,
) -> GeniePathCredit:
    """GeniePath on applicants in issue order: the earlier rows train, the later pick the
    epoch (log loss) and calibrate."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    numeric = _firm_numeric(frame)
    cut = int(len(labels) * (1 - calibration_share))
    mean = np.nanmean(numeric[:cut], axis=0)
    scale = np.nanstd(numeric[:cut], axis=0) + 1e-6
    graphs = ego_graphs(history, applicants, pairs, np.nan_to_num((numeric - mean) / scale), fanout)
    y = torch.from_numpy(labels.astype(np.float32))
    model = build_model("geniepath", graphs.x.shape[1], hidden, 1, edge_dim=len(EDGE_ATTRS))
    optimiser = torch.optim.Adam(model.parameters(), lr=0.005, weight_decay=1e-4)
    positive = float(labels[:cut].mean())
    weight = torch.tensor((1 - positive) / max(positive, 1e-6)) ** 0.5  # half-way to balanced
    late = _subset(graphs, np.arange(cut, len(labels)))
    best, best_loss = None, np.inf
    for _ in range(epochs):
        model.train()
        order = rng.permutation(cut)
        for start in range(0, cut, batch):
            rows = order[start : start + batch]
            part = _subset(graphs, rows)
            logits = model(part.x, part.edge_index, part.edge_attr)[part.seed, 0]
            loss = F.binary_cross_entropy_with_logits(logits, y[rows], pos_weight=weight)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        model.eval()
        with torch.no_grad():
            logits = model(late.x, late.edge_index, late.edge_attr)[late.seed, 0]
            loss = float(F.binary_cross_entropy_with_logits(logits, y[cut:], pos_weight=weight))
        if loss < best_loss:
            best_loss, best = loss, {k: v.clone() for k, v in model.state_dict().items()}
    if best is not None:
        model.load_state_dict(best)
    model.eval()
    with torch.no_grad():
        margin = model(late.x, late.edge_index, late.edge_attr)[late.seed, 0].numpy()
    calibration = Platt.fit(margin.astype(np.float64), labels[cut:])
    return GeniePathCredit(model, mean, scale, calibration, fanout)
