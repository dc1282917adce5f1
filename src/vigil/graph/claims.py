"""Claim fraud on the claims graph: point-in-time features, GeniePath and its baselines, scoring
with reasons in words, and model folders.

**Time.** A claim is scored when it is filed, so it may see only what was there then: the claims
filed before it and the fraud labels known before it. The claims table has no label time, so a
label is taken as known :attr:`ClaimsConfig.label_delay_days` (30) after filing, the time an
investigation takes; online, :meth:`ClaimsHistory.label` records one when it arrives. Everything
is read *as of* ``ts + 1 µs``: the graph once this claim has joined it (its own edges to its
claimant, phone, address, payout account and provider, which the store shows only strictly
after their first-seen time) and nothing later. Its own label, released a month on, never.

**Graph.** :meth:`GraphStore.add_claims` links each claim to five identifier nodes; two claims
sharing one are two hops apart. The GNNs see a sampled neighbourhood of the claim as of its
moment (``NeighborSampler``, most recent first: the claim, its identifiers, their latest earlier
claims), with node features: the node type; for claims, their own fields (amount in US dollars,
amount against the line's norm, round amount, line of business, age) and their label if known
by then; for identifiers, counts as of then (claims, claims in the last 30 days, distinct
claimants, phones, addresses and payout accounts among them, known fraud, known outcomes).
Edge attributes are the sampler's (relation, direction, amount, age). The LightGBM baseline
reads the same counts flattened per identifier of the claim; the own-fields baseline only the
claim's own record.

**Online.** :class:`ClaimsScorer` adds each new claim to the history (the store's bulk path,
one small frame per request) and rebuilds the count index and the store's CSR snapshot when
the history has changed, then scores the claims as of their own times: the same code the bulk
scorer runs, so online equals offline (a test holds them to it).
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import polars as pl
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from vigil.evaluation.metrics import FPR_TARGETS
from vigil.evaluation.metrics import recall_at_fpr as _engine_recall_at_fpr
from vigil.graph.nn import MODEL_NAMES, build_model
from vigil.graph.sampler import EDGE_ATTR_NAMES, NeighborSampler
from vigil.graph.store import Adjacency, GraphStore, NodeType, Relation, to_micros
from vigil.models.calibration import Calibrator
from vigil.models.gbdt import DEFAULT_PARAMS
from vigil.money import USD_CENTS_PER_MINOR, UnknownCurrencyError
from vigil.schema.records import parse_timestamp
from vigil.schema.tables import CLAIMS
from vigil.world.claims import TYPOLOGY_COLUMN

US_PER_DAY = 86_400_000_000
_NEVER = np.iinfo(np.int64).max
_LOG_SCALE = 1e6  #: log amounts are summed as integers in millionths

#: The identifiers a claim gives, in the store's slot order, with their short names.
SLOTS = ("claimant_id", "phone", "address_id", "bank_account", "provider_id")
SLOT_NAMES = ("claimant", "phone", "address", "bank", "provider")
_SLOT_RELATIONS = (
    Relation.FILED_BY,
    Relation.GIVES_PHONE,
    Relation.GIVES_ADDRESS,
    Relation.PAID_TO,
    Relation.SERVED_BY,
)
#: Node types of the claims graph, in the order of the one-hot node-type features.
_GRAPH_TYPES = (
    NodeType.CLAIM,
    NodeType.CLAIMANT,
    NodeType.PHONE,
    NodeType.ADDRESS,
    NodeType.BANK_ACCOUNT,
    NodeType.PROVIDER,
)
#: What an identifier's counts hold, as of a moment (see :meth:`_Index.stats`).
IDENT_STATS = (
    "claims",
    "claims_recent",
    "claimants",
    "phones",
    "addresses",
    "banks",
    "fraud_known",
    "labelled_known",
    "age_days",
)
#: Of the distinct counts, the slot whose identifiers they count (claimants, phones, ...).
_DISTINCT_SLOTS = {"claimants": 0, "phones": 1, "addresses": 2, "banks": 3}
RECORD_FIELDS = tuple(c.name for c in CLAIMS.columns if not c.label)
BOOSTED = ("lgbm_neighbour", "lgbm_own")
#: The models that read nothing of the graph: the claim's own record only (the ablation's
#: "without the graph layer").
GRAPHLESS = frozenset({"lgbm_own"})
ALL_MODELS = (*MODEL_NAMES, *BOOSTED)
HINTS = ("pay", "review", "investigate")


@dataclass(frozen=True)
class ClaimsConfig:
    """Every knob of claims training and scoring; stored in the model folder."""

    label_delay_days: float = 30.0  #: a claim's outcome is known this long after filing
    recent_days: float = 30.0  #: window of the "recent claims" counts
    #: 0: a claim is scored at filing. A positive value scores it that many days later (at
    #: payout review, say), seeing the claims filed since; it must stay under the label delay.
    review_after_days: float = 0.0
    fanouts: tuple[int, ...] = (5, 10)  #: the claim's identifiers, then their latest claims
    hidden: int = 32
    epochs: int = 40
    patience: int = 6  #: epochs without a better validation AUPRC before stopping
    batch_size: int = 256
    lr: float = 0.005
    weight_decay: float = 1e-4
    recall_target: float = 0.90  #: the review threshold is set to reach it on validation
    accuracy_target: float = 0.95  #: reported: the most recall that keeps this accuracy
    investigate_precision: float = 0.80  #: the investigate threshold's validation precision
    validation_share: float = 0.25  #: latest share of the labelled training claims
    max_lines: int = 8  #: lines of business (policy id prefixes) one-hot encoded
    seed: int = 7
    threads: int = 1  #: torch and LightGBM threads (a shared 2-core machine by default)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClaimsConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "fanouts" in known:
            known["fanouts"] = tuple(known["fanouts"])
        return cls(**known)


# --- the history: claims so far, as a graph and as count timelines -------------------------


def _usd(amount: np.ndarray, currency: pl.Series) -> np.ndarray:
    unknown = set(currency.unique().to_list()) - set(USD_CENTS_PER_MINOR)
    if unknown:
        raise UnknownCurrencyError(
            f"currencies {sorted(unknown)} have no reference rate; known: "
            f"{sorted(USD_CENTS_PER_MINOR)}"
        )
    cents = currency.replace_strict(USD_CENTS_PER_MINOR, return_dtype=pl.Float64).to_numpy()
    return np.maximum(amount * cents / 100.0, 0.01)


def _round_amount(amount: np.ndarray, currency: pl.Series) -> np.ndarray:
    """A multiple of the power of ten just under 100 US dollars in the claim's currency: the
    round figure of an estimate rather than an invoice."""
    cents = currency.replace_strict(USD_CENTS_PER_MINOR, return_dtype=pl.Float64).to_numpy()
    step = 10.0 ** np.floor(np.log10(100.0 * 100.0 / cents))
    return (amount % step.astype(np.int64)) == 0


def _trailing_zeros(amount: np.ndarray) -> np.ndarray:
    out = np.zeros(len(amount), dtype=np.int64)
    rest = amount.copy()
    for _ in range(15):
        zero = (rest % 10 == 0) & (rest > 0)
        if not zero.any():
            break
        out += zero
        rest = np.where(zero, rest // 10, rest)
    return out


def normalise_claims(frame: pl.DataFrame) -> pl.DataFrame:
    """The contract columns of a claims frame (labels kept if present), with the line of
    business (the policy id without its last part: ``POL-M-000123`` is line ``POL-M``)."""
    missing = [c for c in CLAIMS.required if c not in frame.columns]
    if missing:
        raise ValueError(f"claims need columns {missing}")
    text = [c.name for c in CLAIMS.columns if not c.label and c.name not in ("ts", "amount")]
    out = frame.select(
        *(
            pl.col(c).cast(pl.String) if c in frame.columns else pl.lit(None, pl.String).alias(c)
            for c in text
        ),
        pl.col("ts").cast(pl.Datetime("us", "UTC")),
        pl.col("amount").cast(pl.Int64),
        (
            pl.col("is_fraud").cast(pl.Boolean)
            if "is_fraud" in frame.columns
            else pl.lit(None, pl.Boolean).alias("is_fraud")
        ),
    )
    return out.with_columns(line=pl.col("policy_id").str.replace(r"-[^-]*$", ""))


class _Timeline:
    """Entries (key, time[, weight]) answering "how many (how much) under this key before t",
    for whole arrays of questions with two binary searches: (key, rank of time) is packed into
    one sortable int64, as the store's CSR snapshot does. Times are ranked against one sorted
    vocabulary shared by every timeline of an index, so each is ranked once."""

    def __init__(
        self, keys: np.ndarray, ranks: np.ndarray, stride: int, weights: np.ndarray | None = None
    ):
        self.stride = np.int64(stride)
        packed = keys.astype(np.int64) * self.stride + ranks
        order = np.argsort(packed, kind="stable")
        self.packed = packed[order]
        self.cum = None
        if weights is not None:
            # Integer weights: a running sum of floats would make one key's total depend on
            # the other keys before it, and a longer history must not change an older answer.
            self.cum = np.concatenate([[0], np.cumsum(weights[order].astype(np.int64))])

    def before(self, keys: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        """Entries under each key whose time ranks below each query rank (the number of
        vocabulary times strictly before the query time); weights summed if weighted."""
        base = keys.astype(np.int64) * self.stride
        hi = np.searchsorted(self.packed, base + ranks)
        lo = np.searchsorted(self.packed, base)
        if self.cum is None:
            return hi - lo
        return self.cum[hi] - self.cum[lo]


def _first_pairs(a: np.ndarray, b: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each distinct (a, b) pair once, at the first time (or rank) it was seen."""
    keep = (a >= 0) & (b >= 0)
    a, b, ts = a[keep], b[keep], ts[keep]
    key = (a << 31) | b
    if len(ts) and not (np.diff(ts) >= 0).all():
        order = np.argsort(ts, kind="stable")  # claims filed out of order: time order first
        a, ts, key = a[order], ts[order], key[order]
    _, first = np.unique(key, return_index=True)  # the first row of each pair is its earliest
    return a[first], ts[first]


