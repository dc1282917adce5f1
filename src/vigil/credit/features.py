"""Point-in-time features of a loan applicant: the firm's own profile and cash flow, and its
trade network, from what was known strictly before the moment it is scored.

**What "known" means.** A loan issued at ``t`` sees invoices with ``ts < t``, other loans with
``issued_at < t`` and defaults with ``defaulted_at < t``; the ``businesses`` table is a profile
(revenue, headcount, founding date, sector) taken as known when the firm applies. Network
snapshots are read at the grid moment at or before ``t`` (:func:`snapshot_time`), so they are
up to ``snapshot_days`` stale and never early. Nothing else is read: a test changes every
invoice, loan and default after ``t`` and checks that the features do not move.

**One path.** Training rows (loans of a world), a business scored by id, and a business sent
over the API as a record with its invoices all go through :func:`feature_frame`: the first two
read the relationships from the world's :class:`TradeIndex`, the last from an index of the
invoices it was sent, with counterparties looked up in the world by id.

The features are declared once in :data:`FEATURES`, each with its group (``firm`` or
``network``), its reason code, and its monotone direction where economics fixes one; the
model, the scorecard and ``docs/credit.md`` all read that table.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from vigil.credit.network import (
    NEVER,
    US_PER_DAY,
    EventIndex,
    NetworkParams,
    NetworkSnapshot,
    Pairs,
    TradeIndex,
    build_snapshot,
    positions,
    snapshot_time,
    usd_cents,
)
from vigil.schema.io import read_table

US_PER_YEAR = 365 * US_PER_DAY
#: A counterparty with no invoice in this long is taken to have stopped trading.
SILENT_DAYS = 60
#: Added to both 90-day volumes before their ratio, so a handful of dollars is not a trend.
TREND_FLOOR_USD = 500.0

Group = Literal["firm", "network"]


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    group: Group
    reason: str  #: reason code (see :data:`vigil.credit.scorecard.REASONS`)
    meaning: str
    #: +1: a higher value never lowers PD; -1: never raises it; 0: unconstrained
    monotone: int = 0
    why: str = ""  #: the economics behind a constraint
    categorical: bool = False


FEATURES: tuple[Feature, ...] = (
    # -- the firm itself
    Feature("log_revenue", "firm", "size", "ln(1 + annual revenue, US$)", -1,
            "larger firms have more diversified revenue and buffers to absorb a shock"),
    Feature("log_employees", "firm", "size", "ln(1 + employees)"),
    Feature("age_years", "firm", "young_business", "years since founding", -1,
            "liability of newness: survival rises with time in business"),
    Feature("loan_to_revenue", "firm", "leverage", "loan amount / annual revenue", 1,
            "more debt per dollar of revenue is a heavier repayment burden"),
    Feature("term_days", "firm", "term", "loan term in days", 1,
            "PD is over the term: a longer loan gives the firm longer to fail"),
    Feature("sector", "firm", "sector", "sector (categorical)", categorical=True),
    Feature("log_purchases", "firm", "trade_history", "ln(1 + purchases paid, last 365 d, US$)"),
    Feature("log_sales", "firm", "trade_history", "ln(1 + B2B sales received, last 365 d, US$)"),
    Feature("purchases_to_revenue", "firm", "thin_margin",
            "purchases paid in the last year / annual revenue", 1,
            "a higher cost of goods per dollar of revenue leaves a thinner margin"),
    Feature("purchase_trend", "firm", "falling_purchases",
            "ln of purchases in the last 90 d over the 90 d before", -1,
            "a firm short of cash pays fewer suppliers; rising purchases mean a growing book"),
    Feature("sales_trend", "firm", "falling_sales",
            "ln of B2B sales in the last 90 d over the 90 d before", -1,
            "falling sales are falling cash in"),
    Feature("days_since_purchase", "firm", "payment_gap", "days since the last invoice paid"),
    # -- its trade network
    Feature("n_buyers", "network", "trade_history", "buyers with invoices in the last 365 d"),
    Feature("n_suppliers", "network", "trade_history",
            "suppliers with invoices in the last 365 d"),
    Feature("top_buyer_share", "network", "buyer_concentration",
            "largest buyer's share of B2B sales, last 365 d", 1,
            "losing the main customer takes that share of sales at once"),
    Feature("buyer_hhi", "network", "buyer_concentration",
            "Herfindahl index of sales over buyers", 1,
            "concentrated sales are exposed to a few customers"),
    Feature("top_supplier_share", "network", "supplier_concentration",
            "largest supplier's share of purchases, last 365 d", 1,
            "a single source of supply can stop production when it fails"),
    Feature("buyer_default_share", "network", "buyer_defaults",
            "share of sales from buyers with a default known at the time", 1,
            "a defaulted customer leaves unpaid invoices and lost sales"),
    Feature("supplier_default_share", "network", "supplier_defaults",
            "share of purchases from suppliers with a default known at the time", 1,
            "a defaulted supplier disrupts supply"),
    Feature("days_since_partner_default", "network", "recent_partner_default",
            "days since the latest known default among trading partners (none: missing)"),
    Feature("buyer_silent_share", "network", "buyers_stopped",
            f"share of sales from buyers with no invoice anywhere in {SILENT_DAYS} d", 1,
            "a customer that stopped trading has usually stopped paying"),
    Feature("supplier_silent_share", "network", "suppliers_stopped",
            f"share of purchases from suppliers with no invoice anywhere in {SILENT_DAYS} d", 1,
            "a supplier that stopped trading no longer supplies"),
    Feature("buyer_log_revenue", "network", "partner_profile",
            "sales-weighted mean ln(1 + revenue) of buyers"),
    Feature("supplier_log_revenue", "network", "partner_profile",
            "purchase-weighted mean ln(1 + revenue) of suppliers"),
    Feature("partner_age_years", "network", "partner_profile",
            "volume-weighted mean age of trading partners"),
    Feature("partner_leverage", "network", "partner_profile",
            "volume-weighted mean of partners' latest loan / revenue"),
    Feature("relationship_years", "network", "trade_history",
            "volume-weighted mean age of the trading relationships"),
    Feature("network_risk", "network", "network_risk",
            "personalised PageRank from defaulted firms, one step from the partners", 1,
            "default risk travels along trade; more of the walk ending at defaults is more risk"),
    Feature("network_affinity", "network", "network_position",
            "cosine of the partners' mean spectral embedding and the defaulted firms' centroid"),
)  # fmt: skip

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}


def names_of(groups: Sequence[Group] = ("firm", "network")) -> list[str]:
    return [f.name for f in FEATURES if f.group in groups]


# --- what is known about the world ----------------------------------------------------------


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(moment: datetime | int) -> int:
    """A moment as µs since the epoch; a naive datetime is UTC."""
    if isinstance(moment, datetime):
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return (moment - _EPOCH) // timedelta(microseconds=1)
    return int(moment)


@dataclass(frozen=True)
class Firms:
    """The ``businesses`` table as arrays, plus when each firm's first default became known."""

    ids: pl.Series
    revenue_usd: np.ndarray
    employees: np.ndarray
    founded_us: np.ndarray
    sector: np.ndarray  #: object array of str
    currency: np.ndarray  #: object array of ISO 4217 codes
    default_time: np.ndarray  #: µs of the firm's first loan default, NEVER if none

    @classmethod
    def from_tables(cls, businesses: pl.DataFrame, loans: pl.DataFrame) -> Firms:
        defaults = (
            loans.filter(pl.col("defaulted") & pl.col("defaulted_at").is_not_null())
            .group_by("business_id")
            .agg(pl.col("defaulted_at").min().dt.epoch("us").alias("default_time"))
            if "defaulted" in loans.columns and "defaulted_at" in loans.columns
            else pl.DataFrame(schema={"business_id": pl.String, "default_time": pl.Int64})
        )
        frame = businesses.join(defaults, on="business_id", how="left", maintain_order="left")
        return cls(
            ids=frame["business_id"],
            revenue_usd=usd_cents(frame["annual_revenue"].to_numpy(), frame["currency"]) / 100.0,
            employees=frame["employees"].fill_null(0).to_numpy().astype(np.float64),
            founded_us=frame["founded_at"].dt.epoch("us").to_numpy().astype(np.int64),
            sector=frame["sector"].fill_null("").to_numpy().astype(object),
            currency=frame["currency"].to_numpy().astype(object),
            default_time=frame["default_time"].fill_null(NEVER).to_numpy().astype(np.int64),
        )


