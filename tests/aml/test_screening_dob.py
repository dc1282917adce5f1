"""Date of birth as the secondary identifier: a conflict discounts a hit, agreement confirms it.

Hand-built cases: the same name and date of birth is a hit; the same name born on another day
or in another year is not; a missing date on either side leaves the name to decide; a list
entry that gives only a year agrees more weakly than a full date; candidates ("DOB 1961; alt.
DOB 1962") agree when any one does.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from vigil.aml.screening import (
    Entry,
    PaymentScreener,
    Screener,
    ScreeningPolicy,
    entries_from_frame,
    screen_accounts,
)
from vigil.aml.screening.birth import CONFLICT, DATE, YEAR, parse_birth_dates
from vigil.aml.screening.normalize import normalize
from vigil.schema.records import Transaction
from vigil.world.names import person_names
from vigil.world.watchlist import WatchlistParams, build_watchlist

POLICY = ScreeningPolicy()
DOB = date(1971, 4, 12)


def listed(
    name: str,
    dates: tuple[date, ...] = (),
    years: tuple[int, ...] = (),
    country: str | None = "SG",
) -> Entry:
    return Entry("WL-1", name, (), country, "person", "UN", dates, years)


@pytest.mark.parametrize(
    ("name", "customer"),
    [("Wang Wei", "Wang Wei"), ("Nguyễn Văn An", "Nguyen Van An"), ("Tan Wei Ming", "Tan Weiming")],
)
def test_same_name_and_same_date_of_birth_is_a_hit(name: str, customer: str) -> None:
    result = Screener([listed(name, (DOB,))]).screen(
        customer, country="SG", kind="person", birth_date=DOB
    )
    assert [(h.entry_id, h.dob) for h in result.hits] == [("WL-1", "date")]
    assert result.hits[0].score >= result.hits[0].similarity >= POLICY.threshold
    assert result.birth_date == DOB


@pytest.mark.parametrize(
    "other",
    [date(1971, 4, 13), date(1971, 12, 4), date(1985, 4, 12)],  # another day, month, year
)
def test_same_name_and_another_date_of_birth_is_not_a_hit(other: date) -> None:
    screener = Screener([listed("Wang Wei", (DOB,))])
    assert screener.screen("Wang Wei", country="SG", kind="person", birth_date=other).hits == ()
    # The names match exactly: the date of birth alone takes the score below the threshold.
    (found,) = screener.match("Wang Wei", country="SG", kind="person", floor=0.0, birth_date=other)
    _, _, similarity, score = found
    assert similarity == 1.0 > POLICY.threshold > score
    assert score == pytest.approx(1.0 - POLICY.dob_penalty)


def test_a_missing_date_of_birth_on_either_side_leaves_the_name_to_decide() -> None:
    undated = Screener([listed("Wang Wei")])
    hit = undated.screen("Wang Wei", country="SG", birth_date=DOB).hits[0]
    assert (hit.score, hit.dob) == (1.0, "unknown")
    dated = Screener([listed("Wang Wei", (DOB,))])
    hit = dated.screen("Wang Wei", country="SG", birth_date=None).hits[0]
    assert (hit.score, hit.dob) == (1.0, "unknown")
    # A name too far off stays no hit whatever the dates say.
    assert dated.screen("Wang Wen", country="SG", birth_date=DOB).hits == ()


def test_a_year_only_entry_agrees_more_weakly_than_a_full_date() -> None:
    # "Tan Wei" for a listed "Tan Wei Ming": the names alone are below the threshold.
    name_only = Screener([listed("Tan Wei Ming")]).match(
        "Tan Wei", country="SG", kind="person", floor=0.0
    )
    similarity = name_only[0][2]
    year = Screener([listed("Tan Wei Ming", years=(1971,))]).match(
        "Tan Wei", country="SG", kind="person", floor=0.0, birth_date=DOB
    )[0][3]
    full = Screener([listed("Tan Wei Ming", (DOB,))]).match(
        "Tan Wei", country="SG", kind="person", floor=0.0, birth_date=DOB
    )[0][3]
    assert similarity < year < full
    assert year == pytest.approx(similarity + POLICY.dob_year_boost * (1 - similarity))
    assert full == pytest.approx(similarity + POLICY.dob_date_boost * (1 - similarity))
    # ... and a year-only entry of another year is a conflict.
    other = Screener([listed("Wang Wei", years=(1972,))])
    assert other.screen("Wang Wei", country="SG", birth_date=DOB).hits == ()
    hit = Screener([listed("Wang Wei", years=(1971,))]).screen(
        "Wang Wei", country="SG", birth_date=DOB
    )
    assert [h.dob for h in hit.hits] == ["year"]


def test_a_full_date_agreement_lifts_a_near_name_over_the_threshold() -> None:
    """Blocking must keep the names a date can lift: "Tan Wei" for "Tan Wei Ming" (0.8) with
    the same full date is a hit at 0.83, with the same year only or no date it is not."""
    policy = ScreeningPolicy(threshold=0.83)
    full = Screener([listed("Tan Wei Ming", (DOB,))], policy)
    assert full.match("Tan Wei", country="SG", kind="person", floor=0.0)[0][2] == 0.8
    assert [h.dob for h in full.screen("Tan Wei", country="SG", birth_date=DOB).hits] == ["date"]
    assert not full.screen("Tan Wei", country="SG").matched
    year = Screener([listed("Tan Wei Ming", years=(1971,))], policy)
    assert not year.screen("Tan Wei", country="SG", birth_date=DOB).matched


def test_any_candidate_date_agrees() -> None:
    dates, years = parse_birth_dates("1961-02-03;1971-04-12;1962")
    screener = Screener([listed("Wang Wei", dates, years)])
    assert screener.screen("Wang Wei", birth_date="1971-04-12").hits[0].dob == "date"
    assert screener.screen("Wang Wei", birth_date="1962-08-30").hits[0].dob == "year"
    assert screener.screen("Wang Wei", birth_date="1961-02-04").hits == ()


def test_the_date_of_birth_picks_the_listed_person_among_homonyms() -> None:
    entries = [
        Entry("WL-A", "Li Na", (), "CN", "person", "UN", (date(1960, 1, 1),)),
        Entry("WL-B", "Li Na", (), "CN", "person", "OFAC", (), (1990,)),
    ]
    screener = Screener(entries)
    assert [h.entry_id for h in screener.screen("Li Na", birth_date="1960-01-01").hits] == ["WL-A"]
    assert [h.entry_id for h in screener.screen("Li Na", birth_date="1990-07-07").hits] == ["WL-B"]
    assert screener.screen("Li Na", birth_date="1975-05-05").hits == ()


def test_bad_dates_are_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="birth_date"):
        Screener([listed("Wang Wei")]).screen("Wang Wei", birth_date="12/04/1971")
    frame = pl.DataFrame(
        {
            "entry_id": ["WL-9"],
            "name": ["Wang Wei"],
            "aliases": [None],
            "country": ["CN"],
            "kind": ["person"],
            "list": ["UN"],
            "birth_date": ["1971-13-01"],
        }
    )
    with pytest.raises(ValueError, match="WL-9: birth_date"):
        entries_from_frame(frame)
    with pytest.raises(ValueError, match="WL-9: birth_year"):
        entries_from_frame(frame.with_columns(birth_date=None, birth_year=pl.lit(71)))


def test_watchlist_columns_are_read_and_optional() -> None:
    frame = pl.DataFrame(
        {
            "entry_id": ["WL-1", "WL-2"],
            "name": ["Wang Wei", "Li Na"],
            "aliases": [None, None],
            "country": ["CN", None],
            "kind": ["person", "person"],
            "list": ["UN", "EU"],
            "birth_date": ["1971-04-12;1972-01-01", None],
            "birth_year": [None, 1980],
        }
    )
    a, b = entries_from_frame(frame)
    assert a.birth_dates == (DOB, date(1972, 1, 1)) and a.birth_years == ()
    assert b.birth_dates == () and b.birth_years == (1980,)
    plain = entries_from_frame(frame.drop("birth_date", "birth_year"))
    assert [(e.birth_dates, e.birth_years) for e in plain] == [((), ()), ((), ())]


def test_onboarding_and_payments_screen_with_the_accounts_date_of_birth() -> None:
    entries = [listed("Wang Wei", (DOB,))]
    screener = Screener(entries)
    accounts = pl.DataFrame(
        {
            "account_id": ["P1", "P2", "P3"],
            "kind": ["person"] * 3,
            "name": ["Wang Wei"] * 3,
            "country": ["SG"] * 3,
            "birth_date": ["1971-04-12", "1990-01-01", None],
        }
    )
    hits = screen_accounts(screener, accounts)
    assert sorted(zip(hits["account_id"], hits["dob"], strict=True)) == [
        ("P1", "date"),
        ("P3", "unknown"),
    ]
    payments = PaymentScreener.from_accounts(screener, accounts)
    roles = {}
    for payer in ("P1", "P2", "P3"):
        txn = Transaction(
            "T1", datetime(2026, 1, 1, tzinfo=UTC), payer, "M1", 100, "SGD", "transfer", "SG"
        )
        roles[payer] = [(h.role, h.hit.dob) for h in payments.screen(txn)]
    assert roles == {"P1": [("payer", "date")], "P2": [], "P3": [("payer", "unknown")]}


def test_blocking_stays_lossless_with_a_date_of_birth() -> None:
    """Every entry an exhaustive scan scores at the threshold, date of birth included, is hit.

    An agreeing date lifts names below the threshold, so blocking must run lower; this scores
    every listed form of a world-built list and compares with what :meth:`Screener.screen`
    returns, for customers with their own dates and with the dates of listed people.
    """
    rng = np.random.default_rng(4)
    n = 1_500
    country = rng.choice(np.array(["CN", "HK", "SG", "MY", "ID", "PH", "TH", "VN"]), n)
    born = [date(1950, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 20_000, n)]
    accounts = pl.DataFrame(
        {
            "account_id": [f"A{i:05d}" for i in range(n)],
            "kind": ["person"] * n,
            "name": person_names(rng, country),
            "country": country,
            "created_at": [datetime(2025, 1, 1, tzinfo=UTC)] * n,
            "birth_date": [d.isoformat() for d in born],
        }
    )
    params = WatchlistParams(hit_share=0.05, bait_share=0.05, unrelated_share=0.1)
    entries = entries_from_frame(build_watchlist(np.random.default_rng(5), accounts, params=params))
    screener = Screener(entries, ScreeningPolicy(max_hits=10_000))
    index, scorer = screener.index, screener.scorer
    every = np.arange(index.forms, dtype=np.int32)
    listed_dates = [d for e in entries for d in e.birth_dates]
    queries = list(zip(accounts["name"], accounts["country"], born, strict=True))[:150]
    # Listed people under a shortened or lengthened name ("Tan Wei" for "Tan Wei Ming"), with
    # their own listed date or year, or another person's date: names near the threshold.
    for i, e in enumerate(e for e in entries if e.birth_dates or e.birth_years):
        tokens = e.name.split()
        near = " ".join(tokens[:-1]) if len(tokens) >= 3 else f"{e.name} Ah"
        own = e.birth_dates[0] if e.birth_dates else date(e.birth_years[0], 6, 1)
        queries.append((near, e.country, own if i % 4 else listed_dates[i % len(listed_dates)]))
    lifted = 0
    for name, nationality, dob in queries:
        query = normalize(name)
        weights = index.weights(query)
        sim = scorer.similarities(query, every)
        verdict = screener.births.evidence(index.form_entry, dob)
        wanted = set()
        for f in np.flatnonzero(scorer.bound(weights, every, sim) >= 0.5):
            s = scorer.exact(query, weights.tolist(), int(f), sim[:, f, :])
            boost = {DATE: POLICY.dob_date_boost, YEAR: POLICY.dob_year_boost}.get(
                int(verdict[f]), 0.0
            )
            listed = index.form_country[f]
            score = s + boost * (1 - s) - POLICY.dob_penalty * (verdict[f] == CONFLICT)
            score -= POLICY.country_penalty * (listed not in ("", nationality))
            if score >= POLICY.threshold + 1e-6:  # clear of float32 rounding at the threshold
                wanted.add(entries[int(index.form_entry[f])].entry_id)
                lifted += s < POLICY.threshold
        got = {h.entry_id for h in screener.screen(name, country=nationality, birth_date=dob).hits}
        assert wanted <= got, name
    assert lifted > 0  # the case blocking at the threshold alone would have missed occurs


def test_the_command_line_screens_with_a_date_of_birth(tmp_path) -> None:
    from typer.testing import CliRunner

    from vigil.cli import app

    pl.DataFrame(
        {
            "entry_id": ["WL-1"],
            "name": ["Wang Wei"],
            "aliases": [None],
            "country": ["SG"],
            "kind": ["person"],
            "list": ["UN"],
            "birth_date": ["1971-04-12"],
            "birth_year": [None],
        },
        schema_overrides={"aliases": pl.String, "birth_year": pl.Int64},
    ).write_parquet(tmp_path / "watchlist.parquet")
    runner = CliRunner()

    def screen(*extra: str):
        return runner.invoke(app, ["aml", "screen", "Wang Wei", "--data", str(tmp_path), *extra])

    same = screen("--dob", "1971-04-12")
    assert same.exit_code == 1 and "WL-1" in same.output and "date" in same.output
    assert screen("--dob", "1980-01-01").exit_code == 0  # another person
    assert screen().exit_code == 1  # no date: the name decides
    bad = screen("--dob", "12/04/1971")
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
