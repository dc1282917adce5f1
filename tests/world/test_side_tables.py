"""The side tables of the synthetic world: names, watchlist, claims and the SME credit world."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from vigil.schema.tables import CURRENCY_OF, TABLES
from vigil.world.claims import build_claims
from vigil.world.names import CHINESE_SURNAMES, business_names, person_names
from vigil.world.sme import build_sme
from vigil.world.watchlist import WatchlistParams, build_watchlist

START = datetime(2024, 3, 1, tzinfo=UTC)
COUNTRIES = np.array(list(CURRENCY_OF))
SECTORS = np.array(["manufacturing", "wholesale", "logistics", "construction", "agriculture"])


def make_accounts(n: int, seed: int = 7) -> pl.DataFrame:
    """A small accounts table in the contract's shape, independent of the payments world."""
    rng = np.random.default_rng(seed)
    country = rng.choice(COUNTRIES, n)
    kind = rng.choice(np.array(["person", "business", "merchant"]), n, p=[0.82, 0.1, 0.08])
    sector = rng.choice(SECTORS, n)
    named = np.where(
        kind == "person", person_names(rng, country), business_names(rng, country, sector)
    )
    opened = int(START.timestamp() * 1e6) - (rng.random(n) * 5 * 365 * 86_400e6).astype(np.int64)
    return pl.DataFrame(
        {
            "account_id": [f"A{i:06d}" for i in range(n)],
            "kind": kind,
            "name": named,
            "country": country,
            "created_at": pl.Series(opened).cast(pl.Datetime("us", "UTC")),
            "kyc_level": rng.integers(0, 4, n),
            "sector": [None if k == "person" else s for k, s in zip(kind, sector, strict=True)],
        }
    )


@pytest.fixture(scope="module")
def accounts() -> pl.DataFrame:
    return make_accounts(4_000)


@pytest.fixture(scope="module")
def claims(accounts: pl.DataFrame) -> pl.DataFrame:
    return build_claims(np.random.default_rng(1), accounts, START, 120)


@pytest.fixture(scope="module")
def watchlist(accounts: pl.DataFrame) -> pl.DataFrame:
    params = WatchlistParams(hit_share=0.04, bait_share=0.04)
    return build_watchlist(np.random.default_rng(2), accounts, params=params)


@pytest.fixture(scope="module")
def sme(accounts: pl.DataFrame) -> dict[str, pl.DataFrame]:
    return build_sme(np.random.default_rng(3), accounts, START, 30, n_businesses=20_000)


# --- names ------------------------------------------------------------------------------------


def test_person_names_follow_each_country_convention() -> None:
    rng = np.random.default_rng(0)
    countries = np.repeat(COUNTRIES, 400)
    names = np.array(person_names(rng, countries))
    by = {c: names[countries == c] for c in COUNTRIES}
    cantonese = {row[2] for row in CHINESE_SURNAMES}
    assert np.mean([n.split()[-3] in cantonese for n in by["HK"]]) > 0.95
    assert np.mean([n.split()[0] in {r[0] for r in CHINESE_SURNAMES} for n in by["CN"]]) == 1.0
    assert np.mean([" bin " in n or " binti " in n for n in by["MY"]]) > 0.5
    assert np.mean([len(n.split()) == 1 for n in by["ID"]]) > 0.15  # single names
    plain = [unicodedata.normalize("NFKD", n).encode("ascii", "ignore").decode() for n in by["VN"]]
    assert np.mean([p.startswith(("Nguyen", "Tran", "Le ")) for p in plain]) > 0.45
    assert any(n != p for n, p in zip(by["VN"], plain, strict=True))  # some keep diacritics


def test_business_names_carry_the_local_legal_form() -> None:
    rng = np.random.default_rng(0)
    countries = np.repeat(COUNTRIES, 50)
    names = business_names(rng, countries, np.full(len(countries), "textiles"))
    forms = {
        "SG": ("Pte Ltd",),
        "MY": ("Sdn Bhd", "Enterprise"),
        "VN": ("JSC", "Co., Ltd"),
        "PH": ("Inc.", "Corp.", "Corporation"),
        "TH": ("Co., Ltd", "Public Company Limited"),
        "CN": ("Co., Ltd",),
        "HK": ("Limited",),
    }
    for name, country in zip(names, countries, strict=True):
        if country == "ID":
            assert name.startswith(("PT ", "CV "))
        else:
            assert name.endswith(forms[country]), name


def test_names_are_deterministic() -> None:
    countries = np.repeat(COUNTRIES, 20)
    first = person_names(np.random.default_rng(5), countries)
    assert first == person_names(np.random.default_rng(5), countries)


# --- contract ---------------------------------------------------------------------------------


def test_tables_have_exactly_the_contract_dtypes(
    claims: pl.DataFrame, watchlist: pl.DataFrame, sme: dict[str, pl.DataFrame]
) -> None:
    assert claims.schema == TABLES["claims"].polars_schema()
    expected = TABLES["watchlist"].polars_schema() | {"matched_account_id": pl.String()}
    assert watchlist.schema == expected
    for name in ("businesses", "trade", "loans"):
        assert sme[name].schema == TABLES[name].polars_schema()


