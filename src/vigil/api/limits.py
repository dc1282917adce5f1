"""The request body size limit, enforced before anything reads the body.

A declared ``Content-Length`` over the limit is answered 413 at once, without reading a byte
of the body. A chunked body has no declared length, so its bytes are counted as they arrive
and reading stops with 413 as soon as the count passes the limit: a client cannot make the
server buffer more than the limit either way.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vigil.audit.pii import Pii

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