class CreditHistory:
    """Everything the features read: firms, their invoices and loans, network snapshots.

    Snapshots are built on first use and kept (the last ``cache`` of them), since training
    reads a few dozen and a scorer mostly the latest one.
    """

    def __init__(
        self,
        businesses: pl.DataFrame,
        trade: pl.DataFrame,
        loans: pl.DataFrame,
        params: NetworkParams | None = None,
        cache: int = 32,
    ):
        self.params = params or NetworkParams()
        self.firms = Firms.from_tables(businesses, loans)
        self.trade = TradeIndex(trade, self.firms.ids)
        lookup = pl.DataFrame(
            {"business_id": self.firms.ids, "firm": pl.int_range(len(self.firms.ids), eager=True)}
        )
        known = loans.select("business_id", "issued_at", "amount", "currency", "term_days").join(
            lookup, on="business_id", how="inner"
        )
        firm = known["firm"].to_numpy().astype(np.int64)
        amount = usd_cents(known["amount"].to_numpy(), known["currency"]) / 100.0
        #: per firm, its loans by issue time, valued (loan / revenue, term in days)
        self.loans = EventIndex(
            firm,
            known["issued_at"].dt.epoch("us").to_numpy(),
            np.column_stack(
                [
                    amount / np.maximum(self.firms.revenue_usd[firm], 1.0),
                    known["term_days"].to_numpy().astype(np.float64),
                ]
            ),
        )
        ends = [trade["ts"].max(), loans["issued_at"].max()]
        latest = max((_micros(e) for e in ends if e is not None), default=0)
        self.end_us = latest + 1  #: the first moment that sees every event
        self._index: dict[str, int] | None = None
        self._snapshots: OrderedDict[int, NetworkSnapshot] = OrderedDict()
        self._cache = cache

    @classmethod
    def from_dir(cls, data: Path, params: NetworkParams | None = None) -> CreditHistory:
        tables = [read_table(Path(data), name) for name in ("businesses", "trade", "loans")]
        return cls(*tables, params=params)  # type: ignore[arg-type]

    def index_of(self, business_id: str) -> int:
        """The firm's position, -1 when the world does not know it."""
        if self._index is None:
            self._index = {b: i for i, b in enumerate(self.firms.ids.to_list())}
        return self._index.get(business_id, -1)

    def indices(self, business_ids: pl.Series) -> np.ndarray:
        """Positions of many firms, -1 for firms the world does not know."""
        if len(business_ids) < 1_000:  # an API request: the dictionary beats a join
            return np.array([self.index_of(b) for b in business_ids.to_list()], dtype=np.int64)
        return positions(business_ids, self.firms.ids)

    def snapshot(self, as_of_us: int) -> NetworkSnapshot:
        """The network snapshot a score at ``as_of_us`` reads (the grid moment at or before)."""
        moment = snapshot_time(as_of_us, self.params)
        found = self._snapshots.get(moment)
        if found is None:
            found = build_snapshot(self.trade, self.firms.default_time, moment, self.params)
            self._snapshots[moment] = found
            while len(self._snapshots) > self._cache:
                self._snapshots.popitem(last=False)
        else:
            self._snapshots.move_to_end(moment)
        return found