def test_same_seed_same_tables(accounts: pl.DataFrame) -> None:
    small = accounts.head(1_500)
    for build in (
        lambda rng: build_claims(rng, small, START, 60),
        lambda rng: build_watchlist(rng, small),
        lambda rng: build_sme(rng, small, START, 30, n_businesses=600),
    ):
        one, two = build(np.random.default_rng(9)), build(np.random.default_rng(9))
        frames = one.values() if isinstance(one, dict) else [one]
        others = two.values() if isinstance(two, dict) else [two]
        assert all(a.equals(b) for a, b in zip(frames, others, strict=True))


# --- watchlist --------------------------------------------------------------------------------


def test_watchlist_has_true_hits_among_customers(
    accounts: pl.DataFrame, watchlist: pl.DataFrame
) -> None:
    hits = watchlist.filter(pl.col("matched_account_id").is_not_null()).join(
        accounts.select("account_id", pl.col("name").alias("account_name"), "kind"),
        left_on="matched_account_id",
        right_on="account_id",
        how="left",
    )
    assert hits.height > 50
    assert hits["account_name"].null_count() == 0  # every match is a real account
    exact = (hits["name"] == hits["account_name"]).mean()
    assert 0.3 < exact < 0.9  # many hits need fuzzy matching to be found
    assert set(hits["kind"]) == {"person", "entity"}
    assert set(hits.filter(pl.col("kind") == "entity")["kind_right"]) <= {"business", "merchant"}
    assert watchlist["entry_id"].n_unique() == watchlist.height


def test_watchlist_aliases_are_transliteration_variants(watchlist: pl.DataFrame) -> None:
    aliases = [a for text in watchlist["aliases"].drop_nulls() for a in text.split(";")]
    assert any(unicodedata.normalize("NFKD", a) != a for a in aliases)  # Vietnamese marks
    tokens = {t for a in aliases for t in a.split()}
    assert tokens & {"Chang", "Hsu", "Chou", "Hsieh", "Kuo"}  # Wade-Giles surnames
    assert any(re.fullmatch(r"[A-Z][a-z]+-[a-z]+", t) for t in tokens)  # given: "Hsiao-ming"
    assert tokens & {"Cheung", "Chan", "Teo", "Tan"}  # Cantonese and Hokkien spellings
    malay = watchlist.filter(pl.col("name").str.contains(" bin | binti "))
    dropped = [a for t in malay["aliases"].drop_nulls() for a in t.split(";")]
    assert any(" bin " not in a and " binti " not in a for a in dropped)
    assert any(a.endswith(("Pte. Ltd.", "Sendirian Berhad", "Company Limited")) for a in aliases)


def test_watchlist_baits_customers_with_near_misses(
    accounts: pl.DataFrame, watchlist: pl.DataFrame
) -> None:
    unmatched = watchlist.filter(pl.col("matched_account_id").is_null())
    homonyms = unmatched.join(accounts, on="name", suffix="_acct")
    # Same name, another nationality: a screening hit that is not the customer.
    assert (homonyms["country"] != homonyms["country_acct"]).sum() > 10
    assert unmatched.height > watchlist.height / 2


# --- claims -----------------------------------------------------------------------------------


def _shared(claims: pl.DataFrame, column: str) -> pl.DataFrame:
    """Per claim: its label, and whether another claimant gives the same value."""
    return claims.select("is_fraud", shared=pl.col("claimant_id").n_unique().over(column) > 1)


def test_claims_reference_person_accounts(accounts: pl.DataFrame, claims: pl.DataFrame) -> None:
    persons = accounts.filter(pl.col("kind") == "person")
    assert claims["claimant_id"].is_in(persons["account_id"].implode()).all()
    assert (claims["amount"] > 0).all()
    joined = claims.join(persons, left_on="claimant_id", right_on="account_id")
    assert (joined["country"].replace_strict(CURRENCY_OF) == joined["currency"]).all()
    assert claims["claim_id"].n_unique() == claims.height
    assert claims["ts"].min() >= START
    assert 0.01 < claims["is_fraud"].mean() < 0.08


def test_rings_share_attributes_and_honest_claims_share_some_too(claims: pl.DataFrame) -> None:
    for column, ring_min, honest_range in (
        ("phone", 0.3, (0.02, 0.3)),
        ("address_id", 0.3, (0.05, 0.7)),
        ("bank_account", 0.4, (0.01, 0.25)),
    ):
        rates = dict(
            _shared(claims, column).group_by("is_fraud").agg(pl.col("shared").mean()).rows()
        )
        assert rates[True] > ring_min, column
        assert honest_range[0] < rates[False] < honest_range[1], column
    # A corrupt provider also serves honest claimants, so a provider alone proves nothing.
    providers = claims.group_by("provider_id").agg(
        pl.col("is_fraud").any().alias("any_fraud"), (~pl.col("is_fraud")).sum().alias("honest")
    )
    assert (providers.filter("any_fraud")["honest"] > 0).mean() > 0.8


