"""The account holders: persons, merchants and businesses, and the ties between them.

Everything that does not change day to day is drawn here once, as numpy arrays indexed by
account: where someone lives, their phones and home addresses, employer and salary, bills,
friends, favourite shops, suppliers. Daily traffic is then a matter of sampling events over
these ties, which is what makes the world's graph realistic (repeat counterparties, circles,
shared carrier addresses) rather than random.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from vigil.world.config import BUSINESS_SECTORS, COUNTRIES, PopulationConfig, WorldConfig
from vigil.world.events import NONE, US_PER_DAY
from vigil.world.sampling import IpBlocks, Money, component_rng, counts, lognormal, new_devices

PERSON, MERCHANT, BUSINESS = 0, 1, 2
KINDS: tuple[str, ...] = ("person", "merchant", "business")
_ID_PREFIX = ("P", "M", "B")

#: Roles decide who the legit generator moves money for.
NORMAL = 0  #: ordinary customer
ENGAGED = 1  #: plays a part in an injected typology and keeps living a normal life
OWNED = 2  #: exists only for fraud (mule, synthetic identity): no legit traffic
DORMANT = 3  #: silent until ``active_from``

NEVER = np.iinfo(np.int64).max
MIN_ACCOUNTS = 500  #: below this a country lacks the merchants and employers a world needs
_MERCHANTS_PER_COUNTRY = 4  #: a cash agent, a utility, a telecom and at least one shop
_BUSINESSES_PER_COUNTRY = 3
#: Random stream of the persons' dates of birth, apart from the population's own (component 1)
#: so that adding them shifted nothing else in the world.
BIRTH_DATES = 63
_ADULT_YEARS = (18.0, 85.0)  #: ages of account holders at the start of the window
#: no date of birth (firms); not NONE (-1), which is a day: 31 December 1969
NO_BIRTH_DAY = np.iinfo(np.int64).min


class AccountSampler:
    """Weighted choice of an account inside a country, or anywhere when the country has none.

    The fallback is what a small world needs: a country without a jeweller sends its
    big-ticket purchases abroad, which is also what people do.
    """

    def __init__(self, members: np.ndarray, weights: np.ndarray, country: np.ndarray):
        order = np.lexsort((members, country[members]))
        self.members = members[order]
        member_country = country[self.members]
        self.cum = np.cumsum(weights[order].astype(float))
        codes = np.arange(len(COUNTRIES))
        self.first = np.searchsorted(member_country, codes, side="left")
        self.last = np.searchsorted(member_country, codes, side="right")
        base = np.concatenate([[0.0], self.cum])
        self.lo = base[self.first]
        self.total = base[self.last] - self.lo

    def draw(self, rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
        country = np.asarray(country, dtype=np.int64)
        safe = np.maximum(country, 0)
        anywhere = (country < 0) | (self.total[safe] <= 0)
        lo = np.where(anywhere, 0.0, self.lo[safe])
        total = np.where(anywhere, self.cum[-1], self.total[safe])
        pick = np.searchsorted(self.cum, lo + rng.random(len(country)) * total, side="right")
        first = np.where(anywhere, 0, self.first[safe])
        last = np.where(anywhere, len(self.members), self.last[safe])
        return self.members[np.clip(pick, first, last - 1)]


@dataclass(eq=False)
class Population:
    """All accounts of a world as parallel arrays; index = position in the accounts table."""

    cfg: WorldConfig
    start_us: int
    kind: np.ndarray  #: int8 PERSON / MERCHANT / BUSINESS
    country: np.ndarray  #: int64 index into COUNTRIES
    created_at: np.ndarray  #: int64 us
    kyc: np.ndarray  #: int64 0..3
    sector: np.ndarray  #: object array of str or None
    mcc: np.ndarray  #: int64 index into cfg.mccs for merchants, NONE otherwise
    role: np.ndarray  #: int8
    active_from: np.ndarray  #: int64 us; legit traffic only from here on
    activity: np.ndarray  #: float: spending appetite of persons, size of firms
    device1: np.ndarray  #: int64
    device2: np.ndarray  #: int64, NONE for single-device persons
    ip_home: np.ndarray  #: int64
    ip_mobile: np.ndarray  #: int64, a carrier address shared by many persons
    price: np.ndarray  #: float: merchant's price level relative to its category
    employer: np.ndarray  #: int64 account, NONE for the self-employed and firms
    salary_usd: np.ndarray
    payday: np.ndarray  #: int64 day of month a business pays on
    bill_day: np.ndarray
    utility: np.ndarray
    telecom: np.ndarray
    utility_usd: np.ndarray
    telecom_usd: np.ndarray
    remit_to: np.ndarray  #: int64 family member abroad, NONE if not a migrant
    remit_share: np.ndarray
    favourites: np.ndarray  #: (n, K) merchants a person keeps returning to
    circle: np.ndarray  #: (n, 3): start, size, position of the person in circle_members
    circle_members: np.ndarray
    suppliers: np.ndarray  #: (n, S) businesses a firm pays, NONE where none
    mcc_code: np.ndarray  #: int16 numeric code of each cfg.mccs entry
    #: int64 days since 1970-01-01 of each person's date of birth, NO_BIRTH_DAY for firms
    birth_day: np.ndarray | None = None
    _samplers: dict[tuple[str, ...], AccountSampler] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.kind)

    def merchants(self, codes: tuple[str, ...]) -> AccountSampler:
        """A sampler over merchants of the given MCCs, weighted by popularity (cached)."""
        if codes not in self._samplers:
            members = np.flatnonzero((self.kind == MERCHANT) & self._sells(codes))
            weight = np.array([m.weight or 1.0 for m in self.cfg.mccs])[self.mcc[members]]
            share = weight / self._mcc_count(members)
            self._samplers[codes] = AccountSampler(
                members, share * self.activity[members], self.country
            )
        return self._samplers[codes]

    def _mcc_count(self, members: np.ndarray) -> np.ndarray:
        # Popularity of a category is shared among its merchants in the same country, so a
        # country with three grocers does not buy three times the groceries.
        key = self.country[members] * len(self.cfg.mccs) + self.mcc[members]
        _, inverse, count = np.unique(key, return_inverse=True, return_counts=True)
        return count[inverse]

    def _sells(self, codes: tuple[str, ...]) -> np.ndarray:
        """Which accounts are merchants of one of the MCCs ``codes``."""
        wanted = np.isin(np.array([m.code for m in self.cfg.mccs]), codes)
        return wanted[np.maximum(self.mcc, 0)] & (self.mcc >= 0)

    def tickets_usd(
        self, rng: np.random.Generator, merchant: np.ndarray, price_level: np.ndarray
    ) -> np.ndarray:
        """What a purchase at each ``merchant`` costs, in US dollars: its category's log-normal
        ticket (median and spread) at its country's ``price_level`` and its own price."""
        kind = self.mcc[merchant]
        median = np.array([m.median_usd for m in self.cfg.mccs])[kind]
        median = median * price_level[self.country[merchant]]
        sigma = np.array([m.sigma for m in self.cfg.mccs])[kind]
        return lognormal(rng, median * self.price[merchant], sigma, len(merchant))

    def codes_of_group(self, *groups: str) -> tuple[str, ...]:
        return tuple(m.code for m in self.cfg.mccs if m.group in groups)

    def recruit(
        self,
        rng: np.random.Generator,
        country: np.ndarray,
        kind: int = PERSON,
        dormant: bool = False,
        min_age_days: float = 60.0,
        fresh: bool = False,
        codes: tuple[str, ...] | None = None,
    ) -> np.ndarray:
        """Take accounts out of the ordinary population for a typology.

        ``country`` holds the wanted country per slot, -1 for any; a slot its country cannot
        fill is filled from anywhere. Recruits become ENGAGED: their normal life goes on.
        ``fresh`` marks recruits about to be opened for fraud (see :meth:`open_accounts`).
        ``codes`` keeps merchants of those MCCs only.

        Each account plays one part while the population lasts, which keeps every incident's
        shape clean. Long windows outrun the population (and fresh fraud accounts are capped,
        so honest volume does not drain away); then accounts already in play are used again,
        as criminal networks reuse their mules, smurfs and sleepers.
        """
        old_enough = self.created_at <= self.start_us - min_age_days * US_PER_DAY
        of_kind = self.kind == kind
        if codes is not None:
            of_kind &= self._sells(codes)
        mine = of_kind & old_enough
        sleeping = self.active_from == NEVER
        if dormant:
            pool, reuse = self.role == DORMANT, self.role == ENGAGED
            pool, reuse = pool & sleeping, reuse & sleeping
        else:
            pool = self.role == NORMAL
            reuse = (self.role == OWNED) if fresh else (self.role == ENGAGED) & ~sleeping
        candidates = rng.permutation(np.flatnonzero(pool & mine))
        if fresh:
            cap = self.cfg.population.fraud_account_cap * np.sum(self.kind == kind)
            candidates = candidates[: max(int(cap) - np.sum(self.role == OWNED), 0)]
        country = np.asarray(country, dtype=np.int64)
        out = np.full(len(country), NONE, dtype=np.int64)
        used = np.zeros(len(candidates), dtype=bool)
        for code in np.unique(country[country >= 0]):
            slots = np.flatnonzero(country == code)
            local = np.flatnonzero((self.country[candidates] == code) & ~used)[: len(slots)]
            out[slots[: len(local)]] = candidates[local]
            used[local] = True
        empty = np.flatnonzero(out == NONE)
        rest = np.flatnonzero(~used)[: len(empty)]
        out[empty[: len(rest)]] = candidates[rest]
        self.role[out[out != NONE]] = ENGAGED
        short = np.flatnonzero(out == NONE)
        if len(short):
            again = np.union1d(np.flatnonzero(reuse & of_kind), out[out != NONE])
            if not len(again):
                raise ValueError(f"no {KINDS[kind]} accounts left to recruit from")
            out[short] = again[rng.integers(0, len(again), len(short))]
        return out

    def open_accounts(self, accounts: np.ndarray, created_at: np.ndarray, kyc: np.ndarray):
        """Turn recruits into accounts opened for fraud: new, thinly verified, no normal life.

        An account reused by a later typology keeps its earlier opening date, which precedes
        both uses.
        """
        reopened = self.role[accounts] == OWNED
        self.created_at[accounts] = np.where(
            reopened, np.minimum(self.created_at[accounts], created_at), created_at
        )
        self.kyc[accounts] = np.where(reopened, self.kyc[accounts], kyc)
        self.role[accounts] = OWNED
        self.active_from[accounts] = NEVER

    def account_ids(self) -> pl.Series:
        prefix = pl.Series(_ID_PREFIX).gather(pl.Series(self.kind.astype(np.int64)))
        number = pl.Series(np.arange(len(self), dtype=np.int64)).cast(pl.String).str.zfill(8)
        return (prefix + number).alias("account_id")

    def accounts_frame(self, names: list[str]) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "account_id": self.account_ids(),
                "kind": pl.Series(KINDS).gather(pl.Series(self.kind.astype(np.int64))),
                "name": pl.Series(names, dtype=pl.String),
                "country": pl.Series(COUNTRIES).gather(pl.Series(self.country)),
                "created_at": pl.Series(self.created_at, dtype=pl.Int64)
                .cast(pl.Datetime("us"))
                .dt.replace_time_zone("UTC"),
                "kyc_level": pl.Series(self.kyc, dtype=pl.Int64),
                "sector": pl.Series(self.sector.tolist(), dtype=pl.String),
                "birth_date": _iso_dates(self.birth_day, len(self)),
            }
        )


