"""Reference data about accounts (age, home country, KYC level, kind), looked up per event.

Held in memory as a plain dict of tuples: the accounts table is reference data that changes
slowly, and a lookup on the hot path must cost a dict access, not a query.
"""

from __future__ import annotations

from typing import NamedTuple

import polars as pl


class AccountInfo(NamedTuple):
    created: int  # epoch seconds
    country: str
    kyc_level: float
    kind: str


class AccountBook:
    def __init__(self, accounts: dict[str, AccountInfo]):
        self._accounts = accounts

    @classmethod
    def empty(cls) -> AccountBook:
        return cls({})

    @classmethod
    def from_frame(cls, accounts: pl.DataFrame | None) -> AccountBook:
        """Build from a validated ``accounts`` table; None (no table) gives an empty book."""
        if accounts is None:
            return cls.empty()
        kyc = (
            accounts.get_column("kyc_level").cast(pl.Float64).fill_null(float("nan")).to_list()
            if "kyc_level" in accounts.columns
            else [float("nan")] * accounts.height
        )
        created = (accounts.get_column("created_at").dt.epoch("s")).to_list()
        rows = zip(
            accounts.get_column("account_id").to_list(),
            created,
            accounts.get_column("country").to_list(),
            kyc,
            accounts.get_column("kind").to_list(),
            strict=True,
        )
        return cls({aid: AccountInfo(c, country, k, kind) for aid, c, country, k, kind in rows})

    def get(self, account_id: str) -> AccountInfo | None:
        return self._accounts.get(account_id)

    def __len__(self) -> int:
        return len(self._accounts)
