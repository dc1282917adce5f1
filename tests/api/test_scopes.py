"""Every route in the OpenAPI document enforces the scope it declares: 401 without a key or
with an unknown one, 403 with a key that lacks the scope, through with one that holds it.

The walk reads the routes from the app's own document, with every optional router mounted
(claims, credit), so a route added later is checked without editing this test; a route that
declares no scope must be on the short list of open ones, and none may hide from the document.
Open on purpose: ``GET /v1/health`` (liveness for load balancers; versions and counts only) and
``GET /metrics`` (Prometheus scrapes without credentials; counts and latencies, no payment data,
see docs/api.md).
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Route

from vigil.api import ApiKey, ApiSettings, KeyRing, Scope, create_app
from vigil.api.auth import digest
from vigil.api.claims import claims_router
from vigil.api.credit import credit_router
from vigil.engine.pipeline import Engine

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r".*install `httpx2`")
    from fastapi.testclient import TestClient

OPEN = {("/v1/health", "get"), ("/metrics", "get")}
#: values for path parameters, by name; anything else gets "x"
PATH_VALUES = {"jurisdiction": "SG"}
#: one key per scope, named for it, and one with all of them
KEYS = {scope.value: f"secret-{scope.value}" for scope in Scope} | {"all": "secret-all"}


def _ring() -> KeyRing:
    return KeyRing(
        ApiKey(
            name, digest(secret), frozenset(Scope) if name == "all" else frozenset({Scope(name)})
        )
        for name, secret in KEYS.items()
    )


@pytest.fixture
def app(rules_only_engine: Engine) -> Any:
    keys = _ring()
    # No models behind the optional routers: they authorise first and then answer 503/422.
    routers = [claims_router(lambda: None, keys), credit_router(lambda: None, keys, Scope.CREDIT)]
    return create_app(rules_only_engine, ApiSettings(keys=keys), routers)


@pytest.fixture
def client(app: Any) -> Any:
    with TestClient(app) as client:
        yield client


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "put", "post", "patch", "delete"}
    ]


def _call(client: Any, path: str, method: str, headers: dict[str, str]) -> Any:
    url = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m.group(1), "x"), path)
    body = {"content": b"{}", "headers": {**headers, "Content-Type": "application/json"}}
    if method in {"get", "delete"}:
        body = {"headers": headers}
    return client.request(method.upper(), url, **body)


def test_every_documented_route_enforces_its_scope(client: Any) -> None:
    document = client.get("/openapi.json").json()
    operations = _operations(document)
    seen = {(path, method) for path, method, _ in operations}
    # the walk covers every router: a route missing here would escape the checks below
    assert {
        ("/v1/decisions", "post"),
        ("/v1/feedback", "post"),
        ("/v1/rules/{jurisdiction}", "get"),
        ("/v1/rules/{jurisdiction}", "put"),
        ("/v1/claims/score", "post"),
        ("/v1/credit/score", "post"),
    } <= seen
    checked = 0
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        if (path, method) in OPEN:
            assert "security" not in operation, where
            assert _call(client, path, method, {}).status_code == 200, where
            continue
        requirements = operation.get("security")
        assert requirements, f"{where} declares no scope and is not on the open list"
        declared = {
            scope
            for requirement in requirements
            for scopes in requirement.values()
            for scope in scopes
        }
        assert len(declared) == 1, f"{where} declares scopes {declared}, expected exactly one"
        scope = Scope(declared.pop())

        missing = _call(client, path, method, {})
        assert missing.status_code == 401, (where, missing.status_code, missing.text)
        assert missing.headers.get("www-authenticate") == "Bearer", where
        unknown = _call(client, path, method, {"X-API-Key": "not-a-key"})
        assert unknown.status_code == 401, (where, unknown.status_code)
        for other in Scope:
            if other is scope:
                continue
            refused = _call(client, path, method, {"Authorization": f"Bearer {KEYS[other.value]}"})
            assert refused.status_code == 403, (where, other, refused.status_code, refused.text)
            assert f"'{scope.value}'" in refused.json()["detail"], where
        for holder in (scope.value, "all"):
            allowed = _call(client, path, method, {"X-API-Key": KEYS[holder]})
            assert allowed.status_code not in (401, 403), (where, holder, allowed.text)
        checked += 1
    assert checked == len(operations) - len(OPEN & seen)


def test_no_route_hides_from_the_document(app: Any, client: Any) -> None:
    """Every route the app answers is a documented one (so the walk above checked it), or one
    of FastAPI's own documentation pages; a plain Starlette route serving a documented path
    (the decision hot path) counts as documented, and the walk exercised it."""
    documented = set(client.get("/openapi.json").json()["paths"])
    own = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    served = {
        route.path
        for route in app.routes
        if isinstance(route, Route)
        and not (isinstance(route, APIRoute) and route.include_in_schema)
    }
    assert served - own <= documented, served - own - documented


def test_credit_needs_the_credit_scope_not_decide(client: Any) -> None:
    decide_key = {"X-API-Key": KEYS["decide"]}
    reply = client.post("/v1/credit/score", json={"business_id": "B1"}, headers=decide_key)
    assert reply.status_code == 403 and "'credit'" in reply.json()["detail"]
    credit_key = {"X-API-Key": KEYS["credit"]}
    assert client.post("/v1/credit/score", json={}, headers=credit_key).status_code == 503


def test_credentials_the_server_cannot_read_are_refused_not_skipped(client: Any) -> None:
    good = KEYS["all"]
    assert client.get("/v1/rules/SG", headers={"X-API-Key": good}).status_code == 200
    both = {"X-API-Key": good, "Authorization": f"Bearer {good}"}
    assert client.get("/v1/rules/SG", headers=both).status_code == 200
    for authorization in ("Basic dXNlcjpwdw==", "Bearer", "Bearer  ", "token"):
        reply = client.get(
            "/v1/rules/SG", headers={"X-API-Key": good, "Authorization": authorization}
        )
        assert reply.status_code == 401 and "Bearer <key>" in reply.json()["detail"]
    mixed = {"X-API-Key": good, "Authorization": f"Bearer {KEYS['decide']}"}
    reply = client.get("/v1/rules/SG", headers=mixed)
    assert reply.status_code == 401 and "two different keys" in reply.json()["detail"]