# --- SME credit world -------------------------------------------------------------------------


def test_sme_ids_link_up(accounts: pl.DataFrame, sme: dict[str, pl.DataFrame]) -> None:
    firms, trade, loans = sme["businesses"], sme["trade"], sme["loans"]
    assert firms.height == 20_000
    assert firms["business_id"].n_unique() == firms.height
    own = accounts.filter(pl.col("kind") == "business")["account_id"]
    assert own.is_in(firms["business_id"].implode()).all()
    ids = firms["business_id"].implode()
    for column in (trade["supplier_id"], trade["buyer_id"], loans["business_id"]):
        assert column.is_in(ids).all()
    assert (trade["supplier_id"] != trade["buyer_id"]).all()
    assert (trade["amount"] > 0).all() and (loans["amount"] > 0).all()
    joined = trade.join(firms, left_on="supplier_id", right_on="business_id")
    assert (joined["currency_right"] == joined["currency"]).all()


def test_account_firms_were_founded_before_opening(
    accounts: pl.DataFrame, sme: dict[str, pl.DataFrame]
) -> None:
    joined = sme["businesses"].join(accounts, left_on="business_id", right_on="account_id")
    assert joined.height == accounts.filter(pl.col("kind") == "business").height
    assert (joined["founded_at"] < joined["created_at"]).all()
    assert (joined["name"] == joined["name_right"]).all()


def test_defaults_fall_inside_the_loan_term(sme: dict[str, pl.DataFrame]) -> None:
    loans = sme["loans"]
    assert 0.02 < loans["defaulted"].mean() < 0.09
    assert (loans["defaulted"] == loans["defaulted_at"].is_not_null()).all()
    due = pl.col("issued_at") + pl.duration(days=pl.col("term_days"))
    inside = loans.filter("defaulted").select(
        ((pl.col("defaulted_at") > pl.col("issued_at")) & (pl.col("defaulted_at") <= due)).all()
    )
    assert inside.item()
    # History is longer than the payments window, for out-of-time evaluation.
    assert (loans["issued_at"].max() - loans["issued_at"].min()).days > 300


def test_failed_firms_stop_paying(sme: dict[str, pl.DataFrame]) -> None:
    failed = (
        sme["loans"]
        .filter("defaulted")
        .group_by("business_id")
        .agg(pl.col("defaulted_at").min().alias("failed_at"))
    )
    paid = sme["trade"].join(failed, left_on="buyer_id", right_on="business_id")
    assert paid.height > 0
    assert (paid["ts"] < paid["failed_at"]).all()


def test_a_buyer_default_raises_its_suppliers_default_rate(sme: dict[str, pl.DataFrame]) -> None:
    loans, trade = sme["loans"], sme["trade"]
    failed = (
        loans.filter("defaulted")
        .group_by("business_id")
        .agg(pl.col("defaulted_at").min().alias("buyer_failed_at"))
    )
    first_buyer_failure = (
        trade.select("supplier_id", "buyer_id")
        .unique()
        .join(failed, left_on="buyer_id", right_on="business_id")
        .group_by("supplier_id")
        .agg(pl.col("buyer_failed_at").min())
    )
    scored = loans.join(
        first_buyer_failure, left_on="business_id", right_on="supplier_id", how="left"
    ).with_columns(exposed=(pl.col("buyer_failed_at") < pl.col("issued_at")).fill_null(False))
    rates = dict(scored.group_by("exposed").agg(pl.col("defaulted").mean()).iter_rows())
    assert scored["exposed"].sum() > 100
    assert rates[True] > 1.5 * rates[False]


def test_n_businesses_grows_the_world_with_fresh_ids(accounts: pl.DataFrame) -> None:
    own = accounts.filter(pl.col("kind") == "business").height
    world = build_sme(np.random.default_rng(4), accounts, START, 30, n_businesses=own + 500)
    extra = world["businesses"].filter(pl.col("business_id").str.starts_with("B"))
    assert extra.height == 500
    assert extra["business_id"].str.contains(r"^B\d{7}$").all()
    assert extra["name"].null_count() == 0 and extra["sector"].null_count() == 0
    with pytest.raises(ValueError, match="below"):
        build_sme(np.random.default_rng(4), accounts, START, 30, n_businesses=own - 1)


def test_a_world_without_businesses_or_persons_is_empty(accounts: pl.DataFrame) -> None:
    merchants = accounts.filter(pl.col("kind") == "merchant")
    world = build_sme(np.random.default_rng(0), merchants, START, 30)
    assert all(frame.height == 0 for frame in world.values())
    assert world["loans"].schema == TABLES["loans"].polars_schema()
    assert build_claims(np.random.default_rng(0), merchants, START, 30).height == 0
