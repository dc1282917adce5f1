"""Insurance claims in which fraud rings hide among honest families and popular providers.

A ring is a handful of colluding claimants working with one corrupt garage or clinic; they
reuse a few burner phones, drop addresses and payout accounts, and file inflated claims over a
few weeks. None of those traits alone proves fraud, because honest claims have them too:
families share an address and often a phone or a bank account, and a popular garage serves
hundreds of honest drivers. Detection has to combine several shared attributes (the claims
graph of ``schema.md``), timing and amounts. A minority of fraud is lone exaggeration with no
shared attribute at all, which the graph cannot see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime

import numpy as np
import polars as pl

from vigil.money import MINOR_UNIT_EXPONENT, USD_PER_UNIT
from vigil.schema.tables import CURRENCY_OF, TABLES

#: Minor units of each local currency per US dollar, from Vigil's reference rates.
MINOR_PER_USD: dict[str, float] = {
    country: 10 ** MINOR_UNIT_EXPONENT[currency] / USD_PER_UNIT[currency]
    for country, currency in CURRENCY_OF.items()
}
DIAL_CODES = {"CN": 86, "HK": 852, "SG": 65, "MY": 60, "ID": 62, "PH": 63, "TH": 66, "VN": 84}
US_PER_DAY = 86_400_000_000
#: Evaluation-only column of :func:`build_claims`: which kind of fraud a claim is.
TYPOLOGY_COLUMN = "fraud_typology"


def epoch_us(moment: datetime) -> int:
    """Microseconds since the epoch; a naive datetime is taken as UTC, as everywhere in Vigil."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def minor_per_usd(countries: Sequence[str]) -> np.ndarray:
    """Minor units per US dollar for each country code; outside the region, US cents."""
    return np.array([MINOR_PER_USD.get(c, 100.0) for c in countries])


def usd_to_minor(usd: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """Dollar amounts at ``rate`` minor units per dollar, rounded, never below one unit."""
    return np.maximum(np.rint(np.asarray(usd) * rate), 1).astype(np.int64)


def round_step(countries: Sequence[str]) -> np.ndarray:
    """A "round" amount in minor units: the power of ten just under 100 dollars (SGD 100)."""
    return (10.0 ** np.floor(np.log10(100.0 * minor_per_usd(countries)))).astype(np.int64)


@dataclass(frozen=True, slots=True)
class ClaimType:
    """A line of business: who repairs or treats, and what a claim typically costs."""

    code: str  #: letter used in policy ids
    provider_prefix: str  #: GAR garage, CLN clinic, REP repairer
    share: float  #: of honest claims
    median_usd: float
    sigma: float  #: log-normal spread


CLAIM_TYPES = (
    ClaimType("M", "GAR", 0.45, 1_200.0, 0.8),  # motor
    ClaimType("H", "CLN", 0.40, 350.0, 0.9),  # health
    ClaimType("P", "REP", 0.15, 2_500.0, 1.0),  # property: policy held by the household
)
PROPERTY = 2


@dataclass(frozen=True, slots=True)
class ClaimsParams:
    """Every knob of the claims world; ``docs/world-side-tables.md`` argues the defaults."""

    claims_per_person_30d: float = 0.07
    fraud_share: float = 0.03  #: of all claims
    solo_share: float = 0.15  #: of fraud claims: lone exaggeration, nothing shared
    household_sizes: tuple[float, ...] = (0.32, 0.30, 0.20, 0.13, 0.05)  #: P(size 1..5)
    household_phone: float = 0.25  #: honest claim gives the family phone, not one's own
    household_bank: float = 0.15  #: honest payout to a family member's account
    family_incident: float = 0.08  #: honest claim joined by another household member's claim
    claims_per_provider: float = 30.0  #: sets how many providers each country has
    provider_skew: float = 1.1  #: Zipf exponent of provider popularity
    ring_members: tuple[int, int] = (3, 8)
    ring_claims_per_member: tuple[int, int] = (1, 4)
    ring_motor_share: float = 0.6  #: staged accidents; the rest are phantom treatments
    ring_span_days: float = 21.0  #: a ring works in a burst
    ring_phone: float = 0.6  #: P(a ring claim gives a ring burner phone)
    ring_address: float = 0.5  #: P(a ring drop address)
    ring_bank: float = 0.7  #: P(a ring mule payout account); forced when nothing else is shared
    ring_provider: float = 0.85  #: P(the ring's corrupt provider)
    fraud_uplift: float = 1.6  #: inflation of a ring claim's amount
    solo_uplift: float = 2.5  #: inflation of a lone exaggerated claim
    round_honest: float = 0.10  #: share of round amounts (estimates) among honest claims
    round_fraud: float = 0.40


@dataclass(slots=True)
class _Claims:
    """Claims as parallel integer arrays; strings are formatted once, at the end."""

    person: np.ndarray
    ts: np.ndarray
    kind: np.ndarray
    provider: np.ndarray
    phone: np.ndarray
    address: np.ndarray
    bank: np.ndarray
    usd: np.ndarray
    rounded: np.ndarray
    fraud: np.ndarray
    ring: np.ndarray  #: fraud by a ring (the rest of the fraud is lone exaggeration)

    @classmethod
    def concat(cls, parts: list[_Claims]) -> _Claims:
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))


