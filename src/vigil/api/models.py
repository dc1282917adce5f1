"""The API's request and response shapes, for the OpenAPI document and for clients.

The decision endpoint does not validate with these models: it hands the parsed JSON to
:meth:`vigil.schema.records.Transaction.from_mapping`, the validation the file readers use,
so a payment is judged by one set of rules however it arrives and the hot path validates once.
:class:`TransactionIn` and :class:`DecisionOut` document that contract; a test holds them
to the table spec and to ``Decision.to_dict`` so they cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vigil.api.limits import MAX_AMOUNT, MAX_STRING_CHARS
from vigil.money import USD_CENTS_PER_MINOR

ALPHA2 = r"^[A-Z]{2}$"

TRANSACTION_EXAMPLE: dict[str, Any] = {
    "txn_id": "T000000123456",
    "ts": "2026-01-05T09:30:00+08:00",
    "payer_id": "P00000487",
    "payee_id": "M00000905",
    "amount": 12_500,
    "currency": "SGD",
    "channel": "card",
    "jurisdiction": "SG",
    "payer_country": "SG",
    "payee_country": "SG",
    "device_id": "D7f3a9c",
    "ip": "203.0.113.7",
    "mcc": "5411",
}

DECISION_EXAMPLE: dict[str, Any] = {
    "txn_id": "T000000123456",
    "decided_at": "2026-01-05T01:30:00.000412Z",
    "action": "review",
    "score": 0.1818,
    "reasons": [
        {"layer": "model", "code": "payee_kyc_level", "detail": "payee KYC level 0",
         "weight": 0.8112},
        {"layer": "model", "code": "amount_usd", "detail": "amount of US$144.42",
         "weight": 0.3491},
    ],
    "jurisdiction": "SG",
    "rule_pack_version": "sg-2026.01.1",
    "model_bundle_version": "gbdt-20260110T000000-8c41bc83",
    "degraded": False,
    "latency_us": {"features": 136, "rules": 52, "model": 116, "policy": 49, "total": 361},
    "shadow_reasons": [],
}  # fmt: skip


class TransactionIn(BaseModel):
    """One payment request (schema.md, `transactions`). Fields beyond these are kept and passed
    through; labels (`is_fraud`, `typology`, `label_ts`) are ignored."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [TRANSACTION_EXAMPLE]})

    txn_id: str = Field(max_length=MAX_STRING_CHARS, description="Unique id; the idempotency key.")
    ts: datetime = Field(description="When the payment was requested (RFC 3339).")
    payer_id: str = Field(
        max_length=MAX_STRING_CHARS, description="Paying account; unknown ids are new accounts."
    )
    payee_id: str = Field(max_length=MAX_STRING_CHARS, description="Receiving account or merchant.")
    amount: int = Field(gt=0, le=MAX_AMOUNT, description="Minor units of `currency` (cents, fen).")
    currency: str = Field(
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 code, one with a reference rate.",
        json_schema_extra={"enum": sorted(USD_CENTS_PER_MINOR)},
    )
    channel: Literal["card", "wallet", "transfer", "qr", "cash_in", "cash_out"]
    jurisdiction: str = Field(pattern=ALPHA2, description="Booking entity; selects the rules.")
    payer_country: str | None = Field(None, pattern=ALPHA2)
    payee_country: str | None = Field(None, pattern=ALPHA2)
    device_id: str | None = Field(
        None, max_length=MAX_STRING_CHARS, description="Device fingerprint."
    )
    ip: str | None = Field(None, max_length=MAX_STRING_CHARS, description="IPv4 or IPv6 address.")
    mcc: str | None = Field(None, pattern=r"^\d{4}$", description="Merchant category code.")


