"""Property-based fuzzing of the decision, feedback and rules routes (hypothesis).

Every request below is malformed by construction: a field missing, of the wrong type, out of
range, too long, not valid Unicode, a body that is not JSON or nests without end. Each must be
answered 4xx with a message that names the field where there is one, never 5xx, and leave the
engine exactly as it was: no decision remembered, no feature state touched, no rule version
added, no metric counted.
"""

from __future__ import annotations

import json
import pickle
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.api import ApiKey, ApiSettings, KeyRing, Scope, create_app
from vigil.api.auth import digest
from vigil.engine.pipeline import Engine
from vigil.features.online import OnlineFeatures
from vigil.rules.pack import PACKS_DIR, context_names
from vigil.rules.registry import RuleRegistry

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r".*install `httpx2`")
    from fastapi.testclient import TestClient

KEY = {"X-API-Key": "fuzz-secret"}
JSON = {**KEY, "Content-Type": "application/json"}
FUZZ = settings(
    max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
VALID = {
    "txn_id": "fz-valid",
    "ts": "2026-01-09T09:30:00+08:00",
    "payer_id": "P00000487",
    "payee_id": "M00000905",
    "amount": 12_500,
    "currency": "SGD",
    "channel": "card",
    "jurisdiction": "SG",
    "device_id": "D-1",
    "ip": "203.0.113.7",
}
REQUIRED = ["txn_id", "ts", "payer_id", "payee_id", "amount", "currency", "channel", "jurisdiction"]
STRINGS = [name for name in VALID if name not in ("amount",)]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
not_strings = json_values.filter(lambda v: not isinstance(v, str) and v is not None)
not_integers = json_values.filter(lambda v: not isinstance(v, int) or isinstance(v, bool)).filter(
    lambda v: v is not None and v != ""
)
#: text with a lone surrogate: valid as a JSON escape, never valid Unicode
lone_surrogate = st.builds(
    lambda head, cp, tail: head + chr(cp) + tail,
    st.text(max_size=5),
    st.integers(0xD800, 0xDFFF),
    st.text(max_size=5),
)
bad_values: dict[str, st.SearchStrategy[Any]] = {
    "ts": st.sampled_from(
        [
            "yesterday",
            "2026-13-01T00:00:00Z",
            "9999-12-31T23:59:59-23:59",
            "0001-01-01T00:00:00+14:00",
            20260109,
        ]
    ),
    "amount": not_integers | st.integers(max_value=0) | st.integers(min_value=2**63),
    "currency": st.sampled_from(["sgd", "XXXX", "S1D", "ZZZ"]),
    "channel": st.sampled_from(["teleport", "CARD", "car"]),
    "jurisdiction": st.sampled_from(["S", "SGP", "1G", "sg "]),
}


@pytest.fixture
def world() -> Iterator[tuple[TestClient, Engine]]:
    engine = Engine(OnlineFeatures(), RuleRegistry(PACKS_DIR, context_names()), bundle=None)
    keys = KeyRing([ApiKey("fuzzer", digest("fuzz-secret"), frozenset(Scope))])
    app = create_app(engine, ApiSettings(keys=keys, max_body_bytes=64_000))
    with TestClient(app, raise_server_exceptions=False) as client:
        # one payment decided, so there is state a bad request could disturb
        assert client.post("/v1/decisions", json=VALID, headers=KEY).status_code == 200
        yield client, engine


def _state(client: TestClient, engine: Engine) -> tuple[Any, ...]:
    store = engine.features.store
    health = client.get("/v1/health").json()
    return (
        pickle.dumps((store.flows, store.txns)),
        list(engine._decided),
        {j: engine.rules.versions(j) for j in ("SG", "base")},
        health["decisions_served"],
        health["idempotent_replays"],
    )


def _refused(client: TestClient, engine: Engine, send: Any, field: str | None = None) -> Any:
    """Send, and check the answer is a clear 4xx and that nothing changed."""
    before = _state(client, engine)
    reply = send()
    assert 400 <= reply.status_code < 500, (reply.status_code, reply.text[:300])
    detail = reply.json()["detail"]
    assert detail, reply.text
    if reply.status_code in (400, 422):  # where the problem is, and what it is
        assert all(p["loc"][0] in ("body", "query", "path") and p["msg"] for p in detail), detail
    if field is not None:
        assert isinstance(detail, list) and any(field in p["loc"] for p in detail), detail
        assert all(isinstance(p["msg"], str) and p["msg"] for p in detail)
    assert _state(client, engine) == before
    return reply


def _post(client: TestClient, body: bytes | str, url: str = "/v1/decisions") -> Any:
    content = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    return client.post(url, content=content, headers=JSON)


# --- decisions -----------------------------------------------------------------------------------


@FUZZ
@given(field=st.sampled_from(REQUIRED), data=st.data())
def test_a_missing_or_emptied_required_field_is_named(world: Any, field: str, data: Any) -> None:
    client, engine = world
    payment = {**VALID, "txn_id": "fz-missing"}
    if data.draw(st.booleans()):
        del payment[field]
    else:
        payment[field] = data.draw(st.sampled_from([None, ""]))
    _refused(client, engine, lambda: _post(client, json.dumps(payment)), field)


@FUZZ
@given(field=st.sampled_from(STRINGS), value=not_strings)
def test_a_wrong_type_is_named(world: Any, field: str, value: Any) -> None:
    client, engine = world
    payment = {**VALID, "txn_id": "fz-type", field: value}
    _refused(client, engine, lambda: _post(client, json.dumps(payment)), field)


@FUZZ
@given(data=st.data())
def test_an_out_of_range_value_is_named(world: Any, data: Any) -> None:
    client, engine = world
    field = data.draw(st.sampled_from(sorted(bad_values)))
    payment = {**VALID, "txn_id": "fz-range", field: data.draw(bad_values[field])}
    _refused(client, engine, lambda: _post(client, json.dumps(payment)), field)


@FUZZ
@given(field=st.sampled_from([*STRINGS, "note"]), length=st.integers(1_025, 60_000))
def test_a_huge_string_is_named(world: Any, field: str, length: int) -> None:
    client, engine = world
    payment = {**VALID, "txn_id": "fz-huge", field: "x" * length}
    _refused(client, engine, lambda: _post(client, json.dumps(payment)), field)


@FUZZ
@given(field=st.sampled_from([*STRINGS, "note"]), text=lone_surrogate, batch=st.booleans())
def test_text_that_is_not_unicode_is_named(world: Any, field: str, text: str, batch: bool) -> None:
    client, engine = world
    payment = {**VALID, "txn_id": "fz-unicode", field: text}
    body = json.dumps({"transactions": [VALID, payment]} if batch else payment)  # \\udXXX escapes
    _refused(client, engine, lambda: _post(client, body), field)


@FUZZ
@given(body=json_values.filter(lambda v: not isinstance(v, dict)))
def test_a_body_that_is_not_an_object_is_refused(world: Any, body: Any) -> None:
    client, engine = world
    _refused(client, engine, lambda: _post(client, json.dumps(body)))


@FUZZ
@given(
    body=st.binary(max_size=200)
    | st.sampled_from(
        [b"", b"{", b'{"txn_id": NaN}', b"\xff\xfe{}", b"[" * 50_000, b'{"a":' * 12_000]
    )
    | st.builds(
        lambda p: json.dumps({**VALID, "note": p}).encode().replace(b'"!"', b"NaN"), st.just("!")
    )
)
def test_bytes_that_are_not_json_get_400(world: Any, body: bytes) -> None:
    client, engine = world
    try:
        json.loads(body.decode("utf-8"), parse_constant=lambda c: 1 / 0)
    except (ValueError, ZeroDivisionError, RecursionError):
        pass
    else:
        return  # hypothesis found valid JSON: another test's business
    reply = _refused(client, engine, lambda: _post(client, body))
    assert reply.status_code == 400 and reply.json()["detail"][0]["loc"] == ["body"]


@FUZZ
@given(items=st.lists(json_values, min_size=1, max_size=4), bad_at=st.integers(0, 3))
def test_one_bad_item_refuses_the_whole_batch(world: Any, items: list[Any], bad_at: int) -> None:
    client, engine = world
    batch = [{**VALID, "txn_id": f"fz-batch-{i}"} for i in range(len(items))]
    index = bad_at % len(items)
    batch[index] = {**batch[index], "amount": "12.50"}
    body = json.dumps({"transactions": batch})
    reply = _refused(client, engine, lambda: _post(client, body), "amount")
    assert reply.json()["detail"][0]["loc"][:3] == ["body", "transactions", index]


def test_an_oversize_body_gets_413_declared_or_chunked(world: Any) -> None:
    client, engine = world
    big = json.dumps({**VALID, "txn_id": "fz-big", "note": "x" * 70_000}).encode()
    _refused(client, engine, lambda: _post(client, big))
    assert _post(client, big).status_code == 413

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 8_192):
            yield big[start : start + 8_192]

    chunked = _refused(
        client, engine, lambda: client.post("/v1/decisions", content=chunks(), headers=JSON)
    )
    assert chunked.status_code == 413 and "limit" in chunked.json()["detail"]