# --- applicants -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Applicants:
    """One row per application: the firm (world index, -1 for a firm the world does not
    know), the moment it is scored, the loan asked for, and the firm's own profile."""

    firm: np.ndarray
    as_of: np.ndarray  #: µs
    amount_usd: np.ndarray
    term_days: np.ndarray
    revenue_usd: np.ndarray
    employees: np.ndarray
    founded_us: np.ndarray
    sector: np.ndarray

    def __len__(self) -> int:
        return len(self.firm)


def loan_applicants(history: CreditHistory, loans: pl.DataFrame) -> Applicants:
    """The applicants of a ``loans`` frame, each scored at its own ``issued_at``; every loan
    must belong to a firm of the world."""
    firm = history.indices(loans["business_id"])
    if (firm < 0).any():
        missing = loans.filter(pl.Series(firm < 0))["business_id"].head(3).to_list()
        raise ValueError(f"loans name businesses the world does not know, e.g. {missing}")
    f = history.firms
    return Applicants(
        firm=firm,
        as_of=loans["issued_at"].dt.epoch("us").to_numpy().astype(np.int64),
        amount_usd=usd_cents(loans["amount"].to_numpy(), loans["currency"]) / 100.0,
        term_days=loans["term_days"].to_numpy().astype(np.float64),
        revenue_usd=f.revenue_usd[firm],
        employees=f.employees[firm],
        founded_us=f.founded_us[firm],
        sector=f.sector[firm],
    )


def loan_features(history: CreditHistory, loans: pl.DataFrame) -> pl.DataFrame:
    """Features of every loan at its ``issued_at``, in the frame's row order."""
    applicants = loan_applicants(history, loans)
    return feature_frame(
        history, applicants, history.trade.pairs(applicants.firm, applicants.as_of)
    )