def _iso_dates(days: np.ndarray | None, n: int) -> pl.Series:
    """Days since the epoch as ISO 8601 date strings (the contract's text form), null where
    there is none."""
    if days is None:
        return pl.Series("birth_date", [None] * n, dtype=pl.String)
    missing = days == NO_BIRTH_DAY
    dates = pl.Series("birth_date", np.where(missing, 0, days).astype(np.int32))
    text = dates.cast(pl.Date).dt.strftime("%Y-%m-%d")
    return text.set(pl.Series(missing), None)


def birth_days(seed: int, kind: np.ndarray, start_us: int) -> np.ndarray:
    """Dates of birth of the persons (days since the epoch), NO_BIRTH_DAY for firms.

    Drawn from their own stream (:data:`BIRTH_DATES`): the same seed gives the same dates and
    no other table moves. Ages are adults' (18-85 at the window's start, mean about 42), days
    uniform over the year, so two namesakes share a birth year about one time in 50 and a full
    date about one time in 18,000, as in a real customer base.
    """
    persons = np.flatnonzero(kind == PERSON)
    out = np.full(len(kind), NO_BIRTH_DAY, dtype=np.int64)
    out[persons] = adult_birth_days(
        component_rng(seed, BIRTH_DATES), len(persons), start_us // US_PER_DAY
    )
    return out


