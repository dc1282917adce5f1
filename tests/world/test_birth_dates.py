"""Dates of birth in the synthetic world: persons have one, lists give them as real lists do.

Accounts: every person has an adult's date of birth, firms none, drawn from a stream of its
own. Watchlist: a true hit lists its account holder's real date (in full, sometimes with a
second candidate, or only the year, or not at all); near misses and unrelated people are other
people with dates of their own; firms have none; and adding dates moved no other column.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import polars as pl
import pytest

from vigil.aml.screening.birth import CONFLICT, DATE, YEAR, evidence_of, parse_birth_dates
from vigil.world.config import WorldConfig
from vigil.world.population import PERSON, birth_days, build_population
from vigil.world.watchlist import WatchlistParams, build_watchlist

START = datetime(2026, 1, 1, tzinfo=UTC)
START_US = int(START.timestamp() * 1e6)


@pytest.fixture(scope="module")
def accounts() -> pl.DataFrame:
    pop = build_population(WorldConfig(), 3_000, START_US, 7, seed=11)
    rng = np.random.default_rng(0)
    names = [f"Person {i} {rng.integers(0, 400)}" for i in range(len(pop))]  # homonyms occur
    return pop.accounts_frame(names)


@pytest.fixture(scope="module")
def watchlist(accounts: pl.DataFrame) -> pl.DataFrame:
    params = WatchlistParams(hit_share=0.05, bait_share=0.05)
    return build_watchlist(np.random.default_rng(2), accounts, params=params)


def test_persons_have_an_adults_date_of_birth_and_firms_none(accounts: pl.DataFrame) -> None:
    persons = accounts.filter(pl.col("kind") == "person")
    firms = accounts.filter(pl.col("kind") != "person")
    assert persons["birth_date"].null_count() == 0
    assert firms["birth_date"].null_count() == firms.height > 0
    born = persons["birth_date"].str.to_date("%Y-%m-%d")
    age = (START.date() - born).dt.total_days() / 365.25
    assert age.min() >= 18 and age.max() <= 85
    assert 35 < age.mean() < 50
    assert born.n_unique() > 0.8 * persons.height  # dates spread over the days of the year


def test_dates_of_birth_are_deterministic_and_their_own_stream() -> None:
    kind = np.array([PERSON, 1, PERSON, 2, PERSON], dtype=np.int8)
    one, two = birth_days(5, kind, START_US), birth_days(5, kind, START_US)
    assert np.array_equal(one, two)
    assert not np.array_equal(one, birth_days(6, kind, START_US))
    # The stream does not depend on the population's: the same persons get the same dates
    # whatever else the population holds.
    assert np.array_equal(birth_days(5, kind[:3], START_US)[[0, 2]], one[[0, 2]])


def test_true_hits_list_their_holders_date_of_birth(
    accounts: pl.DataFrame, watchlist: pl.DataFrame
) -> None:
    dob = dict(zip(accounts["account_id"], accounts["birth_date"], strict=True))
    hits = watchlist.filter(
        pl.col("matched_account_id").is_not_null() & (pl.col("kind") == "person")
    )
    assert hits.height >= 100
    answers = []
    for dates, year, owner in hits.select("birth_date", "birth_year", "matched_account_id").rows():
        listed, _ = parse_birth_dates(dates)
        assert not (listed and year is not None)  # a full date or a year, never both
        answers.append(
            evidence_of(listed, (year,) if year is not None else (), date.fromisoformat(dob[owner]))
        )
    answers = np.array(answers)
    assert CONFLICT not in answers  # the holder's own date always agrees
    assert 0.45 < np.mean(answers == DATE) < 0.75
    assert 0.12 < np.mean(answers == YEAR) < 0.38
    assert 0.05 < np.mean((answers != DATE) & (answers != YEAR)) < 0.28  # none listed
    # some full dates come with a second candidate, as "DOB 1961; alt. DOB 1962"
    assert hits["birth_date"].str.contains(";").sum() >= 1


def test_other_people_have_their_own_dates_and_firms_none(
    accounts: pl.DataFrame, watchlist: pl.DataFrame
) -> None:
    entities = watchlist.filter(pl.col("kind") == "entity")
    assert entities["birth_date"].null_count() == entities["birth_year"].null_count()
    assert entities["birth_year"].null_count() == entities.height > 0
    # Exact homonyms of a customer on the list (near misses of another nationality) are other
    # people: their listed dates rarely agree with the customer's.
    others = watchlist.filter(pl.col("matched_account_id").is_null() & (pl.col("kind") == "person"))
    customers = accounts.filter(pl.col("kind") == "person").select("name", "birth_date")
    pairs = others.join(customers, on="name", suffix="_customer")
    assert pairs.height >= 20
    agree = [
        evidence_of(*parse_birth_dates(d), date.fromisoformat(c)) == DATE
        for d, c in pairs.filter(pl.col("birth_date").is_not_null())
        .select("birth_date", "birth_date_customer")
        .rows()
    ]
    assert np.mean(agree) < 0.05


def test_dates_of_birth_move_no_other_column(
    accounts: pl.DataFrame, watchlist: pl.DataFrame
) -> None:
    params = WatchlistParams(hit_share=0.05, bait_share=0.05)
    undated = build_watchlist(np.random.default_rng(2), accounts.drop("birth_date"), params=params)
    # without the holders' dates, true hits list none; other people keep their own
    true_hits = undated.filter(pl.col("matched_account_id").is_not_null())
    assert true_hits["birth_date"].null_count() == true_hits["birth_year"].null_count()
    assert true_hits["birth_year"].null_count() == true_hits.height
    assert (
        undated.filter(pl.col("matched_account_id").is_null())
        .select("birth_date", "birth_year")
        .equals(
            watchlist.filter(pl.col("matched_account_id").is_null()).select(
                "birth_date", "birth_year"
            )
        )
    )
    same = watchlist.drop("birth_date", "birth_year")
    assert same.equals(undated.drop("birth_date", "birth_year"))
    again = build_watchlist(np.random.default_rng(2), accounts, params=params)
    assert again.equals(watchlist)
