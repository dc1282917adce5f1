"""What a GNN knows about each node of the payment graph, and which accounts it should call bad.

**Node features** are read from the graph store alone, as of a moment: the node's type (one-hot),
how many distinct edges of each payment relation leave and reach it, the US dollars and
payments it sent and received, and how long ago its first edge appeared. Two implementations
give the same numbers: :func:`node_features` in bulk over a whole store (training, and the
scores precomputed when a block is fitted) and :class:`NodeCounters`, incremental, for the
online block, which cannot rebuild a snapshot per payment. A test holds them equal.

The accounts table (KYC level, opening date) is deliberately not used: a feature block is fitted
from the transactions alone (:class:`vigil.features.blocks.BlockClass`), the core features
already carry those fields, and the first-edge age stands in for account age.

**Labels.** A fraud label sits on a payment, not on an account, and only some of its parties
are bad. Victims are not: the scam victim paying a mule, the account taken over, the card
tested. Which side is bad follows from the typologies (``docs/world.md``):

* a party on the agent's side of a cash row (the cash agent) is never bad, nor is a merchant
  selling goods (the payee of a row with a merchant category), except a shop rented for
  ``merchant_collusion``, whose buyers are scam victims (they are not bad; the shop is);
* ``card_testing`` and ``first_party`` name no bad account: the first is a victim's card at real
  merchants, the second an established customer disputing a purchase, whose place in the graph
  is honest (the graph cannot and should not learn to find them);
* in ``account_takeover`` and ``mule_ring`` the payer of a transfer is a victim unless it also
  *receives* money in a fraud row (a mule forwarding to its collector); the payee is a mule;
* in every other typology (synthetic identities, money laundering) every non-merchant party is
  an operator of the scheme.

A frame without a ``typology`` column is read as if every fraud row were of the victim-paying
kind, the cautious reading. An account becomes a positive once the first label naming it bad
is known (``label_ts``), never earlier.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from vigil.graph.store import Adjacency, GraphStore, NodeType, Relation

MICROS_PER_DAY = 86_400 * 1_000_000

#: The relations a payment creates; degrees are counted per relation and direction.
PAYMENT_RELATIONS: tuple[Relation, ...] = (
    Relation.PAYS,
    Relation.USES_DEVICE,
    Relation.USES_IP,
    Relation.IN_SUBNET,
)
_RELATION_COLUMN = np.full(len(Relation), -1, dtype=np.int64)
_RELATION_COLUMN[list(PAYMENT_RELATIONS)] = np.arange(len(PAYMENT_RELATIONS))

NODE_FEATURE_NAMES: tuple[str, ...] = (
    *(f"is_{kind.name.lower()}" for kind in NodeType),
    *(f"log1p_out_{r.name.lower()}" for r in PAYMENT_RELATIONS),
    *(f"log1p_in_{r.name.lower()}" for r in PAYMENT_RELATIONS),
    "log1p_paid_usd",
    "log1p_received_usd",
    "log1p_payments_out",
    "log1p_payments_in",
    "log1p_age_days",
)
_TYPES = len(NodeType)
_R = len(PAYMENT_RELATIONS)
_AMOUNTS = _TYPES + 2 * _R  # first of the four money columns
_AGE = _AMOUNTS + 4

#: Typologies whose fraud rows name no bad account (see the module docstring).
NO_BAD_ACCOUNT = frozenset({"legit", "card_testing", "first_party"})
#: Typologies where the payer of a transfer is a victim unless it also receives fraud money.
VICTIM_PAYS = frozenset({"account_takeover", "mule_ring"})
#: typologies whose purchases are victims paying a shop run for fraud: the shop is bad
SHOP_RECEIVES = frozenset({"merchant_collusion"})
_CASH_IN, _CASH_OUT = "cash_in", "cash_out"


# -- features ---------------------------------------------------------------------------------


def node_features(store: GraphStore, as_of: int, adjacency: Adjacency | None = None) -> np.ndarray:
    """float32 [num_nodes, len(NODE_FEATURE_NAMES)] of every node, counting only edges first
    seen and events strictly before ``as_of`` (µs). A node with no such edge reads zeros but
    for its type."""
    adjacency = adjacency or store.adjacency()
    edges = store.edges()
    n = store.num_nodes
    out = np.zeros((n, len(NODE_FEATURE_NAMES)), dtype=np.float32)
    out[np.arange(n), store.node_types().astype(np.int64)] = 1.0
    visible = edges["first_seen"] < as_of
    src, dst, relation = edges["src"][visible], edges["dst"][visible], edges["relation"][visible]
    column = _RELATION_COLUMN[relation.astype(np.int64)]
    payment = column >= 0
    out_degree = np.zeros((n, _R))
    in_degree = np.zeros((n, _R))
    np.add.at(out_degree, (src[payment], column[payment]), 1.0)
    np.add.at(in_degree, (dst[payment], column[payment]), 1.0)
    out[:, _TYPES : _TYPES + _R] = np.log1p(out_degree)
    out[:, _TYPES + _R : _AMOUNTS] = np.log1p(in_degree)

    pays = np.flatnonzero(visible & (edges["relation"] == Relation.PAYS))
    count, total, _ = adjacency.edge_stats(pays, as_of)
    payer, payee = edges["src"][pays], edges["dst"][pays]
    money = np.zeros((n, 4))
    np.add.at(money[:, 0], payer, total)
    np.add.at(money[:, 1], payee, total)
    np.add.at(money[:, 2], payer, count)
    np.add.at(money[:, 3], payee, count)
    money[:, :2] /= 100.0
    out[:, _AMOUNTS:_AGE] = np.log1p(money)

    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    seen = edges["first_seen"][visible]
    np.minimum.at(first, src, seen)
    np.minimum.at(first, dst, seen)
    known = first < np.iinfo(np.int64).max
    out[known, _AGE] = np.log1p((as_of - first[known]) / MICROS_PER_DAY)
    return out


class NodeCounters:
    """The same features kept up to date one event at a time (the online block's copy).

    Rows are store node ids; the owner calls :meth:`grow` for new nodes, :meth:`new_edge` for
    each edge the store creates and :meth:`event` for each event, in the store's order.
    """

    def __init__(self) -> None:
        self.size = 0
        self.node_type = np.zeros(1024, dtype=np.int64)
        self.degree = np.zeros((1024, 2 * _R))  # out per relation, then in per relation
        self.money = np.zeros((1024, 4))  # paid and received (US cents), payments out and in
        self.first = np.zeros(1024, dtype=np.int64)

    def grow(self, node_types: np.ndarray | list[int], first: int) -> None:
        """Rows for new nodes (in id order), first seen at ``first`` µs."""
        extra = len(node_types)
        need = self.size + extra
        if need > len(self.first):
            cap = max(need, 2 * len(self.first))
            self.node_type = _grown(self.node_type, cap)
            self.degree = _grown(self.degree, cap)
            self.money = _grown(self.money, cap)
            self.first = _grown(self.first, cap)
        self.node_type[self.size : need] = node_types
        self.first[self.size : need] = first
        self.size = need

    def new_edge(self, src: int, dst: int, relation: int) -> None:
        column = _RELATION_COLUMN[relation]
        if column >= 0:
            self.degree[src, column] += 1.0
            self.degree[dst, _R + column] += 1.0

    def event(self, src: int, dst: int, relation: int, cents: int) -> None:
        if relation == Relation.PAYS:
            money = self.money
            money[src, 0] += cents
            money[dst, 1] += cents
            money[src, 2] += 1.0
            money[dst, 3] += 1.0

    def features(self, nodes: np.ndarray, now: int) -> np.ndarray:
        """Rows of :func:`node_features` for ``nodes`` as of ``now``, every counted event being
        strictly earlier (the owner's job)."""
        out = np.zeros((len(nodes), len(NODE_FEATURE_NAMES)), dtype=np.float32)
        out[np.arange(len(nodes)), self.node_type[nodes]] = 1.0
        out[:, _TYPES:_AMOUNTS] = np.log1p(self.degree[nodes])
        money = self.money[nodes].copy()
        money[:, :2] /= 100.0
        out[:, _AMOUNTS:_AGE] = np.log1p(money)
        out[:, _AGE] = np.log1p((now - self.first[nodes]) / MICROS_PER_DAY)
        return out


def _grown(array: np.ndarray, cap: int) -> np.ndarray:
    grown = np.zeros((cap, *array.shape[1:]), dtype=array.dtype)
    grown[: len(array)] = array
    return grown


def neighbour_aggregates(store: GraphStore, x: np.ndarray, as_of: int) -> np.ndarray:
    """GADBench's neighbour aggregation for tree models: each node's own features, the mean of
    its one-hop neighbours' and the mean of those means (two hops), over edges first seen
    before ``as_of``, each edge counted once per direction."""
    from scipy import sparse

    edges = store.edges()
    visible = edges["first_seen"] < as_of
    src, dst = edges["src"][visible], edges["dst"][visible]
    n = store.num_nodes
    rows = np.concatenate([src, dst])
    cols = np.concatenate([dst, src])
    a = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    degree = np.asarray(a.sum(axis=1)).ravel()
    inverse = sparse.diags(np.where(degree > 0, 1.0 / np.maximum(degree, 1), 0.0))
    mean = inverse @ a
    one = mean @ x
    two = mean @ one
    return np.hstack([x, one, two]).astype(np.float32)


def aggregate_names() -> list[str]:
    return [
        *NODE_FEATURE_NAMES,
        *(f"mean1_{n}" for n in NODE_FEATURE_NAMES),
        *(f"mean2_{n}" for n in NODE_FEATURE_NAMES),
    ]


# -- labels -----------------------------------------------------------------------------------


def rented_shops(frame: pl.DataFrame) -> pl.Series:
    """The shops rented for a :data:`SHOP_RECEIVES` typology: the payees of its purchases whose
    payer is not itself paid at one. Victims pay rented shops; the crew's check of a shop is the
    shop paying another, honest, merchant, so a purchase whose payer victims pay is a check."""
    channel = pl.col("channel")
    sales = frame.filter(
        pl.col("typology").is_in(list(SHOP_RECEIVES)).fill_null(False)
        & pl.col("mcc").is_not_null()
        & (channel != _CASH_IN)
        & (channel != _CASH_OUT)
    )
    paid = sales.get_column("payee_id").implode()
    return sales.filter(~pl.col("payer_id").is_in(paid)).get_column("payee_id").unique()


def bad_accounts(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per account that some fraud label names bad: ``account_id``, ``known_at`` (the
    first such label's ``label_ts``), ``active_at`` (its first bad payment's ``ts``) and the
    ``typology`` of that payment.

    The rules are the module docstring's; a missing ``label_ts`` reads as the payment time plus
    30 days, the schema's default.
    """
    empty = pl.DataFrame(
        schema={
            "account_id": pl.String,
            "known_at": pl.Datetime("us", "UTC"),
            "active_at": pl.Datetime("us", "UTC"),
            "typology": pl.String,
        }
    )
    if "is_fraud" not in frame.columns:
        return empty
    rows = frame.filter(pl.col("is_fraud").fill_null(False))
    if "typology" not in rows.columns:
        rows = rows.with_columns(typology=pl.lit(None, pl.String))
    if "label_ts" not in rows.columns:
        rows = rows.with_columns(label_ts=pl.lit(None, pl.Datetime("us", "UTC")))
    if "mcc" not in rows.columns:
        rows = rows.with_columns(mcc=pl.lit(None, pl.String))
    rows = rows.filter(~pl.col("typology").is_in(list(NO_BAD_ACCOUNT)).fill_null(False))
    rows = rows.with_columns(
        known=pl.col("label_ts").fill_null(pl.col("ts") + pl.duration(days=30)),
        victim_pays=pl.col("typology").is_in(list(VICTIM_PAYS)).fill_null(True),
        shop_receives=pl.col("typology").is_in(list(SHOP_RECEIVES)).fill_null(False),
    )
    cash_in = pl.col("channel") == _CASH_IN
    cash_out = pl.col("channel") == _CASH_OUT
    merchant = pl.col("mcc").is_not_null() & ~cash_in & ~cash_out
    transfer = ~cash_in & ~cash_out & ~merchant
    shops = set(rented_shops(rows).to_list())
    # payees of fraud transfers (mules, collectors, laundering receivers), of cash deposits and
    # of purchases at rented shops
    payees = rows.filter(
        transfer | cash_in | (merchant & pl.col("payee_id").is_in(list(shops)))
    ).select(pl.col("payee_id").alias("account_id"), "known", "ts", "typology")
    receivers = set(payees.get_column("account_id").to_list())
    victim_buys = merchant & pl.col("shop_receives") & ~pl.col("payer_id").is_in(list(receivers))
    payer_bad = (
        cash_out
        | (merchant & ~victim_buys)
        | (transfer & (~pl.col("victim_pays") | pl.col("payer_id").is_in(list(receivers))))
    )
    payers = rows.filter(payer_bad).select(
        pl.col("payer_id").alias("account_id"), "known", "ts", "typology"
    )
    both = pl.concat([payees, payers])
    if both.height == 0:
        return empty
    return (
        both.sort("ts")
        .group_by("account_id")
        .agg(
            pl.col("known").min().alias("known_at"),
            pl.col("ts").min().alias("active_at"),
            pl.col("typology").first(),
        )
        .sort("known_at", "account_id")
        .with_columns(pl.col("known_at", "active_at").cast(pl.Datetime("us", "UTC")))
    )


def account_nodes(store: GraphStore, as_of: int, adjacency: Adjacency | None = None) -> np.ndarray:
    """Ids of the account nodes with at least one edge first seen before ``as_of``."""
    adjacency = adjacency or store.adjacency()
    accounts = np.flatnonzero(adjacency.node_type == NodeType.ACCOUNT)
    return accounts[adjacency.degree(accounts, as_of) > 0]


def node_ids(store: GraphStore, account_ids: list[str]) -> np.ndarray:
    """Store ids of accounts, -1 for those the store lacks."""
    return np.array(
        [
            -1 if (node := store.node_id(NodeType.ACCOUNT, key)) is None else node
            for key in account_ids
        ],
        dtype=np.int64,
    )