def record_features(
    history: CreditHistory,
    business: Mapping[str, Any],
    invoices: pl.DataFrame,
    amount_usd: float,
    term_days: int,
    as_of: int,
) -> pl.DataFrame:
    """Features of a firm sent as a record (``businesses`` columns) with its own invoices
    (``trade`` rows naming it as supplier or buyer); partners are looked up in the world.

    Only the invoices sent describe the applicant's trade, even if the world knows the firm:
    the caller's view of its books wins."""
    own_id = str(business["business_id"])
    ids = pl.concat([pl.Series([own_id]), invoices["supplier_id"], invoices["buyer_id"]]).unique(
        maintain_order=True
    )
    local = TradeIndex(invoices, ids)
    pairs = local.pairs(np.array([0]), np.array([as_of]))
    mapping = history.indices(ids)
    revenue = float(
        usd_cents(np.array([business["annual_revenue"]]), pl.Series([business["currency"]]))[0]
    )
    founded = business["founded_at"]
    applicants = Applicants(
        firm=np.array([history.index_of(own_id)]),
        as_of=np.array([as_of], dtype=np.int64),
        amount_usd=np.array([amount_usd], dtype=np.float64),
        term_days=np.array([term_days], dtype=np.float64),
        revenue_usd=np.array([revenue / 100.0]),
        employees=np.array([float(business.get("employees") or 0)]),
        founded_us=np.array([_micros(founded)], dtype=np.int64),
        sector=np.array([business.get("sector") or ""], dtype=object),
    )
    return feature_frame(history, applicants, pairs.remap(mapping))


# --- the features ---------------------------------------------------------------------------


def _sum(row: np.ndarray, weight: np.ndarray, n: int) -> np.ndarray:
    # float even when there are no rows (bincount then answers in ints)
    return np.bincount(row, weights=weight, minlength=n).astype(np.float64, copy=False)


def _share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    return np.divide(part, whole, out=np.zeros_like(whole), where=whole > 0)


def _weighted_mean(row: np.ndarray, value: np.ndarray, weight: np.ndarray, n: int) -> np.ndarray:
    """Mean of ``value`` per row weighted by ``weight``; rows without a known value: NaN."""
    known = ~np.isnan(value) & (weight > 0)
    w = np.where(known, weight, 0.0)
    total = _sum(row, w, n)
    mean = _sum(row, np.where(known, value, 0.0) * w, n)
    return np.divide(mean, total, out=np.full(n, np.nan), where=total > 0)


