"""The trade graph read as of a moment: who paid whom before an instant, and how far default
risk travels along those payments.

**Indexes.** :class:`TradeIndex` holds every invoice grouped by relationship (one supplier →
buyer pair) and sorted by time, with integer running totals in US cents, so "count, amount and
last invoice of this relationship strictly before t" is one ``searchsorted`` for a whole batch
of (relationship, t) questions. Times are replaced by their rank among the distinct invoice
times, so a (relationship, time) pair packs into one sortable int64: the trick of
:class:`vigil.graph.store.Adjacency`, which the trade graph does not reuse because building a
:class:`~vigil.graph.store.GraphStore` and its snapshot from the 230,000-firm world's 6.3M
invoices took 36 s (its per-event columns and string interning serve the online payment path,
which trade does not need), against 16 s for this index, the loans' and the firms' together
(both on the shared 2-core VM under a load of 8-10). :class:`EventIndex` is the same idea for one entity's events:
a firm's invoices in either role, a firm's loans.

**Exactness.** Totals are integer cents, so the amount of a relationship before t is exact
and depends on nothing after t: changing, adding or removing later invoices leaves every
earlier answer bit-identical (``tests/credit/test_point_in_time.py``).

**Propagated risk.** :func:`build_snapshot` reads the graph of the trailing year before a
moment ``T`` on a fixed grid (every ``snapshot_days`` from the Unix epoch, so the grid never
depends on the data) and computes, for every firm, the chance that a random walk started there
ends at a firm whose default was known before ``T``: the walk follows trade in proportion to
the firm's volume with each partner and stops with probability ``restart`` at every step. That
is the firm's personalised PageRank evaluated on the defaulted set, which on an undirected graph
equals the PageRank personalised on the defaulted firms (weighted by their degree) read at the
firm, divided by its degree; read this way it weighs a partner by its share of *the firm's*
trade, which is how a lost customer hurts. The same snapshot carries a spectral embedding (the
top singular vectors of the degree-normalised trade adjacency); features use only rotation-free
quantities of it, since each snapshot's basis is arbitrary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from vigil.money import USD_CENTS_PER_MINOR, UnknownCurrencyError

US_PER_DAY = 86_400 * 1_000_000
NEVER = np.iinfo(np.int64).max


#: Below this many rows, plain Python beats polars' per-query overhead (an API request).
SMALL = 1_000


def usd_cents(amount: pl.Series | np.ndarray, currency: pl.Series) -> np.ndarray:
    """Minor units to whole US cents (at least 1), vectorised over a column."""
    codes = currency.to_list() if len(currency) < SMALL else currency.unique().to_list()
    unknown = set(codes) - set(USD_CENTS_PER_MINOR)
    if unknown:
        raise UnknownCurrencyError(
            f"currencies {sorted(map(str, unknown))} have no reference rate; "
            f"known: {sorted(USD_CENTS_PER_MINOR)}"
        )
    if len(currency) < SMALL:
        factor = np.array([USD_CENTS_PER_MINOR[c] for c in codes], dtype=np.float64)
    else:
        factor = currency.replace_strict(USD_CENTS_PER_MINOR, return_dtype=pl.Float64).to_numpy()
    return np.maximum(np.rint(np.asarray(amount, dtype=np.float64) * factor), 1).astype(np.int64)


def positions(values: pl.Series, ids: pl.Series) -> np.ndarray:
    """Position of each value in ``ids``, -1 where absent."""
    if len(values) < SMALL:
        where = {v: i for i, v in enumerate(ids.to_list())} if len(ids) < SMALL else None
        if where is not None:
            return np.array([where.get(v, -1) for v in values.to_list()], dtype=np.int64)
    lookup = pl.DataFrame({"v": ids, "i": pl.int_range(len(ids), eager=True)})
    found = pl.DataFrame({"v": values}).join(lookup, on="v", how="left", maintain_order="left")
    return found["i"].fill_null(-1).to_numpy().astype(np.int64)


def _ranked(ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct sorted times, rank of each time among them) from one stable sort: events
    come nearly in time order, which timsort finishes in about one pass."""
    order = np.argsort(ts, kind="stable")
    ordered = ts[order]
    new = np.ones(len(ordered), dtype=bool)
    new[1:] = ordered[1:] != ordered[:-1]
    rank = np.empty(len(ts), dtype=np.int64)
    rank[order] = np.cumsum(new) - 1
    return ordered[new], rank


def _search(haystack: np.ndarray, needles: np.ndarray) -> np.ndarray:
    """``searchsorted(side="left")`` with the needles sorted first, so numpy resumes each
    search where the last ended: several times faster than random probes into millions."""
    if len(needles) < 64:
        return np.searchsorted(haystack, needles)
    order = np.argsort(needles, kind="stable")
    found = np.empty(len(needles), dtype=np.int64)
    found[order] = np.searchsorted(haystack, needles[order])
    return found


