"""The SME credit world: firms, the invoices they pay each other, and the loans they default on.

Firms sit in a supply chain of four tiers (raw materials → manufacturers → wholesalers →
retailers and services). Each buyer spreads its purchases over a few suppliers with a heavy
tail, and suppliers attract buyers with a heavy tail, so some suppliers live off one big buyer
and others serve hundreds. A firm fails with a weekly hazard set by its own finances (net
margin, leverage, age, size) and by its network: a buyer's failure leaves its suppliers with
unpaid invoices and lost sales, raising their hazard by the share of revenue that buyer was
(a supplier's failure disrupts its buyers, more weakly), and the scar fades over years. So
counterparty default history and buyer concentration predict default beyond what a firm's
own accounts say, which is what network credit scoring has to show.

Loans are drawn as a renewal process per borrower; a loan defaults when its firm fails within
its term. Trade and loans cover a longer horizon than the payments window (``horizon_days``
ending at ``start + days``) so models can be trained on early loans and tested on later ones.
Failing firms pay fewer invoices in the months before they fail; a share of healthy firms have
a similar dip, so the signal is real but not a giveaway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl

from vigil.schema.tables import CURRENCY_OF, TABLES
from vigil.world.claims import US_PER_DAY, epoch_us, minor_per_usd, usd_to_minor
from vigil.world.names import business_names

US_PER_YEAR = 365 * US_PER_DAY
NEVER = np.iinfo(np.int64).max
TIERS = ("raw materials", "manufacturers", "wholesalers", "retailers and services")

#: Keywords of ``accounts.sector`` and the supply-chain tier they put a firm in.
SECTOR_TIERS: tuple[tuple[str, int], ...] = (
    ("agri", 0), ("farm", 0), ("fish", 0), ("mining", 0), ("forest", 0), ("rubber", 0),
    ("palm", 0), ("manufactur", 1), ("textile", 1), ("garment", 1), ("food", 1),
    ("electronic", 1), ("plastic", 1), ("machin", 1), ("chemical", 1), ("steel", 1),
    ("metal", 1), ("furniture", 1), ("wholesale", 2), ("import", 2), ("export", 2),
    ("trad", 2), ("distribut", 2), ("logist", 2), ("retail", 3), ("construct", 3),
    ("software", 3), ("professional", 3), ("service", 3), ("restaurant", 3),
    ("hospitality", 3), ("grocer", 3), ("store", 3), ("hotel", 3),
)  # fmt: skip
#: Sectors given to generated firms (and to account firms without a sector), per tier.
TIER_SECTORS: tuple[tuple[str, ...], ...] = (
    ("agriculture", "mining", "fishery", "forestry"),
    ("manufacturing", "textiles", "food_processing", "electronics", "plastics"),
    ("wholesale", "import_export", "logistics", "distribution"),
    ("retail", "construction", "software", "professional_services", "restaurants"),
)


@dataclass(frozen=True, slots=True)
class SmeParams:
    """Every knob of the credit world; ``docs/world-side-tables.md`` argues the defaults."""

    horizon_days: int = 365  #: trade and loan history, ending at ``start + days``
    tier_shares: tuple[float, ...] = (0.10, 0.25, 0.25, 0.40)  #: of generated firms
    # network
    suppliers_per_buyer: float = 2.5  #: mean; every buyer has at least one
    skip_tier: float = 0.1  #: a buyer's supplier two tiers up (retailer buys from a factory)
    domestic: float = 0.85
    supplier_tail: float = 1.5  #: Pareto shape of supplier popularity (lower: more skewed)
    allocation_tail: float = 1.2  #: Pareto shape of how a buyer splits its purchases
    # finances, per tier (raw, manufacturer, wholesaler, retail)
    direct_revenue_usd: tuple[float, ...] = (40e3, 30e3, 20e3, 400e3)  #: median, outside B2B
    cogs_share: tuple[tuple[float, float], ...] = ((0.45, 0.70), (0.55, 0.80), (0.75, 0.92),
                                                   (0.55, 0.80))  # fmt: skip
    network_input_share: float = 0.8  #: of cost of goods bought from suppliers in the world
    revenue_per_employee_usd: tuple[float, ...] = (60e3, 50e3, 120e3, 40e3)
    age_median_years: float = 7.0
    leverage_median: float = 0.25  #: debt / annual revenue
    # default hazard: log-hazard terms of the firm's own finances ...
    annual_pd: float = 0.032  #: failure probability of an average firm in a quiet year
    tier_hazard: tuple[float, ...] = (0.6, 0.7, 0.9, 1.6)  #: retail and services fail most
    beta_margin: float = 8.0  #: per unit of net margin (lower margin, more risk)
    beta_leverage: float = 0.6  #: per log of leverage
    beta_age: float = 0.4  #: per log of age in years (young firms fail more)
    beta_size: float = 0.15  #: per log of revenue
    # ... and of its place in the network
    beta_concentration: float = 2.0  #: per unit of the top buyer's revenue share
    contagion: float = 12.0  #: per unit of revenue share lost to failed buyers
    supply_contagion: float = 6.0  #: per unit of purchase share lost to failed suppliers
    contagion_half_life_days: float = 730.0  #: losing a key customer scars for years
    # loans
    borrower_share: float = 0.95
    loan_terms: tuple[int, ...] = (90, 180, 365)
    loan_term_probs: tuple[float, ...] = (0.3, 0.4, 0.3)
    loan_gap_days: float = 20.0  #: mean pause between repaying one loan and the next
    # invoices
    invoices_per_month: float = 1.0  #: median per relationship
    churn: float = 0.2  #: relationships that start or end inside the horizon
    distress_days: float = 90.0  #: failing firms pay fewer invoices over this long
    distress_keep: float = 0.4  #: share of invoices still paid just before failing
    dip_share: float = 0.1  #: healthy firms with a similar, temporary dip
    dip_days: float = 60.0
    dip_keep: float = 0.5


@dataclass(slots=True)
class _Firms:
    ids: pl.Series
    names: list[str]
    sector: np.ndarray
    country: np.ndarray
    tier: np.ndarray
    founded: np.ndarray  #: microseconds since the epoch
    rate: np.ndarray  #: minor units of the firm's currency per US dollar
    currency: pl.Series


@dataclass(slots=True)
class _Edges:
    """Supplier → buyer relationships; ``volume`` is annual, in US dollars."""

    supplier: np.ndarray
    buyer: np.ndarray
    weight: np.ndarray  #: share of the buyer's purchases
    volume: np.ndarray
    share: np.ndarray  #: share of the supplier's revenue


@dataclass(slots=True)
class _Finances:
    revenue: np.ndarray  #: annual, US dollars
    net_margin: np.ndarray
    leverage: np.ndarray
    employees: np.ndarray
    top_share: np.ndarray  #: largest buyer's share of revenue


def _tier_of(sectors: list[str | None], rng: np.random.Generator, params: SmeParams) -> np.ndarray:
    """Tier by sector keyword; sectors the table does not know get a tier at random."""
    lookup: dict[str | None, int] = {}
    for sector in set(sectors):
        lowered = (sector or "").lower()
        lookup[sector] = next((t for key, t in SECTOR_TIERS if key in lowered), -1)
    tier = np.array([lookup[s] for s in sectors], dtype=np.int64)
    unknown = tier < 0
    tier[unknown] = rng.choice(len(TIERS), size=int(unknown.sum()), p=params.tier_shares)
    return tier


def _sectors_for(rng: np.random.Generator, tier: np.ndarray) -> np.ndarray:
    out = np.empty(len(tier), dtype=object)
    for t, options in enumerate(TIER_SECTORS):
        sel = np.flatnonzero(tier == t)
        out[sel] = np.array(options, dtype=object)[rng.integers(0, len(options), len(sel))]
    return out


def _firms(
    rng: np.random.Generator,
    accounts: pl.DataFrame,
    end_us: int,
    n_businesses: int | None,
    params: SmeParams,
) -> _Firms:
    """Account businesses first, in account order, then generated ones up to ``n_businesses``."""
    own = accounts.filter(pl.col("kind") == "business")
    n_own = own.height
    total = n_own if n_businesses is None else n_businesses
    if total < n_own:
        raise ValueError(f"n_businesses={total} is below the {n_own} business accounts")
    sectors = (own["sector"].to_list() if "sector" in own.columns else [None] * n_own) + [None] * (
        total - n_own
    )
    mix = own.group_by("country").len().sort("country") if n_own else None
    countries = own["country"].to_numpy().astype(object)
    if total > n_own:
        codes = mix["country"].to_numpy() if mix is not None else np.array(list(CURRENCY_OF))
        weights = mix["len"].to_numpy() if mix is not None else np.ones(len(codes))
        extra = rng.choice(codes, size=total - n_own, p=weights / weights.sum()).astype(object)
        countries = np.concatenate([countries, extra])
    tier = _tier_of(sectors, rng, params)
    sector = np.array(sectors, dtype=object)
    missing = np.array([s is None for s in sectors], dtype=bool)
    sector[missing] = _sectors_for(rng, tier[missing])

    # Account firms were founded before they opened their account; others any time before.
    age = params.age_median_years * np.exp(0.9 * rng.standard_normal(total)) * US_PER_YEAR
    opened = own["created_at"].dt.epoch("us").to_numpy() if n_own else np.array([], np.int64)
    anchor = np.concatenate([opened, np.full(total - n_own, end_us)])
    founded = np.minimum(anchor - (age * np.where(np.arange(total) < n_own, 0.4, 1.0)), end_us)
    founded = (founded - 30 * US_PER_DAY).astype(np.int64)

    names = own["name"].to_list() if "name" in own.columns else [None] * n_own
    generated = business_names(rng, countries, sector)
    names = [name or made for name, made in zip(names, generated, strict=False)] + generated[n_own:]
    codes, code = np.unique(countries.astype(str), return_inverse=True)
    currencies = pl.Series([CURRENCY_OF.get(c, "USD") for c in codes.tolist()], dtype=pl.String)
    return _Firms(
        ids=_ids(own["account_id"], total - n_own),
        names=names,
        sector=sector.astype(str),
        country=countries.astype(str),
        tier=tier,
        founded=founded,
        rate=minor_per_usd(codes.tolist())[code],
        currency=currencies.gather(code),
    )


def _ids(existing: pl.Series, extra: int) -> pl.Series:
    """Account ids followed by fresh ``B0000123`` ids that no account already uses."""
    taken = set(existing.to_list())
    fresh: list[str] = []
    k = 0
    while len(fresh) < extra:
        batch = [f"B{i:07d}" for i in range(k, k + extra - len(fresh))]
        fresh += [b for b in batch if b not in taken]
        k += len(batch)
    return pl.concat([existing, pl.Series(fresh, dtype=pl.String)]).rename("business_id")


def _pick_weighted(
    rng: np.random.Generator, members: np.ndarray, weight: np.ndarray, n: int
) -> np.ndarray:
    cum = np.cumsum(weight[members])
    return members[
        np.searchsorted(cum, rng.random(n) * cum[-1], side="right").clip(0, len(cum) - 1)
    ]


def _network(
    rng: np.random.Generator, firms: _Firms, params: SmeParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Who buys from whom: (supplier, buyer, share of the buyer's purchases) per relationship."""
    n = len(firms.tier)
    pull = rng.pareto(params.supplier_tail, n) + 1.0
    buyer = np.flatnonzero(firms.tier > 0)
    buyer = np.repeat(buyer, 1 + rng.poisson(params.suppliers_per_buyer - 1, len(buyer)))
    up = 1 + ((firms.tier[buyer] >= 2) & (rng.random(len(buyer)) < params.skip_tier))
    target = firms.tier[buyer] - up
    domestic = rng.random(len(buyer)) < params.domestic
    supplier = np.full(len(buyer), -1)
    present = [np.flatnonzero(firms.tier == t) for t in range(len(TIERS))]
    for t in range(len(TIERS) - 1):
        # An empty tier (small worlds) is bridged by the nearest non-empty tier upstream.
        source = next((s for s in range(t, -1, -1) if len(present[s])), None)
        want = np.flatnonzero(target == t)
        if source is None or not len(want):
            continue
        members = present[source]
        supplier[want] = _pick_weighted(rng, members, pull, len(want))
        for country in sorted(set(firms.country[members].tolist())):
            local = members[firms.country[members] == country]
            sel = want[domestic[want] & (firms.country[buyer[want]] == country)]
            if len(sel):
                supplier[sel] = _pick_weighted(rng, local, pull, len(sel))
    keep = supplier >= 0
    supplier, buyer = supplier[keep], buyer[keep]
    weight = rng.pareto(params.allocation_tail, len(buyer)) + 1.0
    # Merge repeated picks of the same pair into one relationship.
    key = supplier.astype(np.int64) * n + buyer
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.ones(len(key), dtype=bool)
    starts[1:] = key[1:] != key[:-1]
    group = np.cumsum(starts) - 1
    weight = np.bincount(group, weights=weight[order])
    supplier, buyer = supplier[order][starts], buyer[order][starts]
    weight = weight / np.bincount(buyer, weights=weight, minlength=n)[buyer]
    return supplier, buyer, weight