@dataclass(slots=True)
class _People:
    """Persons with their household, own phone and own bank account (integer codes)."""

    country: np.ndarray  #: index into ``codes``
    household: np.ndarray
    phone: np.ndarray
    bank: np.ndarray
    family_phone: np.ndarray  #: per household
    family_bank: np.ndarray  #: per household
    members: np.ndarray  #: persons ordered by household
    first_member: np.ndarray  #: per household, its first position in ``members``
    size: np.ndarray  #: per household
    rank: np.ndarray  #: per person, its position within its household

    def housemate(self, rng: np.random.Generator, person: np.ndarray) -> np.ndarray:
        """Another member of each person's household (callers pass multi-person households)."""
        hh = self.household[person]
        step = rng.integers(1, np.maximum(self.size[hh], 2))
        return self.members[self.first_member[hh] + (self.rank[person] + step) % self.size[hh]]


class _Providers:
    """Garages, clinics and repairers per (country, claim type), with Zipf popularity."""

    def __init__(self, rng: np.random.Generator, expected: np.ndarray, params: ClaimsParams):
        self.count = np.maximum(3, np.ceil(expected / params.claims_per_provider)).astype(int)
        self.offset = np.concatenate([[0], np.cumsum(self.count.ravel())])
        self.skew = params.provider_skew
        self.rng = rng

    def first(self, country: int, kind: int) -> int:
        return int(self.offset[country * len(CLAIM_TYPES) + kind])

    def size(self, country: int, kind: int) -> int:
        return int(self.count[country, kind])

    def popular(self, country: np.ndarray, kind: np.ndarray) -> np.ndarray:
        """Providers chosen by popularity: a few serve most honest claimants."""
        out = np.empty(len(country), dtype=np.int64)
        for c, k in sorted(set(zip(country.tolist(), kind.tolist(), strict=True))):
            sel = np.flatnonzero((country == c) & (kind == k))
            n = self.size(c, k)
            p = 1.0 / np.arange(1, n + 1) ** self.skew
            out[sel] = self.first(c, k) + self.rng.choice(n, size=len(sel), p=p / p.sum())
        return out


