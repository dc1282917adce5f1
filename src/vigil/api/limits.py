"""What a request may be: the body size limit, enforced before anything reads the body, and
the checks on what a parsed body holds (string lengths, valid Unicode, admissible payments).

A declared ``Content-Length`` over the limit is answered 413 at once, without reading a byte
of the body. A chunked body has no declared length, so its bytes are counted as they arrive
and reading stops with 413 as soon as the count passes the limit: a client cannot make the
server buffer more than the limit either way.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vigil.audit.pii import Pii
from vigil.money import USD_CENTS_PER_MINOR
from vigil.schema.records import FieldError, Transaction

log = logging.getLogger("vigil.api")


def _too_large(limit: int) -> str:
    return f"request body exceeds the limit of {limit:,} bytes"


class BodyTooLarge(HTTPException):
    """Raised from ``receive``: an HTTPException, so FastAPI's body reader and the exception
    middleware pass it through as a JSON 413 instead of a generic 400."""

    def __init__(self, limit: int):
        super().__init__(413, _too_large(limit))


class BodyLimit:
    """Pure ASGI middleware (no per-request task or buffering, unlike BaseHTTPMiddleware)."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None:
            if declared > self.max_bytes:
                client = scope.get("client")
                log.info(
                    "413 %s %s from %s: declared %s bytes, over the limit",
                    scope.get("method"),
                    scope.get("path"),
                    Pii(client[0] if client else None),
                    declared,
                )
                response = JSONResponse({"detail": _too_large(self.max_bytes)}, status_code=413)
                await response(scope, receive, send)
                return
            # HTTP framing holds the body to the declared length: nothing more to count.
            await self.app(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


# --- what a parsed body may hold -------------------------------------------------------------

#: The longest string a request field may hold. Ids are short; a field of a megabyte would
#: otherwise be kept as a key of the feature state, one megabyte a request.
MAX_STRING_CHARS = 1_024
#: Money is int64 minor units (schema.md): the decision log and Parquet cannot hold more.
MAX_AMOUNT = 2**63 - 1


def text_problem(payload: Any, max_chars: int | None = MAX_STRING_CHARS) -> dict[str, Any] | None:
    """The first string in ``payload`` (a key or a value, at any depth) that is longer than
    ``max_chars`` or not valid Unicode (a lone surrogate, which JSON's ``\\ud800`` escape can
    carry but no UTF-8 store can hold), as a 422 problem whose ``loc`` names it; else None.

    Iterative, so a deep document cannot exhaust the stack here either.
    """
    stack: list[tuple[tuple[Any, ...], Any]] = [(("body",), payload)]
    while stack:
        loc, value = stack.pop()
        if isinstance(value, str):
            problem = _string_problem(value, max_chars)
            if problem is not None:
                return {"type": "value_error", "loc": loc, "msg": problem}
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = _string_problem(key, max_chars)
                if problem is not None:
                    return {"type": "value_error", "loc": loc, "msg": f"a field name {problem}"}
                stack.append(((*loc, key), item))
        elif isinstance(value, list):
            stack.extend(((*loc, i), item) for i, item in enumerate(value))
    return None


def _string_problem(text: str, max_chars: int | None) -> str | None:
    if max_chars is not None and len(text) > max_chars:
        return f"is {len(text):,} characters long; at most {max_chars:,} are accepted"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return f"is not valid Unicode: lone surrogate {text[error.start]!r} at {error.start}"
    return None


def admissible(txn: Transaction) -> None:
    """What the contract's types let through but the engine cannot decide on: a currency
    without a reference rate (its amount cannot be compared with any limit), an amount over
    int64. Raises :class:`FieldError` naming the field; two lookups, so the decision path
    pays nothing to speak of."""
    if txn.currency not in USD_CENTS_PER_MINOR:
        raise FieldError(
            "currency",
            f"no reference rate for {txn.currency}; known: {sorted(USD_CENTS_PER_MINOR)}",
        )
    if txn.amount > MAX_AMOUNT:
        raise FieldError("amount", f"at most {MAX_AMOUNT:,} minor units (int64)")