def _as_array(as_of: np.ndarray | int, n: int) -> np.ndarray:
    out = np.asarray(as_of, dtype=np.int64)
    return np.full(n, int(out), dtype=np.int64) if out.ndim == 0 else out


class EventIndex:
    """Events of entities (``entity``, ``ts``), each with an optional value, read as of a moment.

    ``before(entity, as_of)`` answers, for a batch, how many of the entity's events are strictly
    earlier and where the last of them sits, so callers can read its time or value.
    """

    def __init__(self, entity: np.ndarray, ts: np.ndarray, value: np.ndarray | None = None):
        entity = np.asarray(entity, dtype=np.int64)
        ts = np.asarray(ts, dtype=np.int64)
        self.times, rank = _ranked(ts)
        self._stride = np.int64(len(self.times) + 1)
        key = entity * self._stride + rank
        order = np.argsort(key, kind="stable")
        self._key = key[order]
        self.ts = ts[order]
        self.value = None if value is None else np.asarray(value)[order]
        n = int(entity.max()) + 1 if len(entity) else 0
        self._ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(entity, minlength=n), out=self._ptr[1:])

    def before(self, entity: np.ndarray, as_of: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
        """(count, position of the last event) strictly before ``as_of``; position -1 if none.
        Entities the index never saw (or negative ids) have no events."""
        entity = np.asarray(entity, dtype=np.int64)
        as_of = _as_array(as_of, len(entity))
        n = len(self._ptr) - 1
        if n == 0:
            return np.zeros(len(entity), np.int64), np.full(len(entity), -1, np.int64)
        known = (entity >= 0) & (entity < n)
        safe = np.where(known, entity, 0)
        end = _search(self._key, safe * self._stride + _search(self.times, as_of))
        count = np.where(known, end - self._ptr[safe], 0)
        return count, np.where(count > 0, end - 1, -1)

    def last_time(self, entity: np.ndarray, as_of: np.ndarray | int) -> np.ndarray:
        """Time (µs) of the last event strictly before ``as_of``; -1 if none."""
        _, last = self.before(entity, as_of)
        return np.where(last >= 0, self.ts[np.maximum(last, 0)], -1) if len(self.ts) else last


@dataclass(frozen=True)
class Pairs:
    """One row per (application, trading relationship first seen before its moment).

    ``counterparty`` is an index of the index that produced the pairs; ``is_buyer`` says the
    counterparty buys from the applicant (it is a customer), else it supplies it. Amounts are
    US dollars over trailing windows ending at the application's moment.
    """

    row: np.ndarray
    counterparty: np.ndarray
    is_buyer: np.ndarray
    usd_365: np.ndarray  #: trailing year
    usd_90: np.ndarray  #: last 90 days
    usd_prev_90: np.ndarray  #: the 90 days before those
    last_ts: np.ndarray  #: last invoice on the relationship before the moment, µs
    first_ts: np.ndarray  #: first invoice ever on the relationship, µs

    def remap(self, mapping: np.ndarray) -> Pairs:
        """The same pairs with counterparties renumbered (``-1``: unknown to the target)."""
        return Pairs(
            self.row,
            mapping[self.counterparty],
            self.is_buyer,
            self.usd_365,
            self.usd_90,
            self.usd_prev_90,
            self.last_ts,
            self.first_ts,
        )


class TradeIndex:
    """Invoices by relationship, for as-of reads; nodes are positions in ``ids``.

    Rows naming a firm outside ``ids`` are left out (``dropped`` counts them).
    """

    def __init__(self, trade: pl.DataFrame, ids: pl.Series):
        self.ids = ids
        self.n_nodes = len(ids)
        supplier = positions(trade["supplier_id"], ids)
        buyer = positions(trade["buyer_id"], ids)
        keep = (supplier >= 0) & (buyer >= 0)
        self.dropped = int((~keep).sum())
        frame = trade.filter(pl.Series(keep)) if self.dropped else trade
        s, b = supplier[keep], buyer[keep]
        ts = frame["ts"].dt.epoch("us").to_numpy().astype(np.int64)
        cents = usd_cents(frame["amount"].to_numpy(), frame["currency"]) if len(ts) else ts
        self.times, rank = _ranked(ts)
        self._stride = np.int64(len(self.times) + 1)

        # Relationships: one per (supplier, buyer); events sorted by (relationship, time).
        pair = s * np.int64(max(self.n_nodes, 1)) + b
        order = np.lexsort((rank, pair))
        s, b, pair, rank, ts, cents = (x[order] for x in (s, b, pair, rank, ts, cents))
        starts = np.ones(len(pair), dtype=bool)
        starts[1:] = pair[1:] != pair[:-1]
        edge = np.cumsum(starts) - 1
        n_edges = int(starts.sum())
        self.supplier = s[starts]
        self.buyer = b[starts]
        self.first_seen = ts[starts]
        self._event_ptr = np.append(np.flatnonzero(starts), len(pair)).astype(np.int64)
        self._event_key = edge * self._stride + rank
        self._event_ts = ts
        # Integer cents: a difference of running totals is exact, whatever else the log holds.
        self._cum = np.concatenate([[0], np.cumsum(cents)]).astype(np.int64)
        self.n_edges = n_edges

        # Slots: each relationship seen from both ends, sorted per node by first invoice and
        # then by the other firm, so the relationships visible before t are a stable prefix.
        owner = np.concatenate([self.supplier, self.buyer])
        other = np.concatenate([self.buyer, self.supplier])
        slot_edge = np.tile(np.arange(n_edges, dtype=np.int64), 2)
        is_buyer = np.repeat([True, False], n_edges)  # the other end buys from the owner
        first_rank = rank[self._event_ptr[:-1]][slot_edge]
        order = np.lexsort((is_buyer, other, first_rank, owner))
        self._slot_edge = slot_edge[order]
        self._slot_other = other[order]
        self._slot_is_buyer = is_buyer[order]
        self._slot_key = owner[order] * self._stride + first_rank[order]
        self._slot_ptr = np.zeros(self.n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(owner, minlength=self.n_nodes), out=self._slot_ptr[1:])

        # Every node's invoices in either role, for "when did this firm last trade".
        self.activity = EventIndex(np.concatenate([s, b]), np.concatenate([ts, ts]))

    def _rank(self, as_of: np.ndarray) -> np.ndarray:
        return _search(self.times, as_of)

    def edge_stats(
        self, edges: np.ndarray, as_of: np.ndarray | int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(invoice count, total US cents, last invoice µs or -1) strictly before ``as_of``."""
        edges = np.asarray(edges, dtype=np.int64)
        as_of = _as_array(as_of, len(edges))
        end = _search(self._event_key, edges * self._stride + self._rank(as_of))
        start = self._event_ptr[edges]
        count = end - start
        total = self._cum[end] - self._cum[start]
        last = np.where(count > 0, self._event_ts[np.maximum(end - 1, 0)], -1)
        return count, total, last

    def pairs(self, nodes: np.ndarray, as_of: np.ndarray) -> Pairs:
        """The relationships each (node, moment) had before its moment, with trailing volumes.

        A node outside the index (``-1``) has none."""
        nodes = np.asarray(nodes, dtype=np.int64)
        as_of = np.asarray(as_of, dtype=np.int64)
        known = (nodes >= 0) & (nodes < self.n_nodes)
        safe = np.where(known, nodes, 0)
        start = self._slot_ptr[safe]
        end = _search(self._slot_key, safe * self._stride + self._rank(as_of))
        degree = np.where(known, end - start, 0)
        row = np.repeat(np.arange(len(nodes), dtype=np.int64), degree)
        offset = np.arange(len(row)) - np.repeat(np.cumsum(degree) - degree, degree)
        slot = start[row] + offset
        edge = self._slot_edge[slot]
        t = as_of[row]

        def cents_before(moment: np.ndarray) -> np.ndarray:
            return self.edge_stats(edge, moment)[1]

        _, now, last = self.edge_stats(edge, t)
        year = cents_before(t - 365 * US_PER_DAY)
        d90 = cents_before(t - 90 * US_PER_DAY)
        d180 = cents_before(t - 180 * US_PER_DAY)
        return Pairs(
            row=row,
            counterparty=self._slot_other[slot],
            is_buyer=self._slot_is_buyer[slot],
            usd_365=(now - year) / 100.0,
            usd_90=(now - d90) / 100.0,
            usd_prev_90=(d90 - d180) / 100.0,
            last_ts=last,
            first_ts=self.first_seen[edge],
        )

    def window_edges(self, start: int, end: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(supplier, buyer, US cents) of relationships with invoices in ``[start, end)``."""
        edges = np.arange(self.n_edges, dtype=np.int64)
        upto = self.edge_stats(edges, end)[1]
        cents = upto - self.edge_stats(edges, start)[1]
        keep = cents > 0
        return self.supplier[keep], self.buyer[keep], cents[keep]


# --- propagated risk and the embedding, per snapshot ----------------------------------------


@dataclass(frozen=True)
class NetworkParams:
    """How network snapshots are read; stored with a model so scoring reads them the same way."""

    snapshot_days: int = 14  #: grid step: a score uses the snapshot at or before its moment
    window_days: int = 365  #: trade that makes the snapshot graph
    restart: float = 0.3  #: walk stop probability per step (0.3: mostly one to three hops)
    iterations: int = 30  #: power iterations; (1 - restart)^30 < 3e-5
    embedding_dim: int = 8


def snapshot_time(as_of_us: int, params: NetworkParams) -> int:
    """The grid moment at or before ``as_of_us`` (µs); the grid starts at the Unix epoch."""
    step = params.snapshot_days * US_PER_DAY
    return (int(as_of_us) // step) * step


@dataclass(frozen=True)
class NetworkSnapshot:
    """Per firm, as of ``as_of``: the walk's chance to end at a known default (``risk``) and
    a unit-norm spectral ``embedding``; ``centroid`` is the unit mean of defaulted firms'
    vectors (zeros when no default was known)."""

    as_of: int
    risk: np.ndarray
    embedding: np.ndarray
    centroid: np.ndarray
    defaults_known: int
    edges: int
    adjacency: sp.csr_matrix  #: symmetric, US cents traded in the window before ``as_of``


def build_snapshot(
    trade: TradeIndex, default_time: np.ndarray, as_of: int, params: NetworkParams
) -> NetworkSnapshot:
    """The snapshot at grid moment ``as_of``: only invoices and defaults strictly before it.

    BLAS runs on one thread here: the products are thin (firms x 14), and a second BLAS
    thread fighting other work for the cores made them ten times slower on the shared VM."""
    with threadpool_limits(limits=1, user_api="blas"):
        return _build_snapshot(trade, default_time, as_of, params)


def _build_snapshot(
    trade: TradeIndex, default_time: np.ndarray, as_of: int, params: NetworkParams
) -> NetworkSnapshot:
    n = trade.n_nodes
    start = as_of - params.window_days * US_PER_DAY
    s, b, cents = trade.window_edges(start, as_of)
    weight = cents.astype(np.float64)
    adjacency = sp.coo_matrix(
        (np.concatenate([weight, weight]), (np.concatenate([s, b]), np.concatenate([b, s]))),
        shape=(n, n),
    ).tocsr()
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    inverse = np.divide(1.0, degree, out=np.zeros(n), where=degree > 0)
    walk = sp.diags(inverse) @ adjacency  # row-stochastic where the firm traded
    seeds = (default_time < as_of).astype(np.float64)
    risk = params.restart * seeds
    for _ in range(params.iterations):
        risk = params.restart * seeds + (1.0 - params.restart) * (walk @ risk)

    k = min(params.embedding_dim, max(n - 1, 1))
    embedding = np.zeros((n, params.embedding_dim), dtype=np.float32)
    if len(weight) > k and n > k + 1:
        root = np.sqrt(inverse)
        normalised = sp.diags(root) @ adjacency @ sp.diags(root)
        u, sigma = _top_singular(normalised, k)
        vectors = u * np.sqrt(sigma)
        norm = np.linalg.norm(vectors, axis=1, keepdims=True)
        embedding[:, :k] = np.divide(vectors, norm, out=np.zeros_like(vectors), where=norm > 0)
    defaulted = seeds > 0
    centroid = embedding[defaulted].sum(axis=0) if defaulted.any() else np.zeros(k)
    length = np.linalg.norm(centroid)
    centroid = centroid / length if length > 0 else np.zeros(params.embedding_dim)
    return NetworkSnapshot(
        as_of=as_of,
        risk=risk,
        embedding=embedding,
        centroid=centroid.astype(np.float32),
        defaults_known=int(defaulted.sum()),
        edges=len(weight),
        adjacency=adjacency,
    )


def _top_singular(
    matrix: sp.csr_matrix, k: int, oversample: int = 6, power: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """The top ``k`` singular pairs of a symmetric sparse matrix by randomised range finding
    (Halko et al. 2011) with a fixed seed: deterministic, numpy only. Columns are
    orthonormalised through their small Gram matrix rather than a tall QR, which costs a
    fraction as much on 230,000 rows and is accurate enough between power steps."""
    rng = np.random.default_rng(0)
    basis = matrix @ rng.standard_normal((matrix.shape[0], k + oversample))
    for _ in range(power):
        basis = matrix @ _orthonormal(basis)
    basis = _orthonormal(basis)
    u, sigma, _ = np.linalg.svd(basis.T @ (matrix @ basis))
    return (basis @ u)[:, :k], sigma[:k]


def _orthonormal(columns: np.ndarray) -> np.ndarray:
    gram = columns.T @ columns
    values, vectors = np.linalg.eigh(gram)
    keep = values > values.max() * 1e-10
    return columns @ (vectors[:, keep] / np.sqrt(values[keep]))