def _finances(
    rng: np.random.Generator,
    firms: _Firms,
    links: tuple[np.ndarray, np.ndarray, np.ndarray],
    params: SmeParams,
) -> tuple[_Finances, _Edges]:
    """Revenues from the bottom of the chain up: a supplier's sales are its buyers' purchases."""
    supplier, buyer, weight = links
    n, tier = len(firms.tier), firms.tier
    direct = np.array(params.direct_revenue_usd)[tier] * np.exp(rng.standard_normal(n))
    lo, hi = np.array(params.cogs_share).T
    cogs = lo[tier] + (hi - lo)[tier] * rng.random(n)
    revenue = direct.copy()
    volume = np.zeros(len(buyer))
    for t in range(len(TIERS) - 1, -1, -1):
        here = tier == t
        incoming = tier[buyer] > t
        revenue[here] = (direct + np.bincount(supplier[incoming], volume[incoming], n))[here]
        out = tier[buyer] == t
        volume[out] = revenue[buyer[out]] * cogs[buyer[out]] * params.network_input_share
        volume[out] *= weight[out]
    share = volume / revenue[supplier]
    top = np.zeros(n)
    np.maximum.at(top, supplier, share)
    gross = 1.0 - cogs
    net = gross * (1.0 - rng.uniform(0.55, 1.1, n)) + 0.03 * rng.standard_normal(n)
    leverage = params.leverage_median * np.exp(0.6 * rng.standard_normal(n))
    per_head = np.array(params.revenue_per_employee_usd)[tier]
    employees = np.maximum(1, np.rint(revenue / per_head * np.exp(0.4 * rng.standard_normal(n))))
    finances = _Finances(revenue, net, leverage, employees.astype(np.int64), top)
    return finances, _Edges(supplier, buyer, weight, volume, share)


