"""The public data contract of ``schema.md`` as data.

Each table is a :class:`TableSpec`: its columns, their logical types and whether they are
required. Validation, the readers and the writers all read these specs, so the contract lives
in one place and a new column is one line here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import polars as pl


class Kind(StrEnum):
    """Logical column types; each maps to exactly one polars dtype on disk and in memory."""

    STRING = "string"
    TIMESTAMP = "timestamp"
    INT = "int"
    BOOL = "bool"
    FLOAT = "float"


POLARS_DTYPE: dict[Kind, pl.DataType] = {
    Kind.STRING: pl.String(),
    Kind.TIMESTAMP: pl.Datetime("us", "UTC"),
    Kind.INT: pl.Int64(),
    Kind.BOOL: pl.Boolean(),
    Kind.FLOAT: pl.Float64(),
}


#: The largest amount a payment may carry, in minor units (10 trillion of a two-decimal
#: currency): the engine's windows add amounts in 64-bit integers, which this keeps far from
#: overflow, and nothing larger is a real payment.
MAX_AMOUNT = 10**15


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a table.

    ``label`` marks ground truth that the engine must never read while deciding; readers used
    by the real-time path drop these columns.
    """

    name: str
    kind: Kind
    required: bool = True
    label: bool = False
    choices: frozenset[str] | None = None
    positive: bool = False  #: an amount: above 0 and at most MAX_AMOUNT


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    key: str | None = None

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.label)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    def polars_schema(self) -> dict[str, pl.DataType]:
        return {c.name: POLARS_DTYPE[c.kind] for c in self.columns}


S, T, N, B = Kind.STRING, Kind.TIMESTAMP, Kind.INT, Kind.BOOL

CHANNELS = frozenset({"card", "wallet", "transfer", "qr", "cash_in", "cash_out"})
ACCOUNT_KINDS = frozenset({"person", "business", "merchant"})
WATCHLIST_KINDS = frozenset({"person", "entity"})
ACTIONS = frozenset({"approve", "review", "decline"})

#: The typologies the synthetic world labels; other data may carry other names.
TYPOLOGIES = (
    "legit",
    "account_takeover",
    "card_testing",
    "mule_ring",
    "synthetic_identity",
    "first_party",
    "structuring",
    "fan_in",
    "fan_out",
    "cycle",
    "pass_through",
    "dormant_reactivation",
    "merchant_collusion",
)
FRAUD_TYPOLOGIES = frozenset(
    {
        "account_takeover",
        "card_testing",
        "mule_ring",
        "synthetic_identity",
        "first_party",
        "merchant_collusion",
    }
)
AML_TYPOLOGIES = frozenset(
    {"structuring", "fan_in", "fan_out", "cycle", "pass_through", "dormant_reactivation"}
)

TRANSACTIONS = TableSpec(
    "transactions",
    (
        Column("txn_id", S),
        Column("ts", T),
        Column("payer_id", S),
        Column("payee_id", S),
        Column("amount", N, positive=True),
        Column("currency", S),
        Column("channel", S, choices=CHANNELS),
        Column("jurisdiction", S),
        Column("payer_country", S, required=False),
        Column("payee_country", S, required=False),
        Column("device_id", S, required=False),
        Column("ip", S, required=False),
        Column("mcc", S, required=False),
        Column("is_fraud", B, required=False, label=True),
        Column("typology", S, required=False, label=True),
        Column("label_ts", T, required=False, label=True),
    ),
    key="txn_id",
)

ACCOUNTS = TableSpec(
    "accounts",
    (
        Column("account_id", S),
        Column("kind", S, choices=ACCOUNT_KINDS),
        Column("name", S, required=False),
        Column("country", S),
        Column("created_at", T),
        Column("kyc_level", N, required=False),
        Column("sector", S, required=False),
        #: persons only, ISO 8601 date (YYYY-MM-DD) from KYC; the secondary identifier screening
        #: reads to tell a listed person from a customer of the same name
        Column("birth_date", S, required=False),
    ),
    key="account_id",
)

CLAIMS = TableSpec(
    "claims",
    (
        Column("claim_id", S),
        Column("ts", T),
        Column("policy_id", S),
        Column("claimant_id", S),
        Column("amount", N, positive=True),
        Column("currency", S),
        Column("provider_id", S, required=False),
        Column("phone", S, required=False),
        Column("address_id", S, required=False),
        Column("bank_account", S, required=False),
        Column("is_fraud", B, required=False, label=True),
    ),
    key="claim_id",
)

BUSINESSES = TableSpec(
    "businesses",
    (
        Column("business_id", S),
        Column("name", S, required=False),
        Column("sector", S),
        Column("country", S),
        Column("founded_at", T),
        Column("employees", N, required=False),
        Column("annual_revenue", N, required=False),
        Column("currency", S),
    ),
    key="business_id",
)

TRADE = TableSpec(
    "trade",
    (
        Column("supplier_id", S),
        Column("buyer_id", S),
        Column("ts", T),
        Column("amount", N, positive=True),
        Column("currency", S),
    ),
)

LOANS = TableSpec(
    "loans",
    (
        Column("loan_id", S),
        Column("business_id", S),
        Column("issued_at", T),
        Column("amount", N, positive=True),
        Column("currency", S),
        Column("term_days", N),
        Column("defaulted", B, required=False, label=True),
        Column("defaulted_at", T, required=False, label=True),
    ),
    key="loan_id",
)

WATCHLIST = TableSpec(
    "watchlist",
    (
        Column("entry_id", S),
        Column("name", S),
        Column("aliases", S, required=False),
        Column("country", S, required=False),
        Column("kind", S, choices=WATCHLIST_KINDS),
        Column("list", S),
        #: persons only: listed dates of birth, YYYY-MM-DD, several candidates ``;``-separated
        Column("birth_date", S, required=False),
        #: persons only: the year of birth where the list gives only a year
        Column("birth_year", N, required=False),
    ),
    key="entry_id",
)

TABLES: dict[str, TableSpec] = {
    t.name: t for t in (TRANSACTIONS, ACCOUNTS, CLAIMS, BUSINESSES, TRADE, LOANS, WATCHLIST)
}

#: Currency of each jurisdiction the synthetic world covers (ISO 4217).
CURRENCY_OF = {
    "CN": "CNY",
    "HK": "HKD",
    "SG": "SGD",
    "MY": "MYR",
    "ID": "IDR",
    "PH": "PHP",
    "TH": "THB",
    "VN": "VND",
}