def feature_frame(history: CreditHistory, applicants: Applicants, pairs: Pairs) -> pl.DataFrame:
    """The :data:`FEATURES` of each applicant, one row each, from its relationships ``pairs``
    (counterparties as world indices, -1 for firms the world does not know)."""
    n = len(applicants)
    a = applicants
    t = a.as_of
    out: dict[str, Any] = {}
    out["log_revenue"] = np.log1p(a.revenue_usd)
    out["log_employees"] = np.log1p(a.employees)
    out["age_years"] = np.maximum(t - a.founded_us, 0) / US_PER_YEAR
    out["loan_to_revenue"] = a.amount_usd / np.maximum(a.revenue_usd, 1.0)
    out["term_days"] = a.term_days.astype(np.float64)
    out["sector"] = pl.Series(a.sector.tolist(), dtype=pl.String)

    row, buyer = pairs.row, pairs.is_buyer
    supplier = ~buyer
    vol = pairs.usd_365
    sales = _sum(row, np.where(buyer, vol, 0.0), n)
    purchases = _sum(row, np.where(supplier, vol, 0.0), n)
    out["log_purchases"] = np.log1p(purchases)
    out["log_sales"] = np.log1p(sales)
    out["purchases_to_revenue"] = purchases / np.maximum(a.revenue_usd, 1.0)
    for name, side in (("purchase_trend", supplier), ("sales_trend", buyer)):
        recent = _sum(row, np.where(side, pairs.usd_90, 0.0), n)
        before = _sum(row, np.where(side, pairs.usd_prev_90, 0.0), n)
        out[name] = np.log((recent + TREND_FLOOR_USD) / (before + TREND_FLOOR_USD))
    last_paid = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last_paid, row[supplier], pairs.last_ts[supplier])
    out["days_since_purchase"] = np.where(last_paid >= 0, (t - last_paid) / US_PER_DAY, np.nan)

    active = vol > 0
    out["n_buyers"] = _sum(row, (buyer & active).astype(np.float64), n)
    out["n_suppliers"] = _sum(row, (supplier & active).astype(np.float64), n)
    top = np.zeros(n)
    np.maximum.at(top, row[buyer], vol[buyer])
    out["top_buyer_share"] = _share(top, sales)
    share_of_own = np.where(buyer, _share(vol, sales[row]), _share(vol, purchases[row]))
    out["buyer_hhi"] = _sum(row, np.where(buyer, share_of_own**2, 0.0), n)
    top = np.zeros(n)
    np.maximum.at(top, row[supplier], vol[supplier])
    out["top_supplier_share"] = _share(top, purchases)

    # Partners as the world knew them at the applicant's moment.
    cp = pairs.counterparty
    known = cp >= 0
    safe = np.where(known, cp, 0)
    pt = t[row]
    f = history.firms
    default_at = np.where(known, f.default_time[safe], NEVER)
    defaulted = default_at < pt
    out["buyer_default_share"] = _share(_sum(row, np.where(buyer & defaulted, vol, 0.0), n), sales)
    out["supplier_default_share"] = _share(
        _sum(row, np.where(supplier & defaulted, vol, 0.0), n), purchases
    )
    latest = np.full(n, -1, dtype=np.int64)
    hit = defaulted & active
    np.maximum.at(latest, row[hit], default_at[hit])
    out["days_since_partner_default"] = np.where(latest >= 0, (t - latest) / US_PER_DAY, np.nan)
    last_seen = history.trade.activity.last_time(np.where(known, cp, -1), pt)
    silent = known & (last_seen < pt - SILENT_DAYS * US_PER_DAY)
    out["buyer_silent_share"] = _share(_sum(row, np.where(buyer & silent, vol, 0.0), n), sales)
    out["supplier_silent_share"] = _share(
        _sum(row, np.where(supplier & silent, vol, 0.0), n), purchases
    )
    size = np.where(known, np.log1p(f.revenue_usd[safe]), np.nan)
    out["buyer_log_revenue"] = _weighted_mean(row, size, np.where(buyer, vol, 0.0), n)
    out["supplier_log_revenue"] = _weighted_mean(row, size, np.where(supplier, vol, 0.0), n)
    age = np.where(known, np.maximum(pt - f.founded_us[safe], 0) / US_PER_YEAR, np.nan)
    out["partner_age_years"] = _weighted_mean(row, age, vol, n)
    _, last_loan = history.loans.before(np.where(known, cp, -1), pt)
    leverage = (
        np.where(last_loan >= 0, history.loans.value[np.maximum(last_loan, 0), 0], np.nan)
        if history.loans.value is not None and len(history.loans.value)
        else np.full(len(cp), np.nan)
    )
    out["partner_leverage"] = _weighted_mean(row, leverage, vol, n)
    out["relationship_years"] = _weighted_mean(row, (pt - pairs.first_ts) / US_PER_YEAR, vol, n)

    risk, affinity = _propagated(history, t, row, safe, known, vol, n)
    out["network_risk"] = risk
    out["network_affinity"] = affinity
    return pl.DataFrame({name: out[name] for name in FEATURE_NAMES})


def _propagated(
    history: CreditHistory,
    t: np.ndarray,
    row: np.ndarray,
    partner: np.ndarray,
    known: np.ndarray,
    vol: np.ndarray,
    n: int,
) -> tuple[np.ndarray, np.ndarray]:
    """One step of the walk from each applicant to its partners' snapshot values: the risk
    share-weighted over partners, and the cosine of the partners' weighted embedding with the
    defaulted firms' centroid. Firms unknown to the world carry no risk and no vector."""
    weight = np.where(known, vol, 0.0)
    total = _sum(row, vol, n)
    risk = np.zeros(n)
    affinity = np.full(n, np.nan)
    step = history.params.snapshot_days * US_PER_DAY
    row_moment = (t // step) * step  # snapshot_time, vectorised
    moments = np.unique(row_moment)
    for moment in moments:
        snap = history.snapshot(int(moment))
        rows = row_moment == moment
        sel = rows[row]
        r, p, w = row[sel], partner[sel], weight[sel]
        risk[rows] = _share(_sum(r, w * snap.risk[p], n), total)[rows]
        if not snap.defaults_known:
            continue
        vector = np.zeros((n, snap.embedding.shape[1]))
        np.add.at(vector, r, w[:, None] * snap.embedding[p])
        length = np.linalg.norm(vector, axis=1)
        cosine = np.divide(vector @ snap.centroid, length, out=np.full(n, np.nan), where=length > 0)
        affinity[rows] = cosine[rows]
    return risk, affinity