def adult_birth_days(rng: np.random.Generator, n: int, start_day: int) -> np.ndarray:
    """``n`` dates of birth (days since the epoch) of adults aged 18-85 on ``start_day``."""
    low, high = _ADULT_YEARS
    age_days = (low + rng.beta(2.0, 3.5, n) * (high - low)) * 365.25
    return start_day - age_days.astype(np.int64)


def _allocate(rng: np.random.Generator, total: int, shares: np.ndarray, floor: int):
    """Countries for ``total`` accounts: every country gets ``floor``, the rest by share."""
    rest = total - floor * len(shares)
    exact = shares / shares.sum() * rest
    base = np.floor(exact).astype(np.int64)
    base[np.argsort(base - exact, kind="stable")[: rest - base.sum()]] += 1
    return rng.permutation(np.repeat(np.arange(len(shares)), base + floor))


def build_population(
    cfg: WorldConfig, accounts: int, start_us: int, days: int, seed: int
) -> Population:
    """Draw every account and tie of a world of ``accounts`` for a window of ``days``.

    Injected typologies later recruit from (and adjust) this population before any traffic
    is generated, so the accounts table is written only after they have run.
    """
    if accounts < MIN_ACCOUNTS:
        raise ValueError(f"a world needs at least {MIN_ACCOUNTS} accounts, got {accounts}")
    rng = component_rng(seed, 1)
    pc = cfg.population
    shares = np.array([cfg.countries[c].share for c in COUNTRIES])
    n_countries = len(COUNTRIES)
    n_merchants = max(
        round(accounts * pc.merchant_share),
        _MERCHANTS_PER_COUNTRY * n_countries + len(cfg.mccs),
    )
    n_business = max(round(accounts * pc.business_share), _BUSINESSES_PER_COUNTRY * n_countries)
    n_persons = accounts - n_merchants - n_business
    kind = np.repeat(
        np.array([PERSON, MERCHANT, BUSINESS], dtype=np.int8), [n_persons, n_merchants, n_business]
    )
    country = np.concatenate(
        [
            _allocate(rng, n_persons, shares, 0),
            _allocate(rng, n_merchants, shares, _MERCHANTS_PER_COUNTRY),
            _allocate(rng, n_business, shares, _BUSINESSES_PER_COUNTRY),
        ]
    )
    persons = np.flatnonzero(kind == PERSON)
    merchants = np.flatnonzero(kind == MERCHANT)
    businesses = np.flatnonzero(kind == BUSINESS)
    window_us = days * US_PER_DAY

    firms = np.concatenate([merchants, businesses])
    created, kyc, role, active_from = _lifetimes(rng, pc, kind, start_us, window_us)

    activity = np.empty(accounts)
    activity[persons] = lognormal(rng, np.exp(-0.18), 0.6, n_persons)
    activity[firms] = lognormal(rng, 1.0, 0.8, len(firms))

    mcc = np.full(accounts, NONE, dtype=np.int64)
    mcc[merchants] = _merchant_mccs(rng, cfg, country, merchants)
    sector = np.full(accounts, None, dtype=object)
    sector[merchants] = np.array([m.sector for m in cfg.mccs], dtype=object)[mcc[merchants]]
    sector[businesses] = np.array(BUSINESS_SECTORS, dtype=object)[
        rng.integers(0, len(BUSINESS_SECTORS), len(businesses))
    ]

    ips = IpBlocks(cfg)
    device1 = new_devices(rng, accounts)
    device2 = np.where(
        rng.random(accounts) < pc.second_device_share, new_devices(rng, accounts), NONE
    )
    device2[firms] = NONE
    ip_home = ips.draw(rng, country)
    ip_mobile = np.full(accounts, NONE, dtype=np.int64)
    ip_mobile[persons] = _carrier_addresses(rng, ips, country[persons], pc.cgnat_users)

    price = np.ones(accounts)
    price[merchants] = lognormal(rng, 1.0, 0.25, len(merchants))
    money = Money(cfg)
    level = money.price_level[country]

    business_sampler = AccountSampler(businesses, activity[businesses], country)
    payday = np.full(accounts, NONE, dtype=np.int64)
    payday[businesses] = np.asarray(pc.paydays)[rng.integers(0, len(pc.paydays), len(businesses))]
    employer = np.full(accounts, NONE, dtype=np.int64)
    employed = persons[rng.random(n_persons) < pc.employed_share]
    employer[employed] = business_sampler.draw(rng, country[employed])
    salary = np.zeros(accounts)
    salary[employed] = lognormal(rng, pc.salary_median_usd, pc.salary_sigma, len(employed))
    salary *= level

    mccs = np.array([m.code for m in cfg.mccs])
    utility_sampler = _sampler_of(kind, mcc, mccs, country, activity, "4900")
    telecom_sampler = _sampler_of(kind, mcc, mccs, country, activity, "4814")
    bill_day = np.full(accounts, NONE, dtype=np.int64)
    bill_day[persons] = rng.integers(1, 29, n_persons)
    utility = np.full(accounts, NONE, dtype=np.int64)
    telecom = np.full(accounts, NONE, dtype=np.int64)
    utility[persons] = utility_sampler.draw(rng, country[persons])
    telecom[persons] = telecom_sampler.draw(rng, country[persons])
    lc = cfg.legit
    utility_usd = lognormal(rng, lc.utility_median_usd, 0.5, accounts) * level
    telecom_usd = lognormal(rng, lc.telecom_median_usd, 0.3, accounts) * level

    remit_to, remit_share = _remittances(rng, cfg, country, persons, employer)
    circle, members = _circles(rng, pc.circle_size, country, persons, accounts)
    _share_family_tablets(rng, pc.family_device_share, device2, country, circle, members)
    suppliers = _suppliers(rng, pc, business_sampler, country, firms, accounts)

    population = Population(
        cfg=cfg,
        start_us=start_us,
        kind=kind,
        country=country,
        created_at=created,
        kyc=kyc,
        sector=sector,
        mcc=mcc,
        role=role,
        active_from=active_from,
        activity=activity,
        device1=device1,
        device2=device2,
        ip_home=ip_home,
        ip_mobile=ip_mobile,
        price=price,
        employer=employer,
        salary_usd=salary,
        payday=payday,
        bill_day=bill_day,
        utility=utility,
        telecom=telecom,
        utility_usd=utility_usd,
        telecom_usd=telecom_usd,
        remit_to=remit_to,
        remit_share=remit_share,
        favourites=np.empty((accounts, 0), dtype=np.int64),
        circle=circle,
        circle_members=members,
        suppliers=suppliers,
        mcc_code=mccs.astype(np.int16),
        birth_day=birth_days(seed, kind, start_us),
    )
    # Favourites are drawn with the population's own popularity-weighted merchant sampler.
    shops = population.merchants(population.codes_of_group("shop", "online", "big"))
    favourites = np.full((accounts, pc.favourites), NONE, dtype=np.int64)
    favourites[persons] = shops.draw(rng, np.repeat(country[persons], pc.favourites)).reshape(
        n_persons, pc.favourites
    )
    population.favourites = favourites
    return population