@dataclass(frozen=True, eq=False)
class _Index:
    """Everything read from one version of the history: the CSR snapshot, each claim's
    identifier nodes, and the count timelines behind :data:`IDENT_STATS`."""

    adjacency: Adjacency
    ident: np.ndarray  #: int64 [claims, 5], node id per slot, -1 when not given
    node_row: np.ndarray  #: int64 [nodes], the claim row of a claim node, -1 otherwise
    recent_us: int
    events: _Timeline
    amounts: _Timeline  #: weights: log US dollars in millionths
    distinct: dict[str, _Timeline]
    fraud: _Timeline
    labelled: _Timeline

    times: np.ndarray  #: the sorted time vocabulary the timelines rank against
    first_seen: np.ndarray  #: µs, per node: its first claim (any claim before a moment is later)

    @classmethod
    def build(cls, history: ClaimsHistory, recent_days: float) -> _Index:
        adjacency = history.store.adjacency()
        n = len(history)
        node_row = np.full(adjacency.num_nodes, -1, dtype=np.int64)
        node_row[history.node] = np.arange(n)
        edges = history.store.edges()
        ident = np.full((n, len(SLOTS)), -1, dtype=np.int64)
        for slot, relation in enumerate(_SLOT_RELATIONS):
            sel = edges["relation"] == relation
            ident[node_row[edges["src"][sel]], slot] = edges["dst"][sel]
        labelled_rows = history.label >= 0
        times = np.unique(np.concatenate([history.ts, history.label_at[labelled_rows]]))
        stride = len(times) + 1
        ts_rank = np.searchsorted(times, history.ts)
        label_rank = np.searchsorted(times, history.label_at)
        rows = np.repeat(np.arange(n), len(SLOTS))
        flat = ident.ravel()
        given = flat >= 0
        keys, rows = flat[given], rows[given]
        distinct = {}
        for name, other in _DISTINCT_SLOTS.items():
            parts = [
                _first_pairs(ident[:, s], ident[:, other], ts_rank)
                for s in range(len(SLOTS))
                if s != other
            ]
            distinct[name] = _Timeline(
                np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), stride
            )
        fraud = history.label[rows] == 1
        labelled = history.label[rows] >= 0
        first_seen = np.full(adjacency.num_nodes, _NEVER, dtype=np.int64)
        np.minimum.at(first_seen, keys, history.ts[rows])
        return cls(
            adjacency=adjacency,
            ident=ident,
            node_row=node_row,
            recent_us=round(recent_days * US_PER_DAY),
            events=_Timeline(keys, ts_rank[rows], stride),
            amounts=_Timeline(
                keys, ts_rank[rows], stride, np.rint(history.log_usd[rows] * _LOG_SCALE)
            ),
            distinct=distinct,
            fraud=_Timeline(keys[fraud], label_rank[rows[fraud]], stride),
            labelled=_Timeline(keys[labelled], label_rank[rows[labelled]], stride),
            times=times,
            first_seen=first_seen,
        )

    def stats(self, nodes: np.ndarray, moments: np.ndarray) -> np.ndarray:
        """:data:`IDENT_STATS` of identifier nodes as of each moment (zeros where -1)."""
        out = np.zeros((len(nodes), len(IDENT_STATS)), dtype=np.float64)
        ok = nodes >= 0
        k = nodes[ok]
        rank = np.searchsorted(self.times, moments[ok])
        claims = self.events.before(k, rank)
        out[ok, 0] = claims
        recent = np.searchsorted(self.times, moments[ok] - self.recent_us)
        out[ok, 1] = claims - self.events.before(k, recent)
        for j, name in enumerate(("claimants", "phones", "addresses", "banks"), start=2):
            out[ok, j] = self.distinct[name].before(k, rank)
        out[ok, 6] = self.fraud.before(k, rank)
        out[ok, 7] = self.labelled.before(k, rank)
        first = self.first_seen[k]
        out[ok, 8] = np.where(claims > 0, (moments[ok] - first) / US_PER_DAY, 0.0)
        return out

    def log_amount_sum(self, nodes: np.ndarray, moments: np.ndarray) -> np.ndarray:
        out = np.zeros(len(nodes))
        ok = nodes >= 0
        out[ok] = self.amounts.before(nodes[ok], np.searchsorted(self.times, moments[ok]))
        return out / _LOG_SCALE