def _failures(
    rng: np.random.Generator,
    firms: _Firms,
    fin: _Finances,
    edges: _Edges,
    begin_us: int,
    until_us: int,
    params: SmeParams,
) -> np.ndarray:
    """When each firm fails (``NEVER`` if not before ``until_us``), week by week.

    The log-hazard adds the firm's own risk, its tier, its buyer concentration and its
    network shock: the revenue share it lost to failed buyers (unpaid invoices, lost sales)
    and, more weakly, the purchase share it lost to failed suppliers (disrupted supply). The
    shock fades slowly, so a loan issued months after a key customer failed is still riskier:
    that is what makes counterparty default history predictive out of time.
    """
    n = len(firms.tier)
    own = (
        -params.beta_margin * fin.net_margin
        + params.beta_leverage * np.log(fin.leverage / params.leverage_median)
        - params.beta_size * np.log(fin.revenue / np.median(fin.revenue))
        + np.log(np.array(params.tier_hazard))[firms.tier]
        + params.beta_concentration * fin.top_share
    )
    # Normalise so that ``annual_pd`` is the hazard of an average firm before any shock.
    age_years = np.maximum((begin_us - firms.founded) / US_PER_YEAR, 0.25)
    own -= np.log(np.mean(np.exp(own - params.beta_age * np.log(age_years))))
    week_us = 7 * US_PER_DAY
    base = -np.log(1.0 - params.annual_pd) * 7 / 365
    fade = 0.5 ** (7 / params.contagion_half_life_days)
    down = params.contagion * edges.share
    up = params.supply_contagion * edges.weight
    shock = np.zeros(n)
    failed = np.full(n, NEVER, dtype=np.int64)
    alive = np.ones(n, dtype=bool)
    for t in range(begin_us, until_us, week_us):
        shock *= fade
        age = np.maximum((t - firms.founded) / US_PER_YEAR, 0.25)
        hazard = base * np.exp(own - params.beta_age * np.log(age) + shock)
        new = alive & (firms.founded <= t) & (rng.random(n) < -np.expm1(-hazard))
        if not new.any():
            continue
        failed[new] = t + (rng.random(int(new.sum())) * week_us).astype(np.int64)
        alive &= ~new
        lost_buyer = new[edges.buyer]
        shock += np.bincount(edges.supplier[lost_buyer], weights=down[lost_buyer], minlength=n)
        lost_supplier = new[edges.supplier]
        shock += np.bincount(edges.buyer[lost_supplier], weights=up[lost_supplier], minlength=n)
    return failed


