"""`POST /v1/claims/score`: insurance claims scored on the claims graph as they are filed.

A router to include in the app (``create_app`` or any FastAPI app)::

    from vigil.api.claims import claims_router
    app.include_router(claims_router(lambda: claims_scorer, settings.keys))

The handler follows the decision route's habits: it checks the caller's key itself with
:func:`vigil.api.auth.authorise` (scope ``decide``: scoring a claim is a decision aid like
scoring a payment), reads and parses the JSON body itself, and answers bad input with 400 (not
JSON) or 422 naming the field (``loc``: ``["body", "claims", 1, "amount"]``), never echoing the
input back. Each claim joins the scorer's history and is scored as of its own filing time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

from vigil.api.auth import KeyRing, Scope, authorise, security
from vigil.api.models import ErrorOut, ValidationErrorOut
from vigil.graph.claims import ClaimConflictError, ClaimsScorer
from vigil.money import USD_CENTS_PER_MINOR

CLAIM_EXAMPLE: dict[str, Any] = {
    "claim_id": "CL000012345",
    "ts": "2026-05-20T09:30:00+08:00",
    "policy_id": "POL-M-000004871",
    "claimant_id": "P00004871",
    "amount": 185_000,
    "currency": "SGD",
    "provider_id": "GAR-SG-00017",
    "phone": "+6591234567",
    "address_id": "ADR-000001234",
    "bank_account": "SG0123456789",
}

Key = Annotated[str, Field(min_length=1, max_length=128)]


class ClaimIn(BaseModel):
    """One claim as filed (schema.md, `claims`, without the label). Unknown fields are refused:
    a misspelt ``bank_acount`` would otherwise drop the payout account, the identifier that
    ties most rings together."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [CLAIM_EXAMPLE]})

    claim_id: Key = Field(description="Unique id; a repeat with the same details is re-scored.")
    ts: datetime = Field(description="Filed at (RFC 3339; a time without offset is UTC).")
    policy_id: Key
    claimant_id: Key
    amount: StrictInt = Field(gt=0, description="Minor units of `currency`.")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")
    provider_id: Key | None = Field(None, description="Garage, clinic or repairer.")
    phone: Key | None = Field(None, description="Contact number given.")
    address_id: Key | None = Field(None, description="Normalised address key.")
    bank_account: Key | None = Field(None, description="Payout account.")

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if value not in USD_CENTS_PER_MINOR:
            raise ValueError(f"no reference rate for {value}; known: {sorted(USD_CENTS_PER_MINOR)}")
        return value


class ClaimBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    claims: list[ClaimIn] = Field(min_length=1)


class ClaimReasonOut(BaseModel):
    code: str = Field(description="e.g. `shared_bank_account`, `ring`, `amount_vs_provider`.")
    detail: str = Field(description="The reason in words.")


class ClaimScoreOut(BaseModel):
    claim_id: str
    fraud_probability: float = Field(ge=0, le=1, description="Calibrated probability of fraud.")
    score: float = Field(description="The model's raw score, which the thresholds apply to.")
    hint: Literal["pay", "review", "investigate"] = Field(
        description="`review` from the threshold set for 90% validation recall; `investigate` "
        "from the one set for 80% validation precision."
    )
    reasons: list[ClaimReasonOut]
    model_version: str


class ClaimBatchOut(BaseModel):
    scores: list[ClaimScoreOut] = Field(description="One per claim, in request order.")


# The route parses its body itself, so its schema is written into the document inline (ClaimIn
# nests no model, so its JSON schema stands alone) rather than left to FastAPI.
_CLAIM_SCHEMA = ClaimIn.model_json_schema()
_BATCH_SCHEMA = {
    "title": "ClaimBatchIn",
    "type": "object",
    "properties": {"claims": {"type": "array", "items": _CLAIM_SCHEMA, "minItems": 1}},
    "required": ["claims"],
    "additionalProperties": False,
}

_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ValidationErrorOut, "description": "The body is not valid JSON."},
    401: {"model": ErrorOut, "description": "Missing or unknown API key."},
    403: {"model": ErrorOut, "description": "The key lacks the `decide` scope."},
    409: {"model": ErrorOut, "description": "A known claim id sent with different details."},
    422: {"model": ValidationErrorOut, "description": "A field is invalid; `loc` names it."},
    503: {"model": ErrorOut, "description": "No claims model is loaded."},
}


def claims_router(
    scorer: Callable[[], ClaimsScorer | None], keys: KeyRing, max_batch: int = 1_000
) -> APIRouter:
    """The claims routes over whatever scorer ``scorer()`` returns at request time (so a new
    model can be swapped in without rebuilding the app); None answers 503."""
    router = APIRouter(tags=["claims"])

    async def score_claims(request: Request) -> Response:
        authorise(keys, request.headers, Scope.DECIDE)
        body = await request.body()
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError) as error:  # RecursionError: nested too deeply
            return _problems(400, [("json_invalid", ("body",), f"malformed JSON: {error}")])
        batch = isinstance(payload, dict) and "claims" in payload
        try:
            if batch:
                claims = ClaimBatchIn.model_validate(payload).claims
                if len(claims) > max_batch:
                    problem = f"at most {max_batch:,} claims per request, got {len(claims):,}"
                    return _problems(422, [("value_error", ("body", "claims"), problem)])
            else:
                claims = [ClaimIn.model_validate(payload)]
        except ValidationError as error:
            return _problems(
                422, [(e["type"], ("body", *e["loc"]), e["msg"]) for e in error.errors()]
            )
        current = scorer()
        if current is None:
            return JSONResponse({"detail": "no claims model is loaded"}, status_code=503)
        records = [c.model_dump() for c in claims]
        try:
            scores = await run_in_threadpool(current.score, records)
        except ClaimConflictError as error:
            return JSONResponse({"detail": str(error)}, status_code=409)
        out = [s.to_dict() for s in scores]
        return _json({"scores": out} if batch else out[0])

    router.add_api_route(
        "/v1/claims/score",
        score_claims,
        methods=["POST"],
        summary="Score insurance claims for fraud, one or a batch",
        description=(
            'Send one claim object, or `{"claims": [...]}` (scored in order, rejected whole if '
            "any item is invalid). Each claim joins the claims graph and is scored as of its "
            "filing time: it sees the claims filed before it and the outcomes known then."
        ),
        response_model=ClaimScoreOut | ClaimBatchOut,
        responses=_RESPONSES,
        openapi_extra={
            "security": security(Scope.DECIDE),
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"oneOf": [_CLAIM_SCHEMA, _BATCH_SCHEMA]},
                        "examples": {
                            "single": {"summary": "One claim", "value": CLAIM_EXAMPLE},
                            "batch": {"summary": "A batch", "value": {"claims": [CLAIM_EXAMPLE]}},
                        },
                    }
                },
            },
        },
    )
    return router


def _problems(status: int, problems: list[tuple[str, tuple[Any, ...], str]]) -> JSONResponse:
    """The app's error shape (``{"detail": [{"loc", "msg", "type"}]}``), without the input."""
    detail = [{"loc": list(loc), "msg": msg, "type": kind} for kind, loc, msg in problems]
    return JSONResponse({"detail": detail}, status_code=status)


def _json(content: Any) -> Response:
    return Response(
        json.dumps(content, separators=(",", ":")).encode(), media_type="application/json"
    )