# --- feedback and rules --------------------------------------------------------------------------


@FUZZ
@given(
    body=json_values
    | st.fixed_dictionaries(
        {"txn_id": json_values, "is_fraud": json_values, "source": json_values}
    ).filter(
        lambda b: not (isinstance(b["txn_id"], str) and b["source"] in ("chargeback", "analyst"))
    )
)
def test_malformed_feedback_is_refused(world: Any, body: Any) -> None:
    client, engine = world
    _refused(client, engine, lambda: _post(client, json.dumps(body), "/v1/feedback"))


@FUZZ
@given(
    document=st.fixed_dictionaries(
        {
            "pack": st.just("SG"),
            "version": json_values,
            "extends": st.sampled_from(["base", 7, None]),
        },
        optional={"rules": json_values, "params": json_values, "effective_from": json_values},
    )
    | json_values,
    as_json=st.booleans(),
)
def test_a_malformed_rule_pack_is_refused_and_the_live_pack_stays(
    world: Any, document: Any, as_json: bool
) -> None:
    client, engine = world
    text = yaml.safe_dump(document)
    if as_json:
        send = lambda: client.put("/v1/rules/SG", json={"yaml": text}, headers=KEY)  # noqa: E731
    else:
        headers = {**KEY, "Content-Type": "application/yaml"}
        send = lambda: client.put("/v1/rules/SG", content=text, headers=headers)  # noqa: E731
    _refused(client, engine, send)


