"""`POST /v1/credit/score`: PD, score, grade and reasons for an SME, as a mountable router.

The app includes it with::

    from vigil.api.credit import credit_router
    app.include_router(credit_router(lambda: scorer, settings.keys))

where ``scorer`` is a :class:`vigil.credit.scoring.CreditScorer` (``CreditScorer.load(models,
data)``) or ``None`` while none is loaded (the route then answers 503). The getter is called
per request, so a scorer can be swapped without rebuilding the app.

Like the decision route, the handler checks the caller's key itself with
:func:`vigil.api.auth.authorise` (the ``decide`` scope by default: scoring a borrower is a
decision) and answers errors in the app's shape, ``{"detail": [{"loc", "msg", "type"}]}`` with
400 for a body that is not JSON and 422 naming the bad field, without relying on the app's
exception handlers, so the router behaves the same in any FastAPI app.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import polars as pl
from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vigil.api.auth import KeyRing, Scope, authorise, security
from vigil.api.models import ErrorOut, ValidationErrorOut
from vigil.credit.scoring import CreditScorer, Loan
from vigil.money import USD_CENTS_PER_MINOR

CURRENCY = r"^[A-Z]{3}$"
MAX_INVOICES = 20_000

EXAMPLE_BY_ID: dict[str, Any] = {
    "business_id": "B00019000",
    "loan": {"amount": 25_000_000, "currency": "CNY", "term_days": 180},
}
EXAMPLE_RECORD: dict[str, Any] = {
    "business": {
        "business_id": "NEW-0001",
        "sector": "wholesale",
        "country": "SG",
        "founded_at": "2019-03-01T00:00:00Z",
        "employees": 12,
        "annual_revenue": 180_000_000,
        "currency": "SGD",
    },
    "trade": [
        {
            "supplier_id": "NEW-0001",
            "buyer_id": "B00019402",
            "ts": "2025-11-03T10:00:00Z",
            "amount": 1_250_000,
            "currency": "SGD",
        },
        {
            "supplier_id": "B00019011",
            "buyer_id": "NEW-0001",
            "ts": "2025-11-20T10:00:00Z",
            "amount": 900_000,
            "currency": "SGD",
        },
    ],
    "loan": {"amount": 30_000_000, "currency": "SGD", "term_days": 180},
    "as_of": "2026-01-15T00:00:00Z",
}


class LoanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(gt=0, description="Minor units of `currency`.")
    currency: str = Field(pattern=CURRENCY)
    term_days: int = Field(ge=1, le=3650)


class BusinessIn(BaseModel):
    """A `businesses` record (schema.md)."""

    model_config = ConfigDict(extra="allow")

    business_id: str = Field(min_length=1)
    name: str | None = None
    sector: str | None = None
    country: str = Field(pattern=r"^[A-Z]{2}$")
    founded_at: datetime
    employees: int | None = Field(None, ge=0)
    annual_revenue: int = Field(gt=0, description="Minor units of `currency`.")
    currency: str = Field(pattern=CURRENCY)


class InvoiceIn(BaseModel):
    """A `trade` row: one invoice paid, naming the business as supplier or buyer."""

    model_config = ConfigDict(extra="forbid")

    supplier_id: str = Field(min_length=1)
    buyer_id: str = Field(min_length=1)
    ts: datetime
    amount: int = Field(gt=0)
    currency: str = Field(pattern=CURRENCY)


class CreditScoreIn(BaseModel):
    """Either `business_id` of a firm the world knows, or `business` with its `trade`."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [EXAMPLE_BY_ID, EXAMPLE_RECORD]}
    )

    business_id: str | None = Field(None, min_length=1)
    business: BusinessIn | None = None
    trade: list[InvoiceIn] = Field(default_factory=list, max_length=MAX_INVOICES)
    loan: LoanIn | None = Field(
        None, description="Default: like the firm's last loan (a quarter of revenue if none)."
    )
    as_of: datetime | None = Field(
        None, description="Score as of this moment; default: just after the data's last event."
    )

    @model_validator(mode="after")
    def _one_applicant(self) -> CreditScoreIn:
        if (self.business_id is None) == (self.business is None):
            raise ValueError("give exactly one of business_id or business")
        if self.trade and self.business is None:
            raise ValueError("trade comes with a business record, not with business_id")
        return self


class ReasonOut(BaseModel):
    code: str
    reason: str = Field(description="Adverse-action wording.")
    points: float = Field(description="Points this reason costs against the average applicant.")
    detail: str


class CreditScoreOut(BaseModel):
    business_id: str
    as_of: datetime
    pd: float = Field(ge=0, le=1, description="Calibrated probability of default over the term.")
    score: float = Field(description="Scorecard points (see `scaling`).")
    grade: str = Field(description="A (best) to H; one grade per points-to-double-odds.")
    reasons: list[ReasonOut] = Field(description="Top reasons, costliest first.")
    loan: dict[str, Any]
    model_version: str
    known_firm: bool = Field(description="The firm is in the scorer's world.")
    scaling: dict[str, float]