def _unique_numbers(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    """``n`` distinct random-looking integers in [low, high): one per shuffled stride.

    Phones and accounts must never collide by chance, or honest strangers would look linked.
    """
    stride = (high - low) // max(n, 1)
    if stride < 1:
        raise ValueError(f"cannot draw {n} distinct numbers from [{low}, {high})")
    return low + rng.permutation(n).astype(np.int64) * stride + rng.integers(0, stride, n)


def _people(
    rng: np.random.Generator,
    country: np.ndarray,
    phone: np.ndarray,
    bank: np.ndarray,
    params: ClaimsParams,
) -> _People:
    """Group persons into same-country households; the first member's phone and account are
    the ones the family shares."""
    n = len(country)
    order = rng.permutation(n)
    order = order[np.argsort(country[order], kind="stable")]
    sizes = rng.choice(
        np.arange(1, len(params.household_sizes) + 1), size=n, p=params.household_sizes
    )
    chunk = np.searchsorted(np.cumsum(sizes), np.arange(n), side="right")
    # Walking ``order``, a new household starts where the chunk or the country changes.
    starts = np.ones(n, dtype=bool)
    starts[1:] = (np.diff(chunk) != 0) | (np.diff(country[order]) != 0)
    household = np.empty(n, dtype=np.int64)
    household[order] = np.cumsum(starts) - 1
    first = order[starts]
    members = np.argsort(household, kind="stable")
    size = np.bincount(household)
    first_member = np.cumsum(size) - size
    rank = np.empty(n, dtype=np.int64)
    rank[members] = np.arange(n) - first_member[household[members]]
    return _People(
        country,
        household,
        phone,
        bank,
        phone[first],
        bank[first],
        members,
        first_member,
        size,
        rank,
    )


def _honest(
    rng: np.random.Generator,
    people: _People,
    providers: _Providers,
    per_person: np.ndarray,
    days: int,
    params: ClaimsParams,
) -> _Claims:
    person = np.repeat(np.arange(len(per_person)), per_person)
    n = len(person)
    kind = rng.choice(len(CLAIM_TYPES), size=n, p=[t.share for t in CLAIM_TYPES])
    hh = people.household[person]
    phone = np.where(
        rng.random(n) < params.household_phone, people.family_phone[hh], people.phone[person]
    )
    bank = np.where(
        rng.random(n) < params.household_bank, people.family_bank[hh], people.bank[person]
    )
    return _Claims(
        person=person,
        ts=(rng.random(n) * days * US_PER_DAY).astype(np.int64),
        kind=kind,
        provider=providers.popular(people.country[person], kind),
        phone=phone,
        address=hh,
        bank=bank,
        usd=_amounts(rng, kind, 1.0),
        rounded=rng.random(n) < params.round_honest,
        fraud=np.zeros(n, dtype=bool),
        ring=np.zeros(n, dtype=bool),
    )


def _family_incidents(
    rng: np.random.Generator, people: _People, seed: _Claims, days: int, params: ClaimsParams
) -> _Claims:
    """A housemate claims for the same accident at the same provider within two days.

    These honest clusters share address, provider, time and often phone and payout account:
    the look-alike that keeps "several claimants sharing attributes" from proving a ring.
    """
    multi = people.size[people.household[seed.person]] > 1
    pick = np.flatnonzero(multi & (rng.random(len(seed.person)) < params.family_incident))
    person = people.housemate(rng, seed.person[pick])
    n = len(person)
    hh = people.household[person]
    lag = (rng.random(n) * 2 * US_PER_DAY).astype(np.int64)
    return _Claims(
        person=person,
        ts=np.minimum(seed.ts[pick] + lag, days * US_PER_DAY - 1),
        kind=seed.kind[pick],
        provider=seed.provider[pick],
        phone=np.where(rng.random(n) < 0.6, seed.phone[pick], people.phone[person]),
        address=hh,
        bank=np.where(rng.random(n) < 0.5, seed.bank[pick], people.bank[person]),
        usd=_amounts(rng, seed.kind[pick], 1.0),
        rounded=rng.random(n) < params.round_honest,
        fraud=np.zeros(n, dtype=bool),
        ring=np.zeros(n, dtype=bool),
    )


def _amounts(rng: np.random.Generator, kind: np.ndarray, uplift: float) -> np.ndarray:
    median = np.array([t.median_usd for t in CLAIM_TYPES])[kind]
    sigma = np.array([t.sigma for t in CLAIM_TYPES])[kind]
    return uplift * median * np.exp(sigma * rng.standard_normal(len(kind)))


class _Fresh:
    """Hands out new phones, payout accounts and addresses for burners and drops."""

    def __init__(self, phones: np.ndarray, banks: np.ndarray, next_address: int):
        self.phones, self.banks = phones, banks
        self.next_address = next_address
        self.used = 0

    def take(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        phones = self.phones[self.used : self.used + k]
        banks = self.banks[self.used : self.used + k]
        self.used += k
        return phones, banks

    def addresses(self, k: int) -> np.ndarray:
        out = np.arange(self.next_address, self.next_address + k)
        self.next_address += k
        return out


def _ring(
    rng: np.random.Generator,
    people: _People,
    providers: _Providers,
    fresh: _Fresh,
    days: int,
    params: ClaimsParams,
) -> _Claims:
    """One ring: colluding claimants, a corrupt provider, a few shared burners and drops."""
    c = int(people.country[rng.integers(0, len(people.country))])
    pool = np.flatnonzero(people.country == c)
    lo, hi = params.ring_members
    members = rng.choice(pool, size=min(len(pool), int(rng.integers(lo, hi + 1))), replace=False)
    lo, hi = params.ring_claims_per_member
    person = np.repeat(members, rng.integers(lo, hi + 1, size=len(members)))
    n = len(person)
    kind_k = 0 if rng.random() < params.ring_motor_share else 1
    kind = np.full(n, kind_k)
    size = providers.size(c, kind_k)
    # Not one of the three most popular: a corrupt provider is a small one with honest clients.
    corrupt = providers.first(c, kind_k) + int(rng.integers(min(3, size - 1), size))
    provider = np.where(
        rng.random(n) < params.ring_provider, corrupt, providers.popular(np.full(n, c), kind)
    )
    n_shared = int(rng.integers(1, 3))
    burner_phones, mule_banks = fresh.take(n_shared)
    drops = np.where(
        rng.random(n_shared) < 0.5,
        people.household[rng.choice(members, size=n_shared)],
        fresh.addresses(n_shared),
    )
    use_phone = rng.random(n) < params.ring_phone
    use_address = rng.random(n) < params.ring_address
    use_bank = (rng.random(n) < params.ring_bank) | ~(use_phone | use_address)
    span = min(params.ring_span_days, days) * US_PER_DAY
    begin = rng.random() * (days * US_PER_DAY - span)
    return _Claims(
        person=person,
        ts=(begin + rng.random(n) * span).astype(np.int64),
        kind=kind,
        provider=provider,
        phone=np.where(use_phone, rng.choice(burner_phones, n), people.phone[person]),
        address=np.where(use_address, rng.choice(drops, n), people.household[person]),
        bank=np.where(use_bank, rng.choice(mule_banks, n), people.bank[person]),
        usd=_amounts(rng, kind, params.fraud_uplift),
        rounded=rng.random(n) < params.round_fraud,
        fraud=np.ones(n, dtype=bool),
        ring=np.ones(n, dtype=bool),
    )


def _solo(
    rng: np.random.Generator,
    people: _People,
    providers: _Providers,
    n: int,
    days: int,
    params: ClaimsParams,
) -> _Claims:
    """Lone exaggeration: an ordinary claimant's own details, only the amount is wrong."""
    per_person = np.bincount(rng.integers(0, len(people.country), n), minlength=len(people.phone))
    claims = _honest(rng, people, providers, per_person, days, params)
    claims.usd = claims.usd * params.solo_uplift
    claims.rounded = rng.random(n) < params.round_fraud
    claims.fraud[:] = True
    return claims


def build_claims(
    rng: np.random.Generator,
    accounts: pl.DataFrame,
    start: datetime,
    days: int,
    *,
    params: ClaimsParams | None = None,
    typology: bool = False,
) -> pl.DataFrame:
    """Claims filed by person accounts over ``days`` from ``start``, labelled ``is_fraud``.

    With ``typology``, one more column, :data:`TYPOLOGY_COLUMN` (``ring``, ``lone`` or null for
    honest claims), for evaluation only: it is not part of the contract's table, and asking for
    it draws no random number, so the claims are the same either way.
    """
    params = params or ClaimsParams()
    persons = accounts.filter(pl.col("kind") == "person")
    schema = TABLES["claims"].polars_schema()
    if persons.height == 0 or days <= 0:
        return pl.DataFrame(schema=schema)
    ids = persons["account_id"]
    codes = sorted(set(persons["country"].to_list()))
    country = np.searchsorted(np.array(codes), persons["country"].to_numpy())
    n = persons.height
    per_person = rng.poisson(params.claims_per_person_30d * days / 30, size=n)
    # Family incidents at most double the honest claims; each ring takes at most two burners.
    odds = params.fraud_share / (1 - params.fraud_share)
    reserve = 2 * int(np.ceil(2 * per_person.sum() * odds)) + 8
    phones = _unique_numbers(rng, n + reserve, 60_000_000, 100_000_000)
    banks = _unique_numbers(rng, n + reserve, 10**9, 10**10)
    people = _people(rng, country, phones[:n], banks[:n], params)

    shares = np.array([t.share for t in CLAIM_TYPES])
    expected = np.bincount(country, weights=per_person, minlength=len(codes))[:, None] * shares
    providers = _Providers(rng, expected, params)
    honest = _honest(rng, people, providers, per_person, days, params)
    honest = _Claims.concat([honest, _family_incidents(rng, people, honest, days, params)])

    n_fraud = round(len(honest.person) * odds)
    n_solo = round(n_fraud * params.solo_share)
    fresh = _Fresh(phones[n:], banks[n:], next_address=len(people.size))
    parts, ring_claims = [honest], 0
    while ring_claims < n_fraud - n_solo:
        ring = _ring(rng, people, providers, fresh, days, params)
        parts.append(ring)
        ring_claims += len(ring.person)
    parts.append(_solo(rng, people, providers, n_solo, days, params))
    claims = _Claims.concat(parts)
    frame = _frame(claims, ids, np.array(codes), people, start, schema)
    if typology:
        order = np.argsort(claims.ts, kind="stable")
        kind = np.where(claims.ring, "ring", np.where(claims.fraud, "lone", ""))[order]
        frame = frame.with_columns(
            pl.Series(TYPOLOGY_COLUMN, kind, dtype=pl.String).replace("", None)
        )
    return frame


def _frame(
    claims: _Claims,
    ids: pl.Series,
    codes: np.ndarray,
    people: _People,
    start: datetime,
    schema: dict[str, pl.DataType],
) -> pl.DataFrame:
    """Format the integer codes as the contract's strings, in filing order."""
    order = np.argsort(claims.ts, kind="stable")
    person = claims.person[order]
    code = people.country[person]
    country = codes[code]
    amount = usd_to_minor(claims.usd[order], minor_per_usd(codes.tolist())[code])
    step = round_step(codes.tolist())[code]
    rounded = claims.rounded[order]
    amount = np.where(
        rounded, np.maximum(np.rint(amount / step), 1).astype(np.int64) * step, amount
    )
    kind = claims.kind[order]
    # Property policies belong to the household, motor and health ones to the person.
    holder = np.where(kind == PROPERTY, people.household[person], person)
    type_code = np.array([t.code for t in CLAIM_TYPES])[kind]
    prefix = np.array([t.provider_prefix for t in CLAIM_TYPES])[kind]
    start_us = epoch_us(start)
    frame = pl.DataFrame(
        {
            "n": np.arange(len(order)),
            "ts": claims.ts[order] + start_us,
            "holder": holder,
            "type": type_code,
            "claimant_id": ids.gather(person),
            "amount": amount,
            "country": country,
            "prefix": prefix,
            "provider": claims.provider[order],
            "phone": claims.phone[order],
            "address": claims.address[order],
            "bank": claims.bank[order],
            "is_fraud": claims.fraud[order],
        }
    )
    dial = {c: str(DIAL_CODES.get(c, 0)) for c in codes.tolist()}
    currency = {c: CURRENCY_OF.get(c, "USD") for c in codes.tolist()}
    return frame.select(
        claim_id=pl.format("CL{}", pl.col("n").cast(pl.String).str.zfill(9)),
        ts=pl.col("ts").cast(pl.Datetime("us", "UTC")),
        policy_id=pl.format("POL-{}-{}", "type", pl.col("holder").cast(pl.String).str.zfill(9)),
        claimant_id="claimant_id",
        amount="amount",
        currency=pl.col("country").replace_strict(currency),
        provider_id=pl.format(
            "{}-{}-{}", "prefix", "country", pl.col("provider").cast(pl.String).str.zfill(5)
        ),
        phone=pl.format("+{}{}", pl.col("country").replace_strict(dial), "phone"),
        address_id=pl.format("ADR-{}", pl.col("address").cast(pl.String).str.zfill(9)),
        bank_account=pl.format("{}{}", "country", pl.col("bank").cast(pl.String).str.zfill(10)),
        is_fraud="is_fraud",
    ).cast(schema)