@pytest.mark.parametrize(
    "text",
    [
        "pack: SG\nversion: deep\nrules: " + "[" * 1_500 + "]" * 1_500,
        "pack: SG\nversion: deep\nrules: " + "{a: " * 1_500 + "1" + "}" * 1_500,
        "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
        "\ud800",
    ],
)
def test_hostile_yaml_is_refused(world: Any, text: str) -> None:
    client, engine = world
    headers = {**KEY, "Content-Type": "application/yaml"}
    body = text.encode("utf-8", "surrogatepass")
    _refused(client, engine, lambda: client.put("/v1/rules/SG", content=body, headers=headers))


@FUZZ
@given(
    code=st.text(min_size=1, max_size=12).filter(lambda c: "/" not in c and c not in (".", ".."))
)
def test_any_jurisdiction_in_the_path_gets_an_answer_not_a_crash(world: Any, code: str) -> None:
    client, _ = world
    reply = client.get(f"/v1/rules/{quote(code, safe='')}", headers=KEY)
    assert reply.status_code in (200, 404, 422), (code, reply.status_code)


def test_deep_json_to_the_claims_route_gets_400() -> None:
    from vigil.api.claims import claims_router

    keys = KeyRing([ApiKey("fuzzer", digest("fuzz-secret"), frozenset(Scope))])
    engine = Engine(OnlineFeatures(), RuleRegistry(PACKS_DIR, context_names()), bundle=None)
    app = create_app(engine, ApiSettings(keys=keys), [claims_router(lambda: None, keys)])
    with TestClient(app, raise_server_exceptions=False) as client:
        reply = _post(client, b"[" * 50_000, "/v1/claims/score")
    assert reply.status_code == 400 and reply.json()["detail"][0]["loc"] == ["body"]