class DecisionBatchIn(BaseModel):
    """Several payments in one request, decided in order; rejected whole if any is invalid."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"transactions": [TRANSACTION_EXAMPLE]}]}
    )

    transactions: list[TransactionIn] = Field(min_length=1)


class ReasonOut(BaseModel):
    layer: str = Field(description="`rules`, `model`, `policy` or `shadow`.")
    code: str
    detail: str
    weight: float


class DecisionOut(BaseModel):
    """The engine's decision (schema.md, "A decision")."""

    model_config = ConfigDict(json_schema_extra={"examples": [DECISION_EXAMPLE]})

    txn_id: str
    decided_at: datetime
    action: Literal["approve", "review", "decline"]
    score: float = Field(ge=0, le=1, description="Calibrated probability of fraud.")
    reasons: list[ReasonOut]
    jurisdiction: str
    rule_pack_version: str | None
    model_bundle_version: str | None
    degraded: bool = Field(description="A layer was skipped or missed its latency budget.")
    latency_us: dict[str, int] = Field(description="Microseconds per layer and `total`.")
    shadow_reasons: list[ReasonOut] = Field(
        description="Hits of a shadow rule pack: recorded for comparison, never enforced."
    )


class DecisionBatchOut(BaseModel):
    decisions: list[DecisionOut] = Field(description="One per transaction, in request order.")


class FeedbackIn(BaseModel):
    """A label for a decided payment: a chargeback, or an analyst's verdict."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"txn_id": "T000000123456", "is_fraud": True, "source": "chargeback"}]
        },
    )

    txn_id: str = Field(max_length=MAX_STRING_CHARS)
    is_fraud: bool
    source: Literal["chargeback", "analyst"]


class FeedbackOut(BaseModel):
    txn_id: str
    is_fraud: bool
    source: str
    status: Literal["accepted"] = "accepted"


class RulePublishIn(BaseModel):
    """The JSON form of a publish; the same can be sent as a YAML body with a query string."""

    model_config = ConfigDict(extra="forbid")

    yaml: str = Field(description="The pack's YAML text.")
    effective_from: str | None = Field(
        None,
        description="When it takes over (RFC 3339); default: the pack's own, else now.",
        json_schema_extra={"format": "date-time"},
    )


class RuleVersionOut(BaseModel):
    version: str
    effective_from: datetime | None
    published_at: datetime
    published_by: str
    rolled_back_at: datetime | None
    rolled_back_by: str | None
    extends: str | None
    in_force: bool


class RulePackOut(BaseModel):
    jurisdiction: str = Field(description="The jurisdiction asked about.")
    pack: str = Field(description="The pack that applies: the jurisdiction's own, or `base`.")
    version: str
    effective_from: datetime | None
    extends_version: str | None = Field(description="Version of the parent pack compiled in.")
    yaml: str = Field(description="This pack's own YAML, as published (not its parent's).")
    versions: list[RuleVersionOut] = Field(description="Every version published, oldest first.")


class HealthOut(BaseModel):
    status: Literal["ok", "rules_only"] = Field(
        description="`rules_only` when no model bundle is loaded: scores come from rules alone."
    )
    model_bundle_version: str | None
    rule_packs: dict[str, str] = Field(description="Version in force now, per pack.")
    uptime_s: float
    decisions_served: int = Field(description="New decisions made by this process.")
    idempotent_replays: int


class ErrorOut(BaseModel):
    detail: str


class FieldErrorOut(BaseModel):
    loc: list[str | int] = Field(description='Path to the bad value, e.g. ["body", "amount"].')
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    detail: list[FieldErrorOut]


class RulePackProblem(FieldErrorOut):
    """A problem with the pack (with its source and line), or with the request around it (a
    bad ``effective_from``: then only ``loc``, ``msg`` and ``type``)."""

    source: str | None = Field(None, description="The pack's source as the registry names it.")
    line: int | None = Field(None, description="YAML line of the problem, where known.")
    problem: str | None = Field(None, description="The problem alone, without the source.")


class RulePackErrorOut(BaseModel):
    detail: list[RulePackProblem]


#: Models the OpenAPI document must carry although no route lets FastAPI parse them.
DOCUMENTED_ONLY = (TransactionIn, DecisionBatchIn, FeedbackIn, RulePublishIn)


def schema_ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}