class ClaimsHistory:
    """The claims filed so far, their labels as they become known, and the graph they form.

    Claims come in through :meth:`add` (a frame, in bulk or one row at a time); a label in the
    frame is taken as known ``label_delay_days`` after filing, and :meth:`label` records one
    that arrives later. Reads go through :meth:`index`, rebuilt when anything has changed.
    """

    def __init__(
        self,
        label_delay_days: float = 30.0,
        recent_days: float = 30.0,
        review_after_days: float = 0.0,
    ):
        if not 0 <= review_after_days < label_delay_days:
            raise ValueError(
                "need 0 <= review_after_days < label_delay_days: a claim's own label is never "
                f"known when it is scored (got {review_after_days} and {label_delay_days})"
            )
        self.label_delay_us = round(label_delay_days * US_PER_DAY)
        self.review_us = round(review_after_days * US_PER_DAY)
        self.recent_days = recent_days
        self.store = GraphStore()
        self.frame = normalise_claims(pl.DataFrame(schema=CLAIMS.polars_schema()))
        self._rows: dict[str, int] = {}
        self.ts = np.zeros(0, np.int64)
        self.amount = np.zeros(0, np.int64)
        self.log_usd = np.zeros(0)
        self.round = np.zeros(0, bool)
        self.zeros = np.zeros(0, np.int64)
        self.label = np.zeros(0, np.int8)  #: 1 fraud, 0 honest, -1 unknown
        self.label_at = np.zeros(0, np.int64)  #: when the label became known (µs)
        self.node = np.zeros(0, np.int64)  #: the claim's node in the store
        #: Line of business and currency as ids into ``names[column]`` (first seen first).
        self.names: dict[str, list[str]] = {"line": [], "currency": []}
        self.ids: dict[str, np.ndarray] = {
            "line": np.zeros(0, np.int64),
            "currency": np.zeros(0, np.int64),
        }
        self._name_ids: dict[str, dict[str, int]] = {"line": {}, "currency": {}}
        self._version = 0
        self._index: tuple[int, _Index] | None = None

    @classmethod
    def of(cls, frame: pl.DataFrame | None, config: ClaimsConfig | None = None) -> ClaimsHistory:
        """A history under ``config``'s time rules, holding ``frame``'s claims if given."""
        config = config or ClaimsConfig()
        history = cls(config.label_delay_days, config.recent_days, config.review_after_days)
        if frame is not None:
            history.add(frame)
        return history

    def __len__(self) -> int:
        return len(self.ts)

    def row(self, claim_id: str) -> int | None:
        return self._rows.get(claim_id)

    def add(self, frame: pl.DataFrame) -> np.ndarray:
        """Append claims (contract columns; ``is_fraud`` optional); returns their rows. A claim
        id seen before is an error: a claim is filed once."""
        frame = normalise_claims(frame)
        ids = frame.get_column("claim_id").to_list()
        clash = [c for c in ids if c in self._rows]
        if clash or len(set(ids)) != len(ids):
            raise ValueError(f"claim ids filed twice: {sorted(set(clash) or ids)[:5]}")
        if frame.get_column("amount").min() is not None and frame["amount"].min() <= 0:
            raise ValueError("claim amounts must be positive (minor units)")
        n0 = len(self)
        ts = frame.get_column("ts").dt.epoch("us").to_numpy()
        amount = frame.get_column("amount").to_numpy().astype(np.int64)
        currency = frame.get_column("currency")
        usd = _usd(amount, currency)
        fraud = frame.get_column("is_fraud")
        label = fraud.cast(pl.Int8).fill_null(-1).to_numpy().astype(np.int8)
        self.store.add_claims(frame)
        nodes = np.array([self.store.node_id(NodeType.CLAIM, c) for c in ids], dtype=np.int64)
        self.ts = np.concatenate([self.ts, ts])
        self.amount = np.concatenate([self.amount, amount])
        self.log_usd = np.concatenate([self.log_usd, np.log(usd)])
        self.round = np.concatenate([self.round, _round_amount(amount, currency)])
        self.zeros = np.concatenate([self.zeros, _trailing_zeros(amount)])
        self.label = np.concatenate([self.label, label])
        known_at = np.where(label >= 0, ts + self.label_delay_us, _NEVER)
        self.label_at = np.concatenate([self.label_at, known_at])
        self.node = np.concatenate([self.node, nodes])
        for column in ("line", "currency"):
            known, names = self._name_ids[column], self.names[column]
            values = frame.get_column(column).fill_null("").to_list()
            for value in values:
                if value not in known:
                    known[value] = len(names)
                    names.append(value)
            new_ids = np.array([known[v] for v in values], dtype=np.int64)
            self.ids[column] = np.concatenate([self.ids[column], new_ids])
        self.frame = pl.concat([self.frame, frame], how="vertical_relaxed").rechunk()
        self._rows.update(zip(ids, range(n0, n0 + len(ids)), strict=True))
        self._version += 1
        return np.arange(n0, len(self))

    def label(self, claim_id: str, is_fraud: bool, known_at: datetime) -> None:
        """Record a claim's outcome as known from ``known_at`` on (an investigation closed)."""
        row = self._rows.get(claim_id)
        if row is None:
            raise KeyError(f"claim '{claim_id}' is not in the history")
        self.label[row] = 1 if is_fraud else 0
        self.label_at[row] = max(to_micros(known_at), self.ts[row] + 1)
        self._version += 1

    def index(self) -> _Index:
        if self._index is None or self._index[0] != self._version:
            self._index = (self._version, _Index.build(self, self.recent_days))
        return self._index[1]

    def moments(self, rows: np.ndarray) -> np.ndarray:
        """The moment each claim is scored at, everything read strictly before it: at filing,
        just after the claim joined the graph (``ts`` + 1 µs); with a review delay, the payout
        instant ``ts`` + delay itself, so a claim filed at that very instant is not seen."""
        if self.review_us == 0:
            return self.ts[rows] + 1
        return self.ts[rows] + self.review_us


# --- features --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureSpace:
    """What features are read against, fitted on the training claims: lines of business and
    currencies with their codes, and the typical (median log-dollar) amount of each line."""

    lines: tuple[str, ...]
    currencies: tuple[str, ...]
    line_median: tuple[float, ...]  #: per line, then one for any other line
    log_usd_mean: float
    log_usd_std: float

    @classmethod
    def fit(cls, history: ClaimsHistory, rows: np.ndarray, max_lines: int) -> FeatureSpace:
        part = history.frame[rows.tolist()]
        lines = part.get_column("line").value_counts(sort=True).head(max_lines)
        names = tuple(sorted(lines.get_column("line").to_list()))
        codes = _codes(part.get_column("line"), names)
        log_usd = history.log_usd[rows]
        median = [
            float(np.median(log_usd[codes == i])) if (codes == i).any() else float("nan")
            for i in range(len(names))
        ]
        overall = float(np.median(log_usd))
        median = [overall if math.isnan(m) else m for m in median] + [overall]
        currencies = tuple(sorted(part.get_column("currency").unique().to_list()))
        spread = max(float(log_usd.std()), 1e-6)
        return cls(names, currencies, tuple(median), float(log_usd.mean()), spread)

    def line_codes(self, history: ClaimsHistory, rows: np.ndarray) -> np.ndarray:
        return _lookup(history, "line", self.lines)[history.ids["line"][rows]]

    def currency_codes(self, history: ClaimsHistory, rows: np.ndarray) -> np.ndarray:
        return _lookup(history, "currency", self.currencies)[history.ids["currency"][rows]]

    def line_norm(self, history: ClaimsHistory, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.line_median)[self.line_codes(history, rows)]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpace:
        return cls(
            tuple(data["lines"]),
            tuple(data["currencies"]),
            tuple(data["line_median"]),
            float(data["log_usd_mean"]),
            float(data["log_usd_std"]),
        )


def _lookup(history: ClaimsHistory, column: str, vocabulary: Sequence[str]) -> np.ndarray:
    """The vocabulary code of each of the history's ids of ``column``."""
    mapping = {v: i for i, v in enumerate(vocabulary)}
    return np.array(
        [mapping.get(name, len(vocabulary)) for name in history.names[column]] or [0],
        dtype=np.int64,
    )


def _codes(values: pl.Series, vocabulary: Sequence[str]) -> np.ndarray:
    """Index of each value in ``vocabulary``; ``len(vocabulary)`` for anything else."""
    mapping = {v: i for i, v in enumerate(vocabulary)}
    return (
        values.replace_strict(mapping, default=len(vocabulary), return_dtype=pl.Int64)
        .fill_null(len(vocabulary))
        .to_numpy()
    )


OWN_FEATURES = ("log_amount_usd", "line", "currency", "round_amount", "trailing_zeros")
CATEGORICAL = ("line", "currency")


def _own(history: ClaimsHistory, rows: np.ndarray, space: FeatureSpace) -> np.ndarray:
    return np.column_stack(
        [
            history.log_usd[rows],
            space.line_codes(history, rows),
            space.currency_codes(history, rows),
            history.round[rows],
            history.zeros[rows],
        ]
    ).astype(np.float64)


def _slot_stat_names() -> list[tuple[int, int, str]]:
    """(slot, stat, name) of the per-identifier columns; a slot's count of its own kind
    (a phone's distinct phones) is always 1 and left out."""
    out = []
    for slot, slot_name in enumerate(SLOT_NAMES):
        for stat, stat_name in enumerate(IDENT_STATS):
            if _DISTINCT_SLOTS.get(stat_name) == slot:
                continue
            out.append((slot, stat, f"{slot_name}_{stat_name}"))
    return out


_SLOT_STATS = _slot_stat_names()
NEIGHBOUR_FEATURES = (
    *OWN_FEATURES,
    *(name for _, _, name in _SLOT_STATS),
    "amount_vs_provider",
    "amount_vs_line",
    "linked_fraud_known",
    "linked_other_claimants",
)


@dataclass(frozen=True)
class ClaimView:
    """What the history says about claims as of their own moments: each identifier's
    :data:`IDENT_STATS` (``stats[row, slot, stat]``, the claim itself included) and the
    provider's mean log amount over its earlier claims."""

    rows: np.ndarray
    stats: np.ndarray  #: [claims, 5, len(IDENT_STATS)]
    provider_log_mean: np.ndarray  #: nan when the provider has no earlier claim

    @classmethod
    def of(cls, history: ClaimsHistory, rows: np.ndarray) -> ClaimView:
        index = history.index()
        moments = history.moments(rows)
        ident = index.ident[rows]
        stats = np.stack([index.stats(ident[:, s], moments) for s in range(len(SLOTS))], axis=1)
        provider = len(SLOTS) - 1
        earlier = stats[:, provider, 0] - 1
        own = np.rint(history.log_usd[rows] * _LOG_SCALE) / _LOG_SCALE
        total = index.log_amount_sum(ident[:, provider], moments) - own
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(earlier > 0, total / np.maximum(earlier, 1), np.nan)
        return cls(rows, stats, mean)


