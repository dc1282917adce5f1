"""Screening the people and firms the platform deals with: at onboarding and on payments.

At onboarding every account's legal name is screened once (:func:`screen_accounts`). On a
payment both parties are screened (:class:`PaymentScreener`): by the name of their account, or
by a name the payment itself carries (``payer_name`` / ``payee_name``, pass-through columns of
the contract, as wires and remittances give the beneficiary's name). The transactions table
of the contract has no name columns, so for the synthetic world a payment is screened through
its parties' accounts. A party's answer is cached on (name, country, kind, date of birth):
names recur on every payment they make, and a list change means a new screener. An account's
``birth_date`` (persons, optional) is screened with its name, as the secondary identifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import polars as pl

from vigil.aml.screening.birth import as_birth_date
from vigil.aml.screening.screener import Screener, ScreeningHit
from vigil.schema.records import Transaction

#: Columns of :func:`screen_accounts`' answer, one row per account and listed entry matched.
HIT_COLUMNS = (
    "account_id", "name", "entry_id", "list", "matched_name", "score", "similarity", "dob",
)  # fmt: skip


def _party_rows(accounts: pl.DataFrame) -> list[tuple[str, str, str | None, str, date | None]]:
    """(account_id, name, country, kind, date of birth) of each named account; the date is
    None where the table has no ``birth_date`` column or the account none."""
    named = accounts.filter(pl.col("name").is_not_null() & (pl.col("name") != ""))
    dob = pl.col("birth_date") if "birth_date" in named.columns else pl.lit(None)
    rows = named.select("account_id", "name", "country", "kind", dob.alias("dob")).iter_rows()
    return [
        (account_id, name, country, kind, as_birth_date(birth, f"account {account_id}: birth_date"))
        for account_id, name, country, kind, birth in rows
    ]


def screen_accounts(screener: Screener, accounts: pl.DataFrame) -> pl.DataFrame:
    """Screen every named account of an ``accounts`` table, with its country, kind and date of
    birth; one row per hit (empty if none)."""
    rows = []
    for account_id, name, country, kind, dob in _party_rows(accounts):
        for hit in screener.screen(name, country=country, kind=kind, birth_date=dob).hits:
            rows.append(
                (
                    account_id,
                    name,
                    hit.entry_id,
                    hit.list,
                    hit.matched_name,
                    hit.score,
                    hit.similarity,
                    hit.dob,
                )
            )
    types = (pl.String,) * 5 + (pl.Float64,) * 2 + (pl.String,)
    schema = dict(zip(HIT_COLUMNS, types, strict=True))
    return pl.DataFrame(rows, schema=schema, orient="row")


@dataclass(frozen=True, slots=True)
class Party:
    """What screening needs to know about an account."""

    name: str
    country: str | None
    kind: str
    birth_date: date | None = None


@dataclass(frozen=True, slots=True)
class PartyHit:
    """A payment party matching a listed entry."""

    role: str  #: ``payer`` or ``payee``
    account_id: str
    name: str  #: the name that was screened
    hit: ScreeningHit


class PaymentScreener:
    """Screens the payer and payee of each payment against one screener's list."""

    def __init__(self, screener: Screener, parties: dict[str, Party], cache_size: int = 1 << 16):
        self.screener = screener
        self.parties = parties
        self._screen = lru_cache(maxsize=cache_size)(self._hits)

    @classmethod
    def from_accounts(cls, screener: Screener, accounts: pl.DataFrame) -> PaymentScreener:
        parties = {
            account_id: Party(name, country, kind, dob)
            for account_id, name, country, kind, dob in _party_rows(accounts)
        }
        return cls(screener, parties)

    def _hits(
        self, name: str, country: str | None, kind: str | None, dob: date | None
    ) -> tuple[ScreeningHit, ...]:
        return self.screener.screen(name, country=country, kind=kind, birth_date=dob).hits

    def screen(self, txn: Transaction) -> list[PartyHit]:
        """Hits on either party of ``txn``, payer first; empty when neither is listed."""
        found: list[PartyHit] = []
        for role, account_id, country in (
            ("payer", txn.payer_id, txn.payer_country),
            ("payee", txn.payee_id, txn.payee_country),
        ):
            party = self.parties.get(account_id)
            name = txn.extra.get(f"{role}_name") or (party.name if party else None)
            if not name:
                continue
            kind = party.kind if party else None
            listed_country = country or (party.country if party else None)
            # The account's date of birth belongs to its holder: not to another name the
            # payment carries for that party.
            dob = party.birth_date if party and name == party.name else None
            for hit in self._screen(name, listed_country, kind, dob):
                found.append(PartyHit(role, account_id, name, hit))
        return found