def _loans(
    rng: np.random.Generator,
    firms: _Firms,
    fin: _Finances,
    failed: np.ndarray,
    begin_us: int,
    end_us: int,
    params: SmeParams,
) -> pl.DataFrame:
    """Back-to-back working-capital loans per borrower; none is issued to a failed firm.

    Each borrower's chain of loans starts at a random phase up to a full cycle before the
    horizon, so issuance is steady from the first day instead of bunching at the start.
    """
    n = len(firms.tier)
    terms = np.array(params.loan_terms)
    longest = (terms.max() + 4 * params.loan_gap_days) * US_PER_DAY
    slots = int(np.ceil((end_us - begin_us + longest) / (terms.min() * US_PER_DAY))) + 1
    term = terms[rng.choice(len(terms), size=(n, slots), p=params.loan_term_probs)]
    gap = rng.exponential(params.loan_gap_days, size=(n, slots)) * US_PER_DAY
    phase = begin_us - (rng.random(n) * longest).astype(np.int64)
    first = np.maximum(phase, firms.founded + 30 * US_PER_DAY)
    steps = np.cumsum(term * US_PER_DAY + gap, axis=1) - (term * US_PER_DAY + gap)
    issued = (first[:, None] + steps).astype(np.int64)
    borrower = rng.random(n) < params.borrower_share
    window = (issued >= begin_us) & (issued < end_us)
    valid = borrower[:, None] & window & (issued < failed[:, None])
    firm, slot = np.nonzero(valid)
    issued, term = issued[firm, slot], term[firm, slot]
    due = issued + term * US_PER_DAY
    defaulted = failed[firm] <= due
    usd = fin.revenue[firm] * fin.leverage[firm] * rng.uniform(0.3, 0.9, len(firm))
    order = np.lexsort((firm, issued))
    firm, issued, term, defaulted, usd = (a[order] for a in (firm, issued, term, defaulted, usd))
    return pl.DataFrame(
        {
            "loan_id": [f"L{i:08d}" for i in range(len(firm))],
            "business_id": firms.ids.gather(firm),
            "issued_at": issued,
            "amount": usd_to_minor(np.maximum(usd, 1_000.0), firms.rate[firm]),
            "currency": firms.currency.gather(firm),
            "term_days": term.astype(np.int64),
            "defaulted": defaulted,
            "defaulted_at": np.where(defaulted, failed[firm], 0),
        }
    ).with_columns(
        pl.col("issued_at").cast(pl.Datetime("us", "UTC")),
        pl.when("defaulted").then(pl.col("defaulted_at")).cast(pl.Datetime("us", "UTC")),
    )