def neighbour_matrix(
    history: ClaimsHistory, rows: np.ndarray, space: FeatureSpace, view: ClaimView | None = None
) -> np.ndarray:
    """:data:`NEIGHBOUR_FEATURES` of claims: own fields and, per identifier, the counts around
    it as of filing (NaN where the claim gave no such identifier)."""
    view = view or ClaimView.of(history, rows)
    ident = history.index().ident[rows]
    cols = [_own(history, rows, space)]
    slot_cols = np.column_stack([view.stats[:, s, k] for s, k, _ in _SLOT_STATS])
    missing = np.column_stack([ident[:, s] < 0 for s, _, _ in _SLOT_STATS])
    cols.append(np.where(missing, np.nan, slot_cols))
    log_usd = history.log_usd[rows]
    linked = [0, 1, 2, 3]  # claimant, phone, address, bank: not the provider, a hub by trade
    fraud = view.stats[:, linked, 6].sum(axis=1)
    others = np.clip(view.stats[:, 1:4, 2] - 1, 0, None).sum(axis=1)
    cols.append(
        np.column_stack(
            [
                log_usd - view.provider_log_mean,
                log_usd - space.line_norm(history, rows),
                fraud,
                others,
            ]
        )
    )
    return np.column_stack(cols)


def own_matrix(history: ClaimsHistory, rows: np.ndarray, space: FeatureSpace) -> np.ndarray:
    return _own(history, rows, space)


def _node_dim(space: FeatureSpace) -> int:
    return len(_GRAPH_TYPES) + 6 + len(space.lines) + 1 + len(IDENT_STATS)


def graph_batch(
    history: ClaimsHistory, rows: np.ndarray, sampler: NeighborSampler, space: FeatureSpace
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x, edge_index, edge_attr, seed_index) of the claims' neighbourhoods, each sampled and
    featured as of the claim's own moment (one disjoint tree per claim)."""
    index = history.index()
    moments = history.moments(rows)
    sub = sampler.sample(history.node[rows], moments, np.random.default_rng(0))
    n_id = sub.n_id.numpy()
    kind = sub.node_type.numpy()
    moment = moments[sub.batch.numpy()]
    x = np.zeros((len(n_id), _node_dim(space)), dtype=np.float32)
    type_col = np.searchsorted(np.array([int(t) for t in _GRAPH_TYPES]), kind)
    x[np.arange(len(n_id)), type_col] = 1.0
    base = len(_GRAPH_TYPES)
    claim = kind == NodeType.CLAIM
    if claim.any():
        r = index.node_row[n_id[claim]]
        t = moment[claim]
        known = history.label_at[r] < t
        x[claim, base + 0] = (history.log_usd[r] - space.log_usd_mean) / space.log_usd_std
        x[claim, base + 1] = history.log_usd[r] - space.line_norm(history, r)
        x[claim, base + 2] = history.round[r]
        x[claim, base + 3] = known & (history.label[r] == 1)
        x[claim, base + 4] = known & (history.label[r] == 0)
        x[claim, base + 5] = np.log1p(np.maximum(t - history.ts[r], 0) / US_PER_DAY)
        lines = space.line_codes(history, r)
        x[np.flatnonzero(claim), base + 6 + lines] = 1.0
    ident = ~claim
    if ident.any():
        stats = index.stats(n_id[ident], moment[ident])
        x[ident, base + 6 + len(space.lines) + 1 :] = np.log1p(stats)
    return (
        torch.from_numpy(x),
        sub.edge_index,
        sub.edge_attr,
        sub.seed_index,
    )


# --- models ----------------------------------------------------------------------------------


class _GraphPredictor:
    """A GNN from :mod:`vigil.graph.nn` over sampled claim neighbourhoods."""

    def __init__(
        self, name: str, module: torch.nn.Module, space: FeatureSpace, config: ClaimsConfig
    ):
        self.name, self.module, self.space, self.config = name, module, space, config

    @classmethod
    def build(cls, name: str, space: FeatureSpace, config: ClaimsConfig) -> _GraphPredictor:
        torch.manual_seed(config.seed)
        module = build_model(
            name, _node_dim(space), config.hidden, 1, edge_dim=len(EDGE_ATTR_NAMES)
        )
        return cls(name, module, space, config)

    def sampler(self, history: ClaimsHistory) -> NeighborSampler:
        return NeighborSampler(history.index().adjacency, self.config.fanouts, strategy="recent")

    def batches(self, history: ClaimsHistory, rows: np.ndarray) -> list[tuple]:
        sampler = self.sampler(history)
        size = self.config.batch_size
        return [
            graph_batch(history, rows[i : i + size], sampler, self.space)
            for i in range(0, len(rows), size)
        ]

    def raw(
        self, history: ClaimsHistory, rows: np.ndarray, batches: list | None = None
    ) -> np.ndarray:
        if len(rows) == 0:
            return np.zeros(0)
        self.module.eval()
        out = []
        with torch.no_grad():
            for x, edge_index, edge_attr, seeds in batches or self.batches(history, rows):
                logits = self.module(x, edge_index, edge_attr)[seeds, 0]
                out.append(torch.sigmoid(logits).double().numpy())
        return np.concatenate(out)

    def fit(
        self,
        history: ClaimsHistory,
        train: np.ndarray,
        y_train: np.ndarray,
        valid: np.ndarray,
        y_valid: np.ndarray,
    ) -> dict[str, float]:
        config = self.config
        torch.manual_seed(config.seed)
        rng = np.random.default_rng(config.seed)
        order = rng.permutation(len(train))
        train_batches = self.batches(history, train[order])
        labels = torch.from_numpy(y_train[order].astype(np.float32))
        valid_batches = self.batches(history, valid)
        positives = max(float(y_train.sum()), 1.0)
        pos_weight = torch.tensor((len(y_train) - positives) / positives)
        optimiser = torch.optim.Adam(
            self.module.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        best, best_state, since, epochs = -1.0, None, 0, 0
        began = perf_counter()
        for _ in range(config.epochs):
            epochs += 1
            self.module.train()
            for b in rng.permutation(len(train_batches)):
                x, edge_index, edge_attr, seeds = train_batches[b]
                y = labels[b * config.batch_size : b * config.batch_size + len(seeds)]
                optimiser.zero_grad()
                logits = self.module(x, edge_index, edge_attr)[seeds, 0]
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    logits, y, pos_weight=pos_weight
                )
                loss.backward()
                optimiser.step()
            score = float(average_precision_score(y_valid, self.raw(history, valid, valid_batches)))
            if score > best + 1e-4:
                best, since = score, 0
                best_state = {k: v.detach().clone() for k, v in self.module.state_dict().items()}
            else:
                since += 1
                if since >= config.patience:
                    break
        if best_state is not None:
            self.module.load_state_dict(best_state)
        seconds = perf_counter() - began
        return {"epochs": float(epochs), "seconds_per_epoch": seconds / max(epochs, 1)}

    def save(self, folder: Path) -> None:
        torch.save(self.module.state_dict(), folder / "model.pt")

    def load(self, folder: Path) -> None:
        self.module.load_state_dict(torch.load(folder / "model.pt", weights_only=True))


class _BoostedPredictor:
    """LightGBM on neighbour-aggregated features, or on the claim's own fields only."""

    def __init__(self, name: str, space: FeatureSpace, config: ClaimsConfig):
        self.name, self.space, self.config = name, space, config
        self.booster: lgb.Booster | None = None

    @property
    def features(self) -> tuple[str, ...]:
        return NEIGHBOUR_FEATURES if self.name == "lgbm_neighbour" else OWN_FEATURES

    def matrix(self, history: ClaimsHistory, rows: np.ndarray, view: ClaimView | None = None):
        if self.name == "lgbm_neighbour":
            return neighbour_matrix(history, rows, self.space, view)
        return own_matrix(history, rows, self.space)

    def raw(self, history: ClaimsHistory, rows: np.ndarray, view: ClaimView | None = None):
        if len(rows) == 0:
            return np.zeros(0)
        assert self.booster is not None, "fit or load the model first"
        matrix = self.matrix(history, rows, view)
        return self.booster.predict(matrix, num_iteration=self.booster.best_iteration or None)

    def fit(self, history, train, y_train, valid, y_valid) -> dict[str, float]:
        params = {**DEFAULT_PARAMS, "num_threads": self.config.threads, "seed": self.config.seed}
        params["metric"] = "average_precision"
        names = list(self.features)
        cats = [c for c in CATEGORICAL if c in names]
        began = perf_counter()
        data = lgb.Dataset(
            self.matrix(history, train),
            y_train,
            feature_name=names,
            categorical_feature=cats,
            free_raw_data=False,
        )
        check = lgb.Dataset(self.matrix(history, valid), y_valid, reference=data)
        self.booster = lgb.train(
            params,
            data,
            num_boost_round=600,
            valid_sets=[check],
            callbacks=[lgb.early_stopping(50, verbose=False)],
        )
        return {
            "best_iteration": float(self.booster.best_iteration),
            "seconds": perf_counter() - began,
        }

    def save(self, folder: Path) -> None:
        assert self.booster is not None
        self.booster.save_model(folder / "booster.txt", num_iteration=self.booster.best_iteration)

    def load(self, folder: Path) -> None:
        self.booster = lgb.Booster(model_file=str(folder / "booster.txt"))