def _lifetimes(
    rng: np.random.Generator,
    pc: PopulationConfig,
    kind: np.ndarray,
    start_us: int,
    window_us: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Opening dates, KYC levels, roles and first active moments.

    Persons are mostly years old, a few open during the window (honest new accounts) and some
    lie dormant, a third of whom come back during the window: the honest cases the new-account
    and dormant-account typologies have to be told apart from.
    """
    accounts = len(kind)
    persons = np.flatnonzero(kind == PERSON)
    n_persons = len(persons)
    created = np.empty(accounts, dtype=np.int64)
    kyc = np.empty(accounts, dtype=np.int64)
    role = np.full(accounts, NORMAL, dtype=np.int8)
    age_days = np.minimum(rng.exponential(4 * 365, n_persons), pc.max_age_years * 365) + 30
    created[persons] = start_us - (age_days * US_PER_DAY).astype(np.int64)
    kyc[persons] = rng.choice(4, n_persons, p=np.array(pc.kyc_weights) / sum(pc.kyc_weights))
    fresh = rng.random(n_persons) < pc.new_account_share
    created[persons[fresh]] = start_us + (rng.random(fresh.sum()) * window_us).astype(np.int64)
    kyc[persons[fresh]] = rng.choice(4, fresh.sum(), p=[0.1, 0.3, 0.5, 0.1])
    dormant = persons[~fresh & (rng.random(n_persons) < pc.dormant_share)]
    role[dormant] = DORMANT
    oldest = start_us - pc.dormant_min_age_days * US_PER_DAY
    created[dormant] = np.minimum(
        created[dormant], oldest - (rng.random(len(dormant)) * 3 * 365 * US_PER_DAY).astype(int)
    )
    firms = np.flatnonzero(kind != PERSON)
    firm_age = rng.uniform(365, 20 * 365, len(firms)) * US_PER_DAY
    created[firms] = start_us - firm_age.astype(np.int64)
    kyc[firms] = np.where(kind[firms] == MERCHANT, rng.integers(2, 4, len(firms)), 3)
    active_from = created.copy()
    wakes = rng.random(len(dormant)) < pc.dormant_wake_share
    active_from[dormant] = np.where(
        wakes, start_us + (rng.random(len(dormant)) * window_us).astype(np.int64), NEVER
    )
    return created, kyc, role, active_from


def _merchant_mccs(
    rng: np.random.Generator, cfg: WorldConfig, country: np.ndarray, merchants: np.ndarray
) -> np.ndarray:
    """Categories of merchants: each country first gets the essentials (an agent to deposit
    and withdraw cash at, a utility, a telecom), the rest follow spending shares."""
    codes = [m.code for m in cfg.mccs]
    essentials = [codes.index("6011"), codes.index("4900"), codes.index("4814")]
    weight = np.array(
        [np.sqrt(m.weight) if m.weight else {"cash": 0.15}.get(m.group, 0.05) for m in cfg.mccs]
    )
    out = rng.choice(len(cfg.mccs), len(merchants), p=weight / weight.sum())
    essential = np.zeros(len(merchants), dtype=bool)
    for code in range(len(COUNTRIES)):
        local = np.flatnonzero(country[merchants] == code)[: len(essentials)]
        out[local] = essentials
        essential[local] = True
    # Every category exists somewhere, so no generator ever draws from an empty market.
    rest = rng.permutation(np.flatnonzero(~essential))[: len(cfg.mccs)]
    out[rest] = np.arange(len(rest))
    return out


def _sampler_of(
    kind: np.ndarray,
    mcc: np.ndarray,
    codes: np.ndarray,
    country: np.ndarray,
    weight: np.ndarray,
    code: str,
) -> AccountSampler:
    members = np.flatnonzero((kind == MERCHANT) & (mcc == int(np.flatnonzero(codes == code)[0])))
    return AccountSampler(members, weight[members], country)


def _carrier_addresses(
    rng: np.random.Generator, ips: IpBlocks, country: np.ndarray, users_per_address: int
) -> np.ndarray:
    """Mobile carriers put many subscribers behind one address (CGNAT), so honest customers
    share IPs too and IP sharing alone cannot convict a mule ring."""
    out = np.empty(len(country), dtype=np.int64)
    for code in np.unique(country):
        mine = np.flatnonzero(country == code)
        pool = ips.draw(rng, np.full(max(1, len(mine) // users_per_address), code))
        out[mine] = pool[rng.integers(0, len(pool), len(mine))]
    return out


def _remittances(
    rng: np.random.Generator,
    cfg: WorldConfig,
    country: np.ndarray,
    persons: np.ndarray,
    employer: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Migrant workers in rich hubs sending part of their pay to family at home: legit,
    monthly, cross-border transfers, the honest twin of fan-out laundering."""
    pc = cfg.population
    n = len(country)
    remit_to = np.full(n, NONE, dtype=np.int64)
    share = np.zeros(n)
    hubs = np.isin(country[persons], [COUNTRIES.index(c) for c in pc.remit_from])
    migrants = persons[
        hubs & (employer[persons] >= 0) & (rng.random(len(persons)) < pc.migrant_share)
    ]
    homes = [COUNTRIES.index(c) for c, _ in pc.remit_to]
    weights = np.array([w for _, w in pc.remit_to])
    home = np.asarray(homes)[rng.choice(len(homes), len(migrants), p=weights / weights.sum())]
    everyone = AccountSampler(persons, np.ones(len(persons)), country)
    remit_to[migrants] = everyone.draw(rng, home)
    share[migrants] = rng.uniform(*pc.remit_share, len(migrants))
    return remit_to, share


def _circles(
    rng: np.random.Generator,
    size_range: tuple[int, int],
    country: np.ndarray,
    persons: np.ndarray,
    accounts: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Friends-and-family clusters: persons ordered by country, cut into small groups.

    Groups that straddle a country boundary become the cross-border families real payment
    graphs have.
    """
    members = persons[np.lexsort((rng.random(len(persons)), country[persons]))]
    sizes = counts(rng, size_range, len(members))
    ends = np.cumsum(sizes)
    ends = np.append(ends[ends < len(members)], len(members))
    starts = np.concatenate([[0], ends[:-1]])
    position = np.arange(len(members))
    which = np.searchsorted(ends, position, side="right")
    circle = np.full((accounts, 3), NONE, dtype=np.int64)
    circle[members, 0] = starts[which]
    circle[members, 1] = ends[which] - starts[which]
    circle[members, 2] = position
    return circle, members


def _share_family_tablets(
    rng: np.random.Generator,
    share: float,
    device2: np.ndarray,
    country: np.ndarray,
    circle: np.ndarray,
    members: np.ndarray,
) -> None:
    """Households share a tablet: honest device sharing, the twin of a mule ring's phones."""
    head = members[circle[members, 0]]
    family = (
        (device2[members] >= 0)
        & (device2[head] >= 0)
        & (country[head] == country[members])
        & (rng.random(len(members)) < share)
    )
    device2[members[family]] = device2[head[family]]


def _suppliers(
    rng: np.random.Generator,
    pc: PopulationConfig,
    businesses: AccountSampler,
    country: np.ndarray,
    firms: np.ndarray,
    accounts: int,
) -> np.ndarray:
    """Each firm's regular B2B counterparties, mostly domestic; never itself."""
    wanted = np.repeat(country[firms], pc.suppliers)
    abroad = rng.random(len(wanted)) < pc.cross_border_supplier_share
    wanted = np.where(abroad, -1, wanted)
    chosen = businesses.draw(rng, wanted).reshape(len(firms), pc.suppliers)
    chosen[chosen == firms[:, None]] = NONE
    out = np.full((accounts, pc.suppliers), NONE, dtype=np.int64)
    out[firms] = chosen
    return out