def _trade(
    rng: np.random.Generator,
    firms: _Firms,
    edges: _Edges,
    failed: np.ndarray,
    begin_us: int,
    end_us: int,
    params: SmeParams,
) -> pl.DataFrame:
    """One row per invoice paid, from relationship start until either side fails or stops."""
    m, n = len(edges.buyer), len(firms.tier)
    span = end_us - begin_us
    opens = np.where(rng.random(m) < params.churn / 2, begin_us + rng.random(m) * span, begin_us)
    closes = np.where(
        rng.random(m) < params.churn / 2, opens + rng.random(m) * (end_us - opens), NEVER
    )
    s, b = edges.supplier, edges.buyer
    lo = np.maximum.reduce([opens, firms.founded[s], firms.founded[b]]).astype(np.int64)
    hi = np.minimum.reduce([closes, failed[s], failed[b], np.full(m, end_us)]).astype(np.int64)
    days = np.maximum(hi - lo, 0) / US_PER_DAY
    per_month = params.invoices_per_month * np.exp(0.6 * rng.standard_normal(m))
    count = rng.poisson(per_month * days / 30)
    e = np.repeat(np.arange(m), count)
    ts = lo[e] + (rng.random(len(e)) * (hi - lo)[e]).astype(np.int64)
    usd = edges.volume[e] / (12 * per_month[e]) * np.exp(0.35 * rng.standard_normal(len(e)))

    keep = np.ones(len(e), dtype=bool)
    # Failing buyers stop paying some invoices as they run out of cash.
    left = (failed[b[e]] - ts) / (params.distress_days * US_PER_DAY)
    distressed = left < 1
    paid = params.distress_keep + (1 - params.distress_keep) * np.clip(left, 0, 1)
    keep &= ~distressed | (rng.random(len(e)) < paid)
    # Healthy firms have dips of their own (a lost contract, a slow season).
    dips = rng.random(n) < params.dip_share
    dip_start = begin_us + (rng.random(n) * max(span - params.dip_days * US_PER_DAY, 0))
    in_dip = dips[b[e]] & (ts >= dip_start[b[e]])
    in_dip &= ts < dip_start[b[e]] + params.dip_days * US_PER_DAY
    keep &= ~in_dip | (rng.random(len(e)) < params.dip_keep)

    e, ts, usd = e[keep], ts[keep], usd[keep]
    order = np.argsort(ts, kind="stable")
    e, ts, usd = e[order], ts[order], usd[order]
    return pl.DataFrame(
        {
            "supplier_id": firms.ids.gather(s[e]),
            "buyer_id": firms.ids.gather(b[e]),
            "ts": pl.Series(ts).cast(pl.Datetime("us", "UTC")),
            "amount": usd_to_minor(usd, firms.rate[s[e]]),
            "currency": firms.currency.gather(s[e]),
        }
    )