Predictor = _GraphPredictor | _BoostedPredictor


def _predictor(name: str, space: FeatureSpace, config: ClaimsConfig) -> Predictor:
    if name in MODEL_NAMES:
        return _GraphPredictor.build(name, space, config)
    if name in BOOSTED:
        return _BoostedPredictor(name, space, config)
    raise ValueError(f"unknown claims model {name!r}; choose one of {', '.join(ALL_MODELS)}")


# --- thresholds and metrics ------------------------------------------------------------------


def threshold_for_recall(raw: np.ndarray, labels: np.ndarray, recall: float) -> float:
    """The highest score threshold whose recall (``raw >= threshold``) reaches ``recall``."""
    positives = np.sort(raw[labels == 1])[::-1]
    if len(positives) == 0:
        raise ValueError("no fraud among the validation claims: cannot set a threshold")
    need = max(math.ceil(recall * len(positives) - 1e-9), 1)
    return float(positives[need - 1])


def threshold_for_precision(raw: np.ndarray, labels: np.ndarray, precision: float) -> float | None:
    """The lowest threshold whose precision reaches ``precision`` with at least 3 claims
    flagged; None when no threshold does."""
    order = np.argsort(-raw, kind="stable")
    hits = np.cumsum(labels[order] == 1)
    flagged = np.arange(1, len(order) + 1)
    ok = (hits / flagged >= precision) & (flagged >= 3)
    # A threshold flags every claim tied with it, so only the last of a run of ties counts.
    last_of_tie = np.ones(len(order), dtype=bool)
    last_of_tie[:-1] = raw[order][1:] != raw[order][:-1]
    ok &= last_of_tie
    if not ok.any():
        return None
    return float(raw[order][np.flatnonzero(ok)[-1]])


def threshold_for_accuracy(raw: np.ndarray, labels: np.ndarray, accuracy: float) -> float:
    """The lowest threshold (the most recall) whose accuracy still reaches ``accuracy``; the
    highest score (flag almost nothing) when none does. The other end of the issue's target:
    what recall 95% accuracy leaves room for."""
    order = np.argsort(-raw, kind="stable")
    hits = np.cumsum(labels[order] == 1)
    flagged = np.arange(1, len(order) + 1)
    positives = int((labels == 1).sum())
    correct = hits + (len(order) - flagged) - (positives - hits)
    last_of_tie = np.ones(len(order), dtype=bool)
    last_of_tie[:-1] = raw[order][1:] != raw[order][:-1]
    ok = (correct / max(len(order), 1) >= accuracy) & last_of_tie
    if not ok.any():
        return float(raw[order][0])
    return float(raw[order][np.flatnonzero(ok)[-1]])


def threshold_for_f1(raw: np.ndarray, labels: np.ndarray) -> float:
    """The threshold of best F1 (fraud as the positive class)."""
    order = np.argsort(-raw, kind="stable")
    hits = np.cumsum(labels[order] == 1)
    flagged = np.arange(1, len(order) + 1)
    f1 = 2 * hits / (flagged + max(int((labels == 1).sum()), 1))
    last_of_tie = np.ones(len(order), dtype=bool)
    last_of_tie[:-1] = raw[order][1:] != raw[order][:-1]
    f1 = np.where(last_of_tie, f1, -1.0)
    return float(raw[order][int(np.argmax(f1))])


def classification_metrics(
    raw: np.ndarray, labels: np.ndarray, threshold: float
) -> dict[str, float]:
    flagged = raw >= threshold
    fraud = labels == 1
    tp = int((flagged & fraud).sum())
    return {
        "claims": float(len(labels)),
        "fraud": float(fraud.sum()),
        "accuracy": float((flagged == fraud).mean()) if len(labels) else float("nan"),
        "precision": tp / max(int(flagged.sum()), 1),
        "recall": tp / max(int(fraud.sum()), 1),
        "flagged_share": float(flagged.mean()) if len(labels) else float("nan"),
        "auprc": float(average_precision_score(fraud, raw)) if fraud.any() else float("nan"),
        "roc_auc": float(roc_auc_score(fraud, raw))
        if 0 < fraud.sum() < len(fraud)
        else float("nan"),
    }


# --- the model folder ------------------------------------------------------------------------

MANIFEST = "manifest.json"


@dataclass
class ClaimsModel:
    """A trained claims model: predictor, calibration, thresholds and lineage."""

    name: str
    config: ClaimsConfig
    space: FeatureSpace
    predictor: Predictor
    calibrator: Calibrator
    threshold: float  #: raw score from which a claim is sent for review
    investigate_threshold: float | None  #: raw score from which it goes to investigators
    metrics: dict[str, float]
    trained_until: datetime | None
    data_fingerprint: str = ""
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    version: str = ""

    def __post_init__(self) -> None:
        if not self.version:
            stamp = self.created_at.strftime("%Y%m%dT%H%M%S")
            digest = hashlib.sha256(
                f"{self.name}{self.threshold}{self.data_fingerprint}{stamp}".encode()
            ).hexdigest()[:8]
            self.version = f"claims-{self.name}-{stamp}-{digest}"

    def raw(self, history: ClaimsHistory, rows: np.ndarray, view: ClaimView | None = None):
        if isinstance(self.predictor, _BoostedPredictor):
            return self.predictor.raw(history, rows, view)
        return self.predictor.raw(history, rows)

    def hint(self, raw: np.ndarray) -> list[str]:
        top = np.inf if self.investigate_threshold is None else self.investigate_threshold
        top = max(top, self.threshold)  # investigating implies reviewing
        level = (raw >= self.threshold).astype(int) + (raw >= top).astype(int)
        return [HINTS[i] for i in level]

    def save(self, folder: Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.predictor.save(folder)
        manifest = {
            "kind": "claims",
            "version": self.version,
            "model": self.name,
            "config": asdict(self.config),
            "space": self.space.to_dict(),
            "calibration": self.calibrator.to_dict(),
            "threshold": self.threshold,
            "investigate_threshold": self.investigate_threshold,
            "metrics": self.metrics,
            "trained_until": self.trained_until.isoformat() if self.trained_until else None,
            "data_fingerprint": self.data_fingerprint,
            "created_at": self.created_at.isoformat(),
        }
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        return folder

    @classmethod
    def load(cls, folder: Path) -> ClaimsModel:
        folder = Path(folder)
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{folder}: not a claims model (no {MANIFEST}); run `vigil claims train`"
            ) from None
        if manifest.get("kind") != "claims":
            raise ValueError(f"{folder}: a {manifest.get('kind')!r} bundle, not a claims model")
        config = ClaimsConfig.from_dict(manifest["config"])
        space = FeatureSpace.from_dict(manifest["space"])
        predictor = _predictor(manifest["model"], space, config)
        predictor.load(folder)
        until = manifest.get("trained_until")
        return cls(
            name=manifest["model"],
            config=config,
            space=space,
            predictor=predictor,
            calibrator=Calibrator.from_dict(manifest["calibration"]),
            threshold=float(manifest["threshold"]),
            investigate_threshold=manifest.get("investigate_threshold"),
            metrics=manifest.get("metrics", {}),
            trained_until=datetime.fromisoformat(until) if until else None,
            data_fingerprint=manifest.get("data_fingerprint", ""),
            created_at=datetime.fromisoformat(manifest["created_at"]),
            version=manifest["version"],
        )


# --- training --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """Rows of a history: training and validation claims (labels known by the cut-off, split
    by filing time) and, for evaluation, the held-out claims filed from the cut-off on."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray


def time_split(history: ClaimsHistory, until: int | None, validation_share: float) -> Split:
    """Claims whose label is known before ``until`` (µs; all labelled claims when None) train
    the model, the latest ``validation_share`` of them validating it; labelled claims filed
    from ``until`` on are the test."""
    labelled = history.label >= 0
    known = labelled & (history.label_at < (_NEVER if until is None else until))
    rows = np.flatnonzero(known)
    rows = rows[np.argsort(history.ts[rows], kind="stable")]
    cut = int(len(rows) * (1 - validation_share))
    test = np.flatnonzero(labelled & (history.ts >= (_NEVER if until is None else until)))
    test = test[np.argsort(history.ts[test], kind="stable")]
    split = Split(rows[:cut], rows[cut:], test)
    for name, part in (("training", split.train), ("validation", split.valid)):
        if not (history.label[part] == 1).any() or not (history.label[part] == 0).any():
            raise ValueError(
                f"the {name} claims (outcome known before the cut-off, {len(part)} claims) need "
                "both fraud and honest examples: use more data, a later --until or a shorter "
                "label delay"
            )
    return split


