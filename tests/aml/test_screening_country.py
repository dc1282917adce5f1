"""Nationality as a secondary identifier: it separates homonyms, and its absence is neutral.

A compliance screener does not alert on a customer merely because a listed person shares the
name: where both sides give a nationality and they differ, the match loses
``ScreeningPolicy.country_penalty`` and falls below the threshold; where either side gives
none, the name decides alone.
"""

from __future__ import annotations

import pytest

from vigil.aml.screening import Entry, Screener, ScreeningPolicy

POLICY = ScreeningPolicy()


def listed(name: str, country: str | None, kind: str = "person") -> Entry:
    return Entry("WL-1", name, (), country, kind, "UN")


@pytest.mark.parametrize(
    ("name", "customer"),
    [
        ("Wang Wei", "Wang Wei"),  # exact homonym
        ("Nguyễn Văn An", "Nguyen Van An"),  # the same name without tone marks
        ("Tan Wei Ming", "Tan Weiming"),  # run together
        ("Ismail bin Othman", "Ismail Othman"),  # connector dropped
    ],
)
def test_same_name_and_same_country_is_a_hit(name: str, customer: str) -> None:
    result = Screener([listed(name, "SG")]).screen(customer, country="SG", kind="person")
    assert [h.entry_id for h in result.hits] == ["WL-1"]
    hit = result.hits[0]
    assert hit.score == hit.similarity >= POLICY.threshold  # no penalty when they agree


@pytest.mark.parametrize(
    ("name", "customer"),
    [
        ("Wang Wei", "Wang Wei"),
        ("Nguyễn Văn An", "Nguyen Van An"),
        ("Tan Wei Ming", "Tan Weiming"),
        ("Ismail bin Othman", "Ismail Othman"),
    ],
)
def test_same_name_and_another_country_is_not_a_hit(name: str, customer: str) -> None:
    screener = Screener([listed(name, "MY")])
    assert screener.screen(customer, country="SG", kind="person").hits == ()
    # The name still matches: the country alone takes the score below the threshold.
    (found,) = screener.match(customer, country="SG", kind="person", floor=0.0)
    _, _, similarity, score = found
    assert similarity >= POLICY.threshold > score
    assert score == pytest.approx(similarity - POLICY.country_penalty)


def test_a_missing_country_on_either_side_leaves_the_name_to_decide() -> None:
    unknown = Screener([listed("Wang Wei", None)])
    assert unknown.screen("Wang Wei", country="SG", kind="person").hits[0].score == 1.0
    known = Screener([listed("Wang Wei", "CN")])
    assert known.screen("Wang Wei", country=None, kind="person").hits[0].score == 1.0
    # ... and a name that does not match is not rescued by an agreeing country.
    assert known.screen("Wang Wen", country="CN", kind="person").hits == ()


def test_the_country_picks_the_listed_person_among_homonyms() -> None:
    """Two listed people share one name; the customer's country says which one is meant."""
    entries = [
        Entry("WL-CN", "Li Na", (), "CN", "person", "UN"),
        Entry("WL-SG", "Li Na", (), "SG", "person", "OFAC"),
    ]
    screener = Screener(entries)
    assert [h.entry_id for h in screener.screen("Li Na", country="SG").hits] == ["WL-SG"]
    assert [h.entry_id for h in screener.screen("Li Na", country="CN").hits] == ["WL-CN"]
    assert [h.entry_id for h in screener.screen("Li Na", country="TH").hits] == []
    assert {h.entry_id for h in screener.screen("Li Na").hits} == {"WL-CN", "WL-SG"}


def test_without_the_penalty_homonyms_of_any_country_are_hits() -> None:
    """The bench's "name only" policy: what screening would alert on without the country."""
    name_only = Screener([listed("Wang Wei", "MY")], ScreeningPolicy(country_penalty=0.0))
    assert name_only.screen("Wang Wei", country="SG", kind="person").matched


def test_firms_are_separated_by_country_too() -> None:
    firm = listed("Soon Seng Trading Pte Ltd", "SG", kind="entity")
    screener = Screener([firm])
    assert screener.screen("Soon Seng Trading Pte. Ltd.", country="SG", kind="business").matched
    assert not screener.screen("Soon Seng Trading Sdn Bhd", country="MY", kind="business").matched
