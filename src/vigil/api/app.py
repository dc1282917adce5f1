"""The HTTP API: a thin shell over :class:`vigil.engine.pipeline.Engine`.

Decisions are the hot path, so the decision route reads the raw body, parses it with
:func:`json.loads` and validates with ``Transaction.from_mapping`` (the file readers' rules),
never with pydantic too; it writes the response with ``json.dumps`` of ``Decision.to_dict``.
The pydantic models in :mod:`vigil.api.models` only document it, and the app hands the route
its requests before routing (:class:`_VigilApp`), inside the same middleware.

Handlers check the caller's key themselves (:func:`vigil.api.auth.authorise`) instead of
declaring FastAPI security dependencies, which cost more per request than validating the
payment; the ``security`` entries of each route document the requirement all the same.

The engine is synchronous and serialises decisions on its own lock. API calls into it pass
through one asyncio lock first (the *gate*), so a request that must wait, for a batch in a
worker thread say, waits without blocking the event loop; a single decision, a few hundred
microseconds, then runs inline on the loop, which is cheaper than a hop to a worker thread and
back (measured: the hop doubled the p99 at 1,000 requests a second).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, FastAPI, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import ASGIApp, Receive, Send
from starlette.types import Scope as AsgiScope

from vigil import __version__
from vigil.api.auth import SECURITY_SCHEMES, KeyRing, Scope, authorise, security
from vigil.api.limits import MAX_STRING_CHARS, BodyLimit, admissible, text_problem
from vigil.api.logs import crashed, http_error, note_decision, rejected
from vigil.api.metrics import ApiMetrics, HttpMetrics
from vigil.api.models import (
    DOCUMENTED_ONLY,
    TRANSACTION_EXAMPLE,
    DecisionBatchIn,
    DecisionBatchOut,
    DecisionOut,
    ErrorOut,
    FeedbackIn,
    FeedbackOut,
    HealthOut,
    RulePackErrorOut,
    RulePackOut,
    RulePublishIn,
    TransactionIn,
    ValidationErrorOut,
    schema_ref,
)
from vigil.engine.pipeline import Engine
from vigil.features.extras import request_checks
from vigil.rules.pack import CompiledPack, RulePackError, pack_key
from vigil.schema.mapping import ColumnMapping
from vigil.schema.records import Decision, FieldError, Transaction, parse_timestamp


@dataclass(frozen=True)
class ApiSettings:
    """What the server admits: whose keys, how big a body, how many payments a request."""

    keys: KeyRing
    #: Larger bodies are refused with 413 before they are read; 1 MiB holds ~2,500 payments.
    max_body_bytes: int = 1 << 20
    max_batch: int = 1_000
    #: requests in the user's own column names, mapped onto the contract (docs/byod.md)
    mapping: ColumnMapping | None = None
    #: told of each fresh decision made through the API (the dashboard's live feed); it must
    #: return at once, since it runs on the event loop inside the request
    on_decision: Callable[[Transaction, Decision], None] | None = None
    #: a decision made before, by any server (the scale-out decision log), by ``txn_id``:
    #: a retry that reaches another server gets the first decision back
    recall: Callable[[str], dict[str, Any] | None] | None = None


def create_app(engine: Engine, settings: ApiSettings, routers: Sequence[APIRouter] = ()) -> FastAPI:
    """The Vigil API over ``engine``; the caller owns the engine and runs the server.

    ``routers`` are the optional products served beside decisions (claims, credit), each
    built over its own model and the same key ring.
    """
    metrics = ApiMetrics()
    api = _Api(engine, settings, metrics)
    app = _VigilApp(
        title="Vigil",
        version=__version__,
        description=(
            "Real-time payment risk decisions. Authenticate with `Authorization: Bearer <key>` "
            "or `X-API-Key: <key>`; each key holds scopes `decide`, `feedback`, `admin`."
        ),
    )
    # Added last runs first: metrics see every response, the 413s of the body limit included.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(HttpMetrics, metrics=metrics)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)  # logs refused keys
    app.add_exception_handler(Exception, _internal_error)
    _routes(app, api)
    app.hot = _HotRoute("/v1/decisions", "POST", api.decide)
    for router in routers:
        app.include_router(router)
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    return app


class _HotRoute:
    """The decision route as a bare ASGI app: the request to its handler, the response back.

    The handler reads its own request, so FastAPI's dependency solving and response wrapping
    (~100 µs a request, half a decision) buy nothing there, and neither do the router's scan,
    Starlette's request-response wrapper and FastAPI's exit stack (~25 µs more).
    """

    def __init__(self, path: str, method: str, endpoint: Callable[[Request], Any]):
        self.path, self.method, self.endpoint = path, method, endpoint

    def wanted(self, scope: AsgiScope) -> bool:
        # under a root path the router's own matching decides, as for every other route
        return (
            scope["type"] == "http"
            and scope["path"] == self.path
            and scope["method"] == self.method
            and not scope.get("root_path")
        )

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        scope["route"] = self  # what the metrics label a request by, as FastAPI's routes do
        response = await self.endpoint(Request(scope, receive, send))
        await response(scope, receive, send)


class _VigilApp(FastAPI):
    """FastAPI with its hot route taken before routing: the same middleware and exception
    handlers around it (401/403, 413, 422, 500 alike), and no router in between."""

    hot: _HotRoute | None = None
    _lane: ASGIApp | None = None

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if self.hot is not None and self.hot.wanted(scope):
            scope["app"] = self
            if self._lane is None:
                self._lane = self._lane_stack(self.hot)
            await self._lane(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def _lane_stack(self, route: ASGIApp) -> ASGIApp:
        """FastAPI's middleware stack (see ``FastAPI.build_middleware_stack``) around
        ``route`` instead of the router, less the exit stack it keeps for dependencies."""
        crash, errors = None, {}
        for key, handler in self.exception_handlers.items():
            if key in (500, Exception):
                crash = handler
            else:
                errors[key] = handler
        app: ASGIApp = ExceptionMiddleware(route, handlers=errors, debug=self.debug)
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return ServerErrorMiddleware(app, handler=crash, debug=self.debug)


_AUTH = {
    401: {"model": ErrorOut, "description": "Missing or unknown API key."},
    403: {"model": ErrorOut, "description": "The key lacks the route's scope."},
}
_BODY = {
    400: {"model": ValidationErrorOut, "description": "The body is not valid JSON."},
    413: {"model": ErrorOut, "description": "The body exceeds the size limit."},
    422: {"model": ValidationErrorOut, "description": "A field is invalid; `loc` names it."},
}


def _json_body(*models: type[BaseModel], examples: dict[str, Any] | None = None) -> dict:
    """The OpenAPI request body of a route that parses its JSON itself."""
    schema = (
        schema_ref(models[0]) if len(models) == 1 else {"oneOf": [schema_ref(m) for m in models]}
    )
    content: dict[str, Any] = {"schema": schema}
    if examples:
        content["examples"] = examples
    return {"required": True, "content": {"application/json": content}}


def _routes(app: FastAPI, api: _Api) -> None:
    """Handlers check their key themselves (see :func:`authorise`); ``security`` documents it."""
    app.add_api_route(
        "/v1/decisions",
        api.decide,
        methods=["POST"],
        tags=["decisions"],
        summary="Decide one payment, or a batch",
        description=(
            'Send one transaction object, or `{"transactions": [...]}` for a batch (decided in '
            "order, rejected whole if any item is invalid). A repeated `txn_id` gets its first "
            "decision back with `Idempotent-Replay: true` (for a batch, `Idempotent-Replays: "
            "<count>`)."
        ),
        response_model=DecisionOut | DecisionBatchOut,
        responses={
            200: {
                "headers": {
                    "Idempotent-Replay": {
                        "description": "`true` when a single decision was made earlier",
                        "schema": {"type": "string"},
                    },
                    "Idempotent-Replays": {
                        "description": "In a batch: how many items were answered from before",
                        "schema": {"type": "integer"},
                    },
                }
            },
            **_AUTH,
            **_BODY,
        },
        openapi_extra={
            "security": security(Scope.DECIDE),
            "requestBody": _json_body(
                TransactionIn,
                DecisionBatchIn,
                examples={
                    "single": {"summary": "One payment", "value": TRANSACTION_EXAMPLE},
                    "batch": {
                        "summary": "A batch",
                        "value": {"transactions": [TRANSACTION_EXAMPLE]},
                    },
                },
            ),
        },
    )
    app.add_api_route(
        "/v1/feedback",
        api.feedback,
        methods=["POST"],
        tags=["decisions"],
        summary="Report a label for a decided payment",
        status_code=202,
        response_model=FeedbackOut,
        responses={404: {"model": ErrorOut, "description": "Unknown txn_id."}, **_AUTH, **_BODY},
        openapi_extra={"security": security(Scope.FEEDBACK), "requestBody": _json_body(FeedbackIn)},
    )
    app.add_api_route(
        "/v1/rules/{jurisdiction}",
        api.rules_get,
        methods=["GET"],
        tags=["rules"],
        summary="The rule pack in force for a jurisdiction",
        response_model=RulePackOut,
        responses={
            **_AUTH,
            404: {"model": ErrorOut, "description": "No pack at all."},
            422: {"model": ValidationErrorOut, "description": "Not a jurisdiction code."},
        },
        openapi_extra={"security": security(Scope.ADMIN)},
    )
    app.add_api_route(
        "/v1/rules/{jurisdiction}",
        api.rules_put,
        methods=["PUT"],
        tags=["rules"],
        summary="Publish a new version of a jurisdiction's rule pack",
        description=(
            "Body: the pack's YAML (`Content-Type: application/yaml` or `text/plain`) with "
            '`effective_from` in the query string, or JSON `{"yaml": ..., "effective_from": '
            "...}`. The pack is compiled and validated before anything changes: a bad pack is "
            "refused with 422 naming the line, and the live pack stays."
        ),
        response_model=RulePackOut,
        responses={
            **_AUTH,
            **_BODY,
            422: {"model": RulePackErrorOut, "description": "The pack is invalid."},
        },
        openapi_extra={
            "security": security(Scope.ADMIN),
            "requestBody": {
                "required": True,
                "content": {
                    "application/yaml": {"schema": {"type": "string"}},
                    "application/json": {"schema": schema_ref(RulePublishIn)},
                },
            },
        },
    )
    app.add_api_route(
        "/v1/health",
        api.health,
        methods=["GET"],
        tags=["operations"],
        summary="Liveness, versions in force, uptime (no key needed)",
        response_model=HealthOut,
    )
    app.add_api_route(
        "/metrics",
        api.metrics_text,
        methods=["GET"],
        tags=["operations"],
        summary="Prometheus metrics (no key needed; counts and latencies only)",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    )


#: Checked in the handler, after the key: a caller without a key learns nothing, not even this.
_JURISDICTION_CODE = re.compile(r"^([A-Za-z]{2}|base)$")
_JURISDICTION = Path(
    description="ISO 3166-1 alpha-2 code, or `base` for the pack every jurisdiction extends.",
    json_schema_extra={"pattern": _JURISDICTION_CODE.pattern},
)


class _Api:
    """The route handlers, bound to one engine."""

    def __init__(self, engine: Engine, settings: ApiSettings, metrics: ApiMetrics):
        self.engine = engine
        self.keys = settings.keys
        self.settings = settings
        self.metrics = metrics
        self.gate = asyncio.Lock()
        self.started = time.monotonic()
        self._checks = request_checks(engine.features.blocks)

    def _admit(self, payload: Any) -> Transaction:
        """A request as a transaction: mapped from the user's names, validated, and refused if
        it lacks an extra column the model marks required."""
        if self.settings.mapping is not None:
            payload = self.settings.mapping.record(payload)
        txn = Transaction.from_mapping(payload)
        admissible(txn)
        for check in self._checks:
            check.check(txn)
        return txn

    async def decide(self, request: Request) -> Response:
        authorise(self.keys, request.headers, Scope.DECIDE)
        payload = await _read_json(request)
        if isinstance(payload, dict) and "transactions" in payload:
            return await self._decide_batch(
                _batch(payload["transactions"], self.settings.max_batch, self._admit)
            )
        try:
            txn = self._admit(payload)
        except FieldError as error:
            raise RequestValidationError([_field_error(error)]) from None
        if self.settings.recall is not None and self.engine.recall(txn.txn_id) is None:
            stored = self.settings.recall(txn.txn_id)
            if stored is not None:
                self.metrics.replayed()
                return _json_response(stored, {"Idempotent-Replay": "true"})
        async with self.gate:
            # The gate orders API calls, so a decision made before this instant was made by
            # an earlier request: the engine answered from its idempotency cache.
            before = datetime.now(UTC)
            decision = self.engine.decide(txn)
        if decision.decided_at < before:
            self.metrics.replayed()
            return _json_response(decision.to_dict(), {"Idempotent-Replay": "true"})
        self.metrics.decided(decision)
        if decision.action != "approve":  # the only lines a decision writes (vigil.api.logs)
            note_decision(txn, decision)
        if self.settings.on_decision is not None:
            self.settings.on_decision(txn, decision)
        return _json_response(decision.to_dict())

    async def _decide_batch(self, txns: list[Transaction]) -> Response:
        first = {t.txn_id: t for t in reversed(txns)}  # the first occurrence of each txn_id wins
        unique = [t for t in txns if first.get(t.txn_id) is t]
        async with self.gate:
            before = datetime.now(UTC)
            # A batch can take ~100 ms: decided in a worker thread, the loop stays responsive.
            decided = await run_in_threadpool(self.engine.decide_batch, unique)
        fresh = [d for d in decided if d.decided_at >= before]
        for decision in fresh:
            self.metrics.decided(decision)
            if decision.action != "approve":
                note_decision(first[decision.txn_id], decision)
        if self.settings.on_decision is not None:
            for decision in fresh:
                self.settings.on_decision(first[decision.txn_id], decision)
        replays = len(txns) - len(fresh)
        if replays:
            self.metrics.replayed(replays)
        by_id: dict[str, Decision] = {d.txn_id: d for d in decided}
        body = {"decisions": [by_id[t.txn_id].to_dict() for t in txns]}
        return _json_response(body, {"Idempotent-Replays": str(replays)})

    async def feedback(self, request: Request) -> FeedbackOut:
        authorise(self.keys, request.headers, Scope.FEEDBACK)
        label = _model(FeedbackIn, await _read_json(request))
        async with self.gate:
            known = self.engine.feedback(label.txn_id, label.is_fraud)
        if not known:
            raise HTTPException(
                404, f"transaction '{label.txn_id}' is unknown (never decided here, or forgotten)"
            )
        self.metrics.feedback(label.source, label.is_fraud)
        return FeedbackOut(txn_id=label.txn_id, is_fraud=label.is_fraud, source=label.source)

    async def rules_get(
        self, request: Request, jurisdiction: Annotated[str, _JURISDICTION]
    ) -> dict[str, Any]:
        authorise(self.keys, request.headers, Scope.ADMIN)
        key = _pack_key(jurisdiction)
        try:
            pack = self.engine.rules.active(key, datetime.now(UTC))
        except LookupError as error:
            raise HTTPException(404, str(error)) from None
        return self._pack_view(key, pack)

    async def rules_put(
        self,
        request: Request,
        jurisdiction: Annotated[str, _JURISDICTION],
        effective_from: Annotated[
            str | None,
            Query(
                description="RFC 3339; default: the pack's own, else now.",
                json_schema_extra={"format": "date-time"},
            ),
        ] = None,
    ) -> Any:
        caller = authorise(self.keys, request.headers, Scope.ADMIN)
        key = _pack_key(jurisdiction)
        text, when = await _publication(request, effective_from)
        try:
            # Compiling re-validates every pack that extends this one: off the event loop.
            pack = await run_in_threadpool(
                self.engine.rules.publish, key, text, when, f"api:{caller.id}"
            )
        except RulePackError as error:
            problem = {"loc": ["body"], "msg": str(error), "type": "rule_pack"}
            problem |= {"source": error.source, "line": error.line, "problem": error.problem}
            return JSONResponse({"detail": [problem]}, status_code=422)
        except RecursionError:  # YAML nested thousands deep: the parser runs out of stack
            problem = {
                "loc": ["body"],
                "msg": "the rule pack nests too deeply",
                "type": "rule_pack",
            }
            return JSONResponse({"detail": [problem]}, status_code=422)
        return self._pack_view(key, pack)

    async def health(self) -> HealthOut:
        now = datetime.now(UTC)
        rules = self.engine.rules
        bundle = self.engine.bundle
        made, replays = self.metrics.counts()
        return HealthOut(
            status="ok" if bundle is not None else "rules_only",
            model_bundle_version=bundle.version if bundle is not None else None,
            rule_packs={j: rules.active(j, now).version for j in rules.jurisdictions()},
            uptime_s=round(time.monotonic() - self.started, 3),
            decisions_served=made,
            idempotent_replays=replays,
        )

    async def metrics_text(self) -> Response:
        return Response(self.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    def _pack_view(self, key: str, pack: CompiledPack) -> dict[str, Any]:
        return {
            "jurisdiction": key,
            "pack": pack.jurisdiction,
            "version": pack.version,
            "effective_from": pack.effective_from,
            "extends_version": pack.parent_version,
            "yaml": pack.text,
            "versions": self.engine.rules.versions(key),
        }


# --- reading requests ------------------------------------------------------------------------

_M = TypeVar("_M", bound=BaseModel)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


#: Python's JSON reader takes NaN and Infinity, which are not JSON; this one refuses them.
_JSON = json.JSONDecoder(parse_constant=_not_json)


async def _read_json(request: Request, max_string: int | None = MAX_STRING_CHARS) -> Any:
    """The body as JSON (UTF-8, RFC 8259), with no string over ``max_string`` characters and
    none that is not valid Unicode."""
    body = await request.body()
    try:
        payload = _JSON.decode(body.decode("utf-8"))
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, NaN
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": f"malformed JSON: {error}"}]
        ) from None
    except RecursionError:
        problem = "malformed JSON: nested too deeply"
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": problem}]
        ) from None
    # Only a body this long can hold a string this long, and a lone surrogate needs an escape:
    # a typical payment skips the walk.
    if (max_string is not None and len(body) > max_string) or b"\\u" in body:
        problem = text_problem(payload, max_string)
        if problem is not None:
            raise RequestValidationError([problem])
    return payload


def _pack_key(jurisdiction: str) -> str:
    if not _JURISDICTION_CODE.match(jurisdiction):
        problem = "expected an ISO 3166-1 alpha-2 code such as SG, or base"
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("path", "jurisdiction"), "msg": problem}]
        )
    return pack_key(jurisdiction)


def _batch(
    items: Any, limit: int, admit: Callable[[Any], Transaction] = Transaction.from_mapping
) -> list[Transaction]:
    """Every item validated before any is decided: one bad item rejects the batch."""
    where = ("body", "transactions")
    if not isinstance(items, list) or not items:
        problem = "expected a non-empty list of transactions"
        raise RequestValidationError([{"type": "value_error", "loc": where, "msg": problem}])
    if len(items) > limit:
        problem = f"at most {limit:,} transactions per request, got {len(items):,}"
        raise RequestValidationError([{"type": "value_error", "loc": where, "msg": problem}])
    txns, errors = [], []
    for i, item in enumerate(items):
        try:
            txns.append(admit(item))
        except FieldError as error:
            errors.append(_field_error(error, "transactions", i))
    if errors:
        raise RequestValidationError(errors)
    return txns


def _field_error(error: FieldError, *where: str | int) -> dict[str, Any]:
    """``FieldError`` names the field ``*`` when the record itself is not an object."""
    field = () if error.field == "*" else (error.field,)
    return {"type": "value_error", "loc": ("body", *where, *field), "msg": error.problem}


def _model(model: type[_M], payload: Any) -> _M:
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]
        ) from None


async def _publication(request: Request, query_from: str | None) -> tuple[str, datetime | None]:
    """A rule pack's text and effective time, from a YAML body or the JSON form."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json" or content_type.endswith("+json"):
        form = _model(RulePublishIn, await _read_json(request, max_string=None))
        if form.effective_from is not None and query_from is not None:
            problem = "give effective_from once: in the query string or in the JSON body"
            raise RequestValidationError(
                [{"type": "value_error", "loc": ("query", "effective_from"), "msg": problem}]
            )
        text, raw_from, where = form.yaml, form.effective_from or query_from, "body"
    else:
        try:
            text = (await request.body()).decode("utf-8")
        except UnicodeDecodeError:
            problem = "the rule pack must be UTF-8 text"
            raise RequestValidationError(
                [{"type": "value_error", "loc": ("body",), "msg": problem}]
            ) from None
        raw_from, where = query_from, "query"
    if raw_from is None:
        return text, None
    try:
        return text, parse_timestamp("effective_from", raw_from)
    except FieldError as error:
        problem = {"type": "value_error", "loc": (where, "effective_from"), "msg": error.problem}
        raise RequestValidationError([problem]) from None


# --- answering ------------------------------------------------------------------------------


def _json_response(content: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(content, separators=(",", ":")).encode(),
        media_type="application/json",
        headers=headers,
    )


async def _invalid_request(request: Request, error: Exception) -> JSONResponse:
    """400 for a body that is not JSON, 422 for bad fields; ``input`` is never echoed back,
    since it may be a whole payment (and personal data)."""
    assert isinstance(error, RequestValidationError)
    problems = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in error.errors()]
    status = 400 if any(p["type"] == "json_invalid" for p in problems) else 422
    rejected(request, status, problems)
    return JSONResponse({"detail": problems}, status_code=status)


async def _internal_error(request: Request, error: Exception) -> JSONResponse:
    crashed(request, error)
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """FastAPI's document plus the models that routes parse themselves (see module doc)."""
    _, extra = models_json_schema(
        [(m, "validation") for m in DOCUMENTED_ONLY], ref_template="#/components/schemas/{model}"
    )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            components = FastAPI.openapi(app).setdefault("components", {})
            components.setdefault("schemas", {}).update(extra["$defs"])
            components["securitySchemes"] = SECURITY_SCHEMES
        return app.openapi_schema

    return openapi