def fit_model(
    history: ClaimsHistory,
    split: Split,
    name: str,
    config: ClaimsConfig,
    trained_until: datetime | None = None,
    data_fingerprint: str = "",
) -> ClaimsModel:
    """Train ``name`` on the split's training claims; calibrate it and set its thresholds on
    the validation claims (never on the test)."""
    torch.set_num_threads(config.threads)
    space = FeatureSpace.fit(history, split.train, config.max_lines)
    predictor = _predictor(name, space, config)
    y_train = (history.label[split.train] == 1).astype(np.float64)
    y_valid = (history.label[split.valid] == 1).astype(np.int64)
    fit = predictor.fit(history, split.train, y_train, split.valid, y_valid)
    raw = predictor.raw(history, split.valid)
    threshold = threshold_for_recall(raw, y_valid, config.recall_target)
    metrics = {
        f"validation_{k}": v for k, v in classification_metrics(raw, y_valid, threshold).items()
    }
    metrics["threshold_f1"] = threshold_for_f1(raw, y_valid)
    metrics["threshold_accuracy"] = threshold_for_accuracy(raw, y_valid, config.accuracy_target)
    metrics.update({f"fit_{k}": v for k, v in fit.items()})
    metrics["train_claims"] = float(len(split.train))
    metrics["train_fraud"] = float(y_train.sum())
    return ClaimsModel(
        name=name,
        config=config,
        space=space,
        predictor=predictor,
        calibrator=Calibrator.fit(raw, y_valid),
        threshold=threshold,
        investigate_threshold=threshold_for_precision(raw, y_valid, config.investigate_precision),
        metrics=metrics,
        trained_until=trained_until,
        data_fingerprint=data_fingerprint,
    )


def read_claims(data: Path) -> pl.DataFrame:
    from vigil.schema.io import read_table

    frame = read_table(Path(data), "claims")
    assert frame is not None
    return frame.sort("ts", maintain_order=True)


def fingerprint(data: Path) -> str:
    from vigil.models.bundle import fingerprint_files
    from vigil.schema.io import find_table

    path = find_table(Path(data), "claims")
    return fingerprint_files([path], salt="claims") if path else ""


def train_claims(
    data: Path,
    out: Path,
    until: datetime | None = None,
    model: str = "geniepath",
    config: ClaimsConfig | None = None,
) -> ClaimsModel:
    """``vigil claims train``: fit on the claims filed before ``until`` whose outcome was known
    by then, and write the model folder."""
    config = config or ClaimsConfig()
    frame = read_claims(data)
    if until is not None:
        frame = frame.filter(pl.col("ts").dt.epoch("us") < to_micros(until))
    history = ClaimsHistory.of(frame, config)
    if len(history) == 0:
        raise ValueError(f"{data}: no claims filed before {until}")
    # Without --until, "now" is just after the last claim: only outcomes known by then count.
    cut = to_micros(until) if until is not None else int(history.ts.max()) + 1
    split = time_split(history, cut, config.validation_share)
    moment = datetime.fromtimestamp(cut // 1_000_000, tz=UTC).replace(microsecond=cut % 1_000_000)
    trained = fit_model(history, split, model, config, moment, fingerprint(data))
    trained.save(out)
    return trained


# --- scoring and reasons ---------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimReason:
    code: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "detail": self.detail}


@dataclass(frozen=True)
class ClaimScore:
    claim_id: str
    probability: float  #: calibrated probability of fraud
    raw: float
    hint: str  #: pay, review or investigate
    reasons: list[ClaimReason]
    model_version: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "claim_id": self.claim_id,
            "fraud_probability": round(self.probability, 6),
            "score": round(self.raw, 6),
            "hint": self.hint,
            "reasons": [r.to_dict() for r in self.reasons],
            "model_version": self.model_version,
        }


_SHARED = {
    1: ("shared_phone", "gives phone {key}"),
    2: ("shared_address", "gives address {key}"),
    3: ("shared_bank_account", "shares payout account {key}"),
}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _usd_text(log_usd: float) -> str:
    return f"US${math.exp(log_usd):,.0f}"


def _visible(adj: Adjacency, nodes: np.ndarray, as_of: int) -> np.ndarray:
    """Every neighbour of ``nodes`` over edges first seen before ``as_of``."""
    degree = adj.degree(nodes, as_of)
    start = np.repeat(adj.indptr[nodes], degree)
    offset = np.arange(degree.sum()) - np.repeat(np.cumsum(degree) - degree, degree)
    return adj.neighbor[start + offset]


def ring_around(history: ClaimsHistory, row: int, max_claims: int = 200) -> tuple[int, int, int]:
    """(claims, claimants, addresses) of the earlier claims linked to this one through shared
    claimants, phones, addresses and payout accounts (not providers: a garage serves
    hundreds), following links up to two claims away, as of the claim's moment."""
    index = history.index()
    adj = index.adjacency
    as_of = int(history.moments(np.array([row]))[0])
    me = np.array([history.node[row]], dtype=np.int64)
    seen, frontier = me, me
    for _ in range(2):
        idents = np.unique(_visible(adj, frontier, as_of))
        idents = idents[adj.node_type[idents] != NodeType.PROVIDER.value]
        frontier = np.setdiff1d(_visible(adj, idents, as_of), seen)
        seen = np.union1d(seen, frontier)
        if len(seen) > max_claims:
            break
    rows = index.node_row[np.setdiff1d(seen, me)]
    rows = rows[rows >= 0]
    if len(rows) == 0:
        return 0, 0, 0
    ident = index.ident[rows]
    own = index.ident[row]
    claimants = set(ident[:, 0].tolist()) - {int(own[0]), -1}
    addresses = set(ident[:, 2].tolist()) | {int(own[2])}
    addresses.discard(-1)
    return len(rows), len(claimants), len(addresses)


def reasons_for(
    history: ClaimsHistory, view: ClaimView, i: int, space: FeatureSpace, ring: bool = True
) -> list[ClaimReason]:
    """Why claim ``view.rows[i]`` looks the way it does, in words, strongest first."""
    row = int(view.rows[i])
    stats = view.stats[i]
    keys = history.frame.row(row, named=True)
    out: list[tuple[int, ClaimReason]] = []
    for slot, (code, lead) in _SHARED.items():
        claims, others, fraud = (
            int(stats[slot, 0]) - 1,
            int(stats[slot, 2]) - 1,
            int(stats[slot, 6]),
        )
        if claims <= 0:
            continue
        crowd = 4 if slot == 2 else 1  # households share an address: only a crowd is news
        if fraud == 0 and others <= crowd:
            continue
        text = lead.format(key=keys[SLOTS[slot]])
        text += f" with {_plural(claims, 'earlier claim')}"
        if others > 0:
            text += f" by {_plural(others, 'other claimant')}"
        if fraud:
            text += f", {fraud} already confirmed fraudulent"
        out.append((0 if fraud else 2, ClaimReason(code, text)))
    claimant = stats[0]
    if claimant[6] > 0:
        n = int(claimant[6])
        out.append(
            (
                0,
                ClaimReason(
                    "claimant_fraud",
                    f"claimant has {_plural(n, 'earlier claim')} confirmed fraudulent",
                ),
            )
        )
    recent = int(claimant[1]) - 1
    if recent >= 2:
        days = f"{history.recent_days:g}"
        out.append(
            (
                3,
                ClaimReason(
                    "claimant_burst",
                    f"claimant filed {_plural(recent, 'other claim')} in the last {days} days",
                ),
            )
        )
    if ring:
        claims, claimants, addresses = ring_around(history, row)
        if claimants >= 2 and addresses >= 2:
            out.append(
                (
                    1,
                    ClaimReason(
                        "ring",
                        f"linked by shared claimants, phones, addresses or payout accounts to "
                        f"{_plural(claims, 'earlier claim')} by {_plural(claimants, 'other claimant')} "
                        f"at {addresses} addresses",
                    ),
                )
            )
    provider = stats[4]
    if provider[6] > 0:
        fraud, known = int(provider[6]), int(provider[7])
        out.append(
            (
                1,
                ClaimReason(
                    "provider_fraud",
                    f"provider {keys['provider_id']}: {fraud} of its "
                    f"{_plural(known, 'earlier claim')} with a known outcome "
                    f"{'was' if fraud == 1 else 'were'} confirmed fraudulent",
                ),
            )
        )
    log_usd = float(history.log_usd[row])
    prior = int(provider[0]) - 1
    mean = float(view.provider_log_mean[i])
    if prior >= 5 and not math.isnan(mean) and log_usd - mean >= math.log(2):
        out.append(
            (
                4,
                ClaimReason(
                    "amount_vs_provider",
                    f"amount {_usd_text(log_usd)} is {math.exp(log_usd - mean):.1f}x the provider's "
                    f"typical claim ({_usd_text(mean)} over {prior} earlier claims)",
                ),
            )
        )
    else:
        line_code = int(space.line_codes(history, np.array([row]))[0])
        norm = space.line_median[line_code]
        if log_usd - norm >= math.log(2):
            line = space.lines[line_code] if line_code < len(space.lines) else "other"
            out.append(
                (
                    4,
                    ClaimReason(
                        "amount_vs_line",
                        f"amount {_usd_text(log_usd)} is {math.exp(log_usd - norm):.1f}x the typical "
                        f"{line} claim ({_usd_text(norm)})",
                    ),
                )
            )
    if history.round[row]:
        out.append((5, ClaimReason("round_amount", "round amount (an estimate, not an invoice)")))
    return [reason for _, reason in sorted(out, key=lambda pair: pair[0])]