def credit_router(
    scorer: Callable[[], CreditScorer | None],
    keys: KeyRing,
    scope: Scope = Scope.DECIDE,
) -> APIRouter:
    """The credit route, authorising with ``keys`` for ``scope``, scoring with ``scorer()``."""
    router = APIRouter(tags=["credit"])

    async def score(request: Request) -> Any:
        authorise(keys, request.headers, scope)
        current = scorer()
        if current is None:
            raise HTTPException(503, "no credit model is loaded")
        try:
            payload = json.loads(await request.body())
        except (ValueError, RecursionError) as error:  # RecursionError: nested too deeply
            return _problem(400, ("body",), f"malformed JSON: {error}", "json_invalid")
        try:
            body = CreditScoreIn.model_validate(payload)
        except ValidationError as error:
            problems = [
                {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in error.errors()
            ]
            return JSONResponse({"detail": problems}, status_code=422)
        problem = _check(body)
        if problem is not None:
            return problem
        try:
            result = await run_in_threadpool(_score, current, body)
        except KeyError:
            raise HTTPException(404, f"business '{body.business_id}' is unknown") from None
        out = result.to_dict() | {"scaling": current.scaling.to_dict()}
        return JSONResponse(out)

    router.add_api_route(
        "/v1/credit/score",
        score,
        methods=["POST"],
        summary="Probability of default, score, grade and reasons for an SME",
        description=(
            "Send `business_id` of a firm the scorer's world knows, or a `business` record "
            "with its `trade` invoices (a firm the world need not know; its partners are "
            "looked up by id). Only what was known before `as_of` is read."
        ),
        response_model=CreditScoreOut,
        responses={
            401: {"model": ErrorOut, "description": "Missing or unknown API key."},
            403: {"model": ErrorOut, "description": f"The key lacks the '{scope}' scope."},
            400: {"model": ValidationErrorOut, "description": "The body is not valid JSON."},
            404: {"model": ErrorOut, "description": "Unknown business_id."},
            422: {
                "model": ValidationErrorOut,
                "description": "A field is invalid; `loc` names it.",
            },
            503: {"model": ErrorOut, "description": "No credit model loaded."},
        },
        openapi_extra={
            "security": security(scope),
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _inline(CreditScoreIn)}},
            },
        },
    )
    return router


def _inline(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its ``$defs`` written in place: the handler parses the
    body itself, so the models are not in the document's components for a ``$ref`` to name."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(schema)


def _problem(status: int, loc: tuple[Any, ...], msg: str, kind: str) -> JSONResponse:
    return JSONResponse(
        {"detail": [{"loc": list(loc), "msg": msg, "type": kind}]}, status_code=status
    )


def _check(body: CreditScoreIn) -> JSONResponse | None:
    """What pydantic cannot see: currencies without a rate, invoices not the firm's own."""
    currencies: list[tuple[tuple[Any, ...], str]] = []
    if body.loan is not None:
        currencies.append((("body", "loan", "currency"), body.loan.currency))
    if body.business is not None:
        currencies.append((("body", "business", "currency"), body.business.currency))
        own = body.business.business_id
        for i, invoice in enumerate(body.trade):
            currencies.append((("body", "trade", i, "currency"), invoice.currency))
            if own not in (invoice.supplier_id, invoice.buyer_id):
                msg = f"invoice does not name business '{own}' as supplier or buyer"
                return _problem(422, ("body", "trade", i), msg, "value_error")
            if invoice.supplier_id == invoice.buyer_id:
                msg = "supplier and buyer are the same firm"
                return _problem(422, ("body", "trade", i), msg, "value_error")
    for loc, code in currencies:
        if code not in USD_CENTS_PER_MINOR:
            return _problem(422, loc, f"currency {code} has no reference rate", "value_error")
    return None


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _score(scorer: CreditScorer, body: CreditScoreIn) -> Any:
    loan = None if body.loan is None else Loan(**body.loan.model_dump())
    as_of = _utc(body.as_of)
    if body.business_id is not None:
        return scorer.score_business(body.business_id, as_of, loan)
    assert body.business is not None
    record = body.business.model_dump()
    record["founded_at"] = _utc(record["founded_at"])
    invoices = pl.DataFrame(
        {
            "supplier_id": [i.supplier_id for i in body.trade],
            "buyer_id": [i.buyer_id for i in body.trade],
            "ts": [_utc(i.ts) for i in body.trade],
            "amount": [i.amount for i in body.trade],
            "currency": [i.currency for i in body.trade],
        },
        schema={
            "supplier_id": pl.String,
            "buyer_id": pl.String,
            "ts": pl.Datetime("us", "UTC"),
            "amount": pl.Int64,
            "currency": pl.String,
        },
    )
    return scorer.score_record(record, invoices, loan, as_of)