def build_sme(
    rng: np.random.Generator,
    accounts: pl.DataFrame,
    start: datetime,
    days: int,
    n_businesses: int | None = None,
    *,
    params: SmeParams | None = None,
) -> dict[str, pl.DataFrame]:
    """The ``businesses``, ``trade`` and ``loans`` tables of the credit world.

    ``n_businesses`` grows the world beyond the accounts' businesses with generated firms
    (ids ``B0000123``), for benchmarks; it may not be below the number of business accounts.
    """
    params = params or SmeParams()
    end_us = epoch_us(start) + days * US_PER_DAY
    begin_us = end_us - params.horizon_days * US_PER_DAY
    firms = _firms(rng, accounts, end_us, n_businesses, params)
    schemas = {name: TABLES[name].polars_schema() for name in ("businesses", "trade", "loans")}
    if not len(firms.tier):
        return {name: pl.DataFrame(schema=schema) for name, schema in schemas.items()}
    fin, edges = _finances(rng, firms, _network(rng, firms, params), params)
    # Follow failures past the horizon for as long as the last loan can run.
    until_us = end_us + max(params.loan_terms) * US_PER_DAY
    failed = _failures(rng, firms, fin, edges, begin_us, until_us, params)
    reported = fin.revenue * np.exp(0.1 * rng.standard_normal(len(fin.revenue)))
    businesses = pl.DataFrame(
        {
            "business_id": firms.ids,
            "name": firms.names,
            "sector": firms.sector,
            "country": firms.country,
            "founded_at": pl.Series(firms.founded).cast(pl.Datetime("us", "UTC")),
            "employees": fin.employees,
            "annual_revenue": usd_to_minor(reported, firms.rate),
            "currency": firms.currency,
        }
    )
    return {
        "businesses": businesses.cast(schemas["businesses"]),
        "trade": _trade(rng, firms, edges, failed, begin_us, end_us, params).cast(schemas["trade"]),
        "loans": _loans(rng, firms, fin, failed, begin_us, end_us, params).cast(schemas["loans"]),
    }