def score_rows(
    model: ClaimsModel,
    history: ClaimsHistory,
    rows: np.ndarray,
    reasons: Literal["all", "flagged", "none"] = "all",
) -> list[ClaimScore]:
    """Scores of claims already in the history, each as of its own filing."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) == 0:
        return []
    view = ClaimView.of(history, rows)
    raw = model.raw(history, rows, view)
    probability = model.calibrator(raw)
    hints = model.hint(raw)
    ids = history.frame.get_column("claim_id").gather(rows).to_list()
    out = []
    for i, claim_id in enumerate(ids):
        explain = reasons == "all" or (reasons == "flagged" and hints[i] != "pay")
        why = reasons_for(history, view, i, model.space) if explain else []
        out.append(
            ClaimScore(claim_id, float(probability[i]), float(raw[i]), hints[i], why, model.version)
        )
    return out


def score_claims(
    models: Path, data: Path, start: datetime | None = None, reasons: str = "flagged"
) -> tuple[pl.DataFrame, dict[str, float] | None, ClaimsModel]:
    """``vigil claims score``: every claim of ``data`` filed from ``start`` (default: the end
    of training) scored as of its filing, with the earlier claims as history and their labels
    released ``label_delay_days`` after filing; metrics at the model's threshold if labelled."""
    model = ClaimsModel.load(models)
    frame = read_claims(data)
    history = ClaimsHistory.of(frame, model.config)
    begin = start or model.trained_until
    cut = -1 if begin is None else to_micros(begin)
    rows = np.flatnonzero(history.ts >= cut)
    rows = rows[np.argsort(history.ts[rows], kind="stable")]
    scores = score_rows(model, history, rows, reasons)  # type: ignore[arg-type]
    out = pl.DataFrame(
        {
            "claim_id": [s.claim_id for s in scores],
            "ts": history.frame.get_column("ts").gather(rows),
            "fraud_probability": [s.probability for s in scores],
            "score": [s.raw for s in scores],
            "hint": [s.hint for s in scores],
            "reasons": [[r.detail for r in s.reasons] for s in scores],
        },
        schema_overrides={"reasons": pl.List(pl.String)},
    )
    metrics = None
    labels = history.label[rows]
    if len(rows) and (labels >= 0).all() and (labels == 1).any():
        raw = np.array([s.raw for s in scores])
        metrics = classification_metrics(raw, (labels == 1).astype(np.int64), model.threshold)
    return out, metrics, model


class ClaimsScorer:
    """Online scoring: each new claim joins the history and is scored as of its filing.

    Thread-safe: a lock serialises additions and reads, since a score depends on the history
    at the time of the claim and a half-added batch must never be read.
    """

    def __init__(self, model: ClaimsModel, history: ClaimsHistory | None = None):
        self.model = model
        self.history = history or ClaimsHistory.of(None, model.config)
        self._lock = threading.Lock()

    @classmethod
    def open(cls, models: Path, data: Path | None = None) -> ClaimsScorer:
        """The model in ``models`` over the claims of ``data`` (if given) as history."""
        model = ClaimsModel.load(models)
        return cls(
            model, ClaimsHistory.of(None if data is None else read_claims(data), model.config)
        )

    def score(self, records: Iterable[Mapping[str, Any]]) -> list[ClaimScore]:
        """Score claim records (:data:`RECORD_FIELDS`; labels ignored). A claim id already in
        the history is scored again as of its filing (idempotent) if its record is the same;
        a different record under a known id is an error."""
        records = list(records)
        frame = _records_frame(records)
        with self._lock:
            fresh, rows = [], []
            for i, claim_id in enumerate(frame.get_column("claim_id").to_list()):
                row = self.history.row(claim_id)
                if row is None:
                    fresh.append(i)
                    rows.append(-1)
                    continue
                if not _same_claim(
                    self.history.frame.row(row, named=True), frame.row(i, named=True)
                ):
                    raise ClaimConflictError(claim_id)
                rows.append(row)
            if fresh:
                added = self.history.add(frame[fresh])
                for i, row in zip(fresh, added.tolist(), strict=True):
                    rows[i] = row
            return score_rows(self.model, self.history, np.array(rows))

    def label(self, claim_id: str, is_fraud: bool, known_at: datetime) -> None:
        with self._lock:
            self.history.label(claim_id, is_fraud, known_at)


class ClaimConflictError(ValueError):
    def __init__(self, claim_id: str):
        self.claim_id = claim_id
        super().__init__(f"claim '{claim_id}' was filed before with different details")


