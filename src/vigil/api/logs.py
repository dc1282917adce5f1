"""What the API writes to its log, with every personal value marked for tokenising.

``vigil serve`` installs :class:`vigil.audit.pii.PiiFilter` on its handlers, so the client IP,
payer, payee and device below reach the log as keyed tokens (docs/audit.md). There is no access
log (a line per payment costs more than the decision); these are the lines an operator needs:

* ``vigil.decisions`` INFO: each payment *not* approved, with its entities' tokens and the
  reason codes, so an analyst can follow a device or an account across declines. Approvals
  cost one comparison and write nothing;
* ``vigil.api`` WARNING: a refused key (401/403), with the caller's IP token, for spotting
  a caller probing for keys or scopes;
* ``vigil.api`` INFO: a rejected body (400/413/422): the fields named, never their values;
* ``vigil.api`` ERROR: an unhandled error (uvicorn logs its traceback too).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match

from vigil.audit.pii import Pii
from vigil.schema.records import Decision, Transaction

log = logging.getLogger("vigil.api")
decisions_log = logging.getLogger("vigil.decisions")


def _client(request: Request) -> Pii:
    return Pii(request.client.host if request.client else None)


def note_decision(txn: Transaction, decision: Decision) -> None:
    """Log a payment that was not approved (call only for those: approvals are not logged)."""
    if decisions_log.isEnabledFor(logging.INFO):
        decisions_log.info(
            "%s %s score=%.4f payer=%s payee=%s device=%s ip=%s reasons=%s",
            decision.action,
            decision.txn_id,
            decision.score,
            Pii(txn.payer_id),
            Pii(txn.payee_id),
            Pii(txn.device_id),
            Pii(txn.ip),
            ",".join(r.code for r in decision.reasons) or "-",
        )


def rejected(request: Request, status: int, problems: list[dict[str, Any]]) -> None:
    """A request refused for its content: where the problems are, not what was sent."""
    if log.isEnabledFor(logging.INFO):
        fields = ", ".join(".".join(str(p) for p in problem["loc"]) for problem in problems)
        log.info(
            "%s %s %s from %s: %s",
            status,
            request.method,
            request.url.path,
            _client(request),
            fields,
        )


def crashed(request: Request, error: Exception) -> None:
    log.error(
        "500 %s %s from %s: unhandled %s",
        request.method,
        request.url.path,
        _client(request),
        type(error).__name__,
    )


async def http_error(request: Request, error: Exception) -> Response:
    """FastAPI's answer to an HTTPException, after logging refused keys and oversize bodies;
    a 405 lists every method its path allows."""
    assert isinstance(error, HTTPException)
    if error.status_code in (401, 403):
        log.warning(
            "%s %s %s from %s: %s",
            error.status_code,
            request.method,
            request.url.path,
            _client(request),
            error.detail,
        )
    elif error.status_code == 413:
        rejected(request, 413, [{"loc": ["body"]}])
    elif error.status_code == 405:
        # Starlette's Allow names the methods of the first route on the path only; the path
        # has one route per method here, so list them all.
        allowed = {
            method
            for route in request.app.routes
            if getattr(route, "methods", None) and route.matches(request.scope)[0] is Match.PARTIAL
            for method in route.methods
        }
        error = HTTPException(405, error.detail, headers={"Allow": ", ".join(sorted(allowed))})
    return await http_exception_handler(request, error)