def _records_frame(records: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    schema = CLAIMS.polars_schema()
    data = {name: [r.get(name) for r in records] for name in RECORD_FIELDS}
    # Any offset, or none (UTC), as everywhere in Vigil; stored in UTC.
    data["ts"] = [parse_timestamp("ts", t) for t in data["ts"]]
    frame = pl.DataFrame(data, schema={n: schema[n] for n in RECORD_FIELDS}, strict=False)
    dupes = frame.get_column("claim_id").is_duplicated()
    if dupes.any():
        raise ValueError(
            f"claim ids repeated within one request: {frame['claim_id'].filter(dupes).unique().to_list()}"
        )
    return frame


def _same_claim(stored: Mapping[str, Any], given: Mapping[str, Any]) -> bool:
    return all(stored.get(f) == given.get(f) for f in RECORD_FIELDS)


# --- comparison ------------------------------------------------------------------------------


def linked_at_scoring(history: ClaimsHistory, rows: np.ndarray) -> np.ndarray:
    """Whether each claim, when scored, shares a phone or payout account with another claimant
    or comes from a claimant with an earlier claim: a trace the graph can follow. Ring claims
    filed before anything links them, and lone exaggerations, have none."""
    stats = ClaimView.of(history, rows).stats
    return (stats[:, 0, 0] > 1) | (stats[:, 1, 2] > 1) | (stats[:, 3, 2] > 1)


def _recall_of(flagged: np.ndarray, group: np.ndarray) -> float | None:
    """None for an empty group: undefined, and written as JSON's null (JSON has no NaN)."""
    return float(flagged[group].mean()) if group.any() else None


def fpr_prefix(target: float) -> str:
    """The key prefix of the figures at one false-positive rate: ``fpr_1pct_`` for 0.01,
    ``fpr_0.1pct_`` for 0.001."""
    return f"fpr_{target * 100:g}pct_"


def recall_at_fpr(
    raw: np.ndarray,
    labels: np.ndarray,
    target: float,
    groups: Mapping[str, np.ndarray] | None = None,
) -> dict[str, float | None]:
    """Recall at a fixed false-positive rate on the honest claims, as the payments engine
    reports it (:mod:`vigil.evaluation.metrics`, whose helper this calls): with k = floor(target
    × honest claims) false alarms allowed, the threshold is the (k+1)-th highest honest score and
    a claim is caught when its score is strictly above it, so the realised ``fpr`` never exceeds
    the target (ties with honest claims at the threshold are not caught). The threshold is read
    off the honest claims alone; ``recall`` is on all fraud and ``recall_<group>`` on each
    group's mask (fraud of one kind). None where there is no honest claim or no such fraud."""
    fraud = labels == 1
    negatives = raw[labels == 0]
    overall = _engine_recall_at_fpr(raw, fraud, negatives, target)
    out: dict[str, float | None] = (
        dict(overall) if overall is not None else dict.fromkeys(("threshold", "fpr", "recall"))
    )
    for name, members in (groups or {}).items():
        within = _engine_recall_at_fpr(raw, members, negatives, target)
        out[f"recall_{name}"] = None if within is None else within["recall"]
    return out


def compare(
    frame: pl.DataFrame,
    until: datetime,
    models: Sequence[str] = ALL_MODELS,
    config: ClaimsConfig | None = None,
    log: Any = None,
    typology: pl.DataFrame | None = None,
) -> list[dict[str, Any]]:
    """Every model on one time split: trained on the claims whose outcome was known before
    ``until``, thresholds set on their latest share, tested on the claims filed from
    ``until`` on, each scored as of its filing (or its payout, with a review delay).

    Each row holds the test metrics at three thresholds set on validation: ``review`` (90%
    recall; unprefixed keys), ``acc_`` (the most recall that keeps 95% accuracy) and ``f1_``
    (best F1); and at each, recall on the frauds linked or not when scored and, given the
    world's ``typology`` (claim_id, :data:`TYPOLOGY_COLUMN`), on ring and on lone fraud and on
    the ring claims with no trace yet (a ring's first claims). Beside them, recall at each
    false-positive rate of :data:`FPR_TARGETS`, its threshold read off the honest test claims
    rather than set on validation (:func:`recall_at_fpr`; keys prefixed by :func:`fpr_prefix`),
    on all fraud and on the same groups; ``graph`` says whether the model reads the graph."""
    config = config or ClaimsConfig()
    history = ClaimsHistory.of(frame.sort("ts", maintain_order=True), config)
    split = time_split(history, to_micros(until), config.validation_share)
    y_test = (history.label[split.test] == 1).astype(np.int64)
    fraud = y_test == 1
    linked = linked_at_scoring(history, split.test)
    groups = {"linked": fraud & linked, "unlinked": fraud & ~linked}
    if typology is not None:
        kinds = dict(typology.select("claim_id", TYPOLOGY_COLUMN).iter_rows())
        ids = history.frame.get_column("claim_id").gather(split.test).to_list()
        kind = np.array([kinds.get(c) for c in ids], dtype=object)
        ring = fraud & (kind == "ring")
        groups |= {"ring": ring, "lone": fraud & (kind == "lone"), "ring_unlinked": ring & ~linked}
    results = []
    for name in models:
        began = perf_counter()
        model = fit_model(history, split, name, config)
        raw = model.raw(history, split.test)
        row: dict[str, Any] = {
            "model": name,
            "graph": name not in GRAPHLESS,
            "review_after_days": config.review_after_days,
        }
        for prefix, threshold in (
            ("", model.threshold),
            ("acc_", model.metrics["threshold_accuracy"]),
            ("f1_", model.metrics["threshold_f1"]),
        ):
            metrics = classification_metrics(raw, y_test, threshold)
            if prefix:  # the threshold-free figures (AUPRC, ROC AUC, counts) once, unprefixed
                metrics = {
                    k: metrics[k] for k in ("accuracy", "precision", "recall", "flagged_share")
                }
            row.update({f"{prefix}{k}": v for k, v in metrics.items()})
            row[f"{prefix}threshold"] = threshold
            flagged = raw >= threshold
            row.update({f"{prefix}recall_{g}": _recall_of(flagged, m) for g, m in groups.items()})
        for target in FPR_TARGETS:
            at = recall_at_fpr(raw, y_test, target, groups)
            row.update({f"{fpr_prefix(target)}{k}": v for k, v in at.items()})
        row["threshold_probability"] = float(model.calibrator(np.array([model.threshold]))[0])
        row["validation_recall"] = model.metrics["validation_recall"]
        row["validation_accuracy"] = model.metrics["validation_accuracy"]
        row["validation_auprc"] = model.metrics["validation_auprc"]
        row.update({f"fraud_{g}": float(m.sum()) for g, m in groups.items()})
        row["seconds"] = perf_counter() - began
        row.update({k: v for k, v in model.metrics.items() if k.startswith("fit_")})
        results.append(row)
        if log is not None:
            log(row)
    return results


_RULES = (
    ("", "90% recall (review)"),
    ("acc_", "95% accuracy"),
    ("f1_", "best F1"),
)


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The comparison as one markdown table: each model at three thresholds, all set on
    validation (90% recall, the most recall keeping 95% accuracy, best F1); test figures. With
    the world's typology, the target is also checked on ring fraud alone."""
    has_kind = any("recall_ring" in r for r in rows)
    groups = ("ring", "lone") if has_kind else ("linked", "unlinked")
    head = "| model | AUPRC | threshold set on validation for | accuracy | precision | recall "
    head += f"| recall {groups[0]} / {groups[1]} | flagged | target met |"
    if has_kind:
        head += " target met on ring fraud |"
    out = [head, "|---" * (head.count("|") - 1) + "|"]
    for r in rows:
        for prefix, rule in _RULES:
            acc, rec = r[f"{prefix}accuracy"], r[f"{prefix}recall"]
            split = " / ".join(_share(r[f"{prefix}recall_{g}"]) for g in groups)
            line = (
                f"| {r['model']} | {r['auprc']:.3f} | {rule} | {acc:.4f} "
                f"| {r[f'{prefix}precision']:.3f} | {rec:.3f} | {split} "
                f"| {r[f'{prefix}flagged_share']:.1%} | {_met(acc, rec)} |"
            )
            if has_kind:
                line += f" {_met(acc, r[f'{prefix}recall_ring'])} |"
            out.append(line)
    return "\n".join(out) + "\n"


def _met(accuracy: float, recall: float | None) -> str:
    return "yes" if recall is not None and accuracy >= 0.95 and recall >= 0.90 else "no"


def fpr_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Recall at 1% and 0.1% false-positive rate (thresholds read off the honest test claims,
    not set on validation), one row per model: on all fraud and on ring / lone fraud (linked /
    unlinked without the world's typology), the realised false-positive rate in brackets, and
    whether the model reads the graph."""
    targets = sorted(FPR_TARGETS, reverse=True)
    has_kind = any(f"{fpr_prefix(t)}recall_ring" in r for r in rows for t in targets)
    groups = ("ring", "lone") if has_kind else ("linked", "unlinked")
    head = "| model | graph | scored | AUPRC | " + " | ".join(
        f"recall @ {t * 100:g}% FPR: all / {groups[0]} / {groups[1]} (FPR)" for t in targets
    )
    out = [head + " |", "|---" * head.count("|") + "|"]
    for r in rows:
        cells = []
        for target in targets:
            p = fpr_prefix(target)
            keys = ("recall", *(f"recall_{g}" for g in groups))
            fpr = r.get(f"{p}fpr")
            cells.append(
                " / ".join(_share(r.get(f"{p}{k}")) for k in keys)
                + (" (—)" if fpr is None else f" ({fpr:.2%})")
            )
        graph = "yes" if r.get("graph", r["model"] not in GRAPHLESS) else "no"
        after = r.get("review_after_days") or 0
        scored = "at filing" if after == 0 else f"{after:g} days after filing"
        out.append(
            f"| {r['model']} | {graph} | {scored} | {r['auprc']:.3f} | " + " | ".join(cells) + " |"
        )
    return "\n".join(out) + "\n"


def _share(value: float | None) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.3f}"


# --- a claims-only world ---------------------------------------------------------------------

TYPOLOGY_FILE = "claims_typology.parquet"


def simulate_claims(
    out: Path, accounts: int, days: int, seed: int = 7, start: datetime | None = None
) -> pl.DataFrame:
    """Write the claims table ``vigil simulate`` would write for these arguments, without the
    payments (which take most of a world's time and space): claims depend only on the
    population, so they come out identical, row for row. Beside it, :data:`TYPOLOGY_FILE`
    says which fraud is a ring's and which a lone exaggeration, for evaluation only."""
    from vigil.schema.io import write_table
    from vigil.world.claims import build_claims
    from vigil.world.config import WorldConfig
    from vigil.world.population import build_population
    from vigil.world.sampling import component_rng
    from vigil.world.simulate import CLAIMS as CLAIMS_COMPONENT

    start = start or datetime(2026, 1, 1, tzinfo=UTC)
    start = start.replace(tzinfo=UTC) if start.tzinfo is None else start
    start_us = to_micros(start)
    start = datetime.fromtimestamp(start_us / 1e6, tz=UTC)
    pop = build_population(WorldConfig(), accounts, start_us, days, seed)
    accounts_frame = pop.accounts_frame([""] * len(pop.kind))
    claims = build_claims(
        component_rng(seed, CLAIMS_COMPONENT), accounts_frame, start, days, typology=True
    )
    truth = claims.select("claim_id", TYPOLOGY_COLUMN)
    claims = claims.drop(TYPOLOGY_COLUMN)
    write_table(claims, Path(out), "claims")
    truth.write_parquet(Path(out) / TYPOLOGY_FILE)
    return claims


def read_typology(data: Path) -> pl.DataFrame | None:
    """The evaluation-only fraud typology ``vigil claims simulate`` writes beside the claims
    (None for a world without it, such as one from ``vigil simulate``)."""
    path = Path(data) / TYPOLOGY_FILE
    return pl.read_parquet(path) if path.exists() else None
