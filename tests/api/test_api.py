"""The HTTP API over a real engine: keys and scopes, validation, idempotency, all-or-nothing
batches, feedback, rule packs, size limits, health, metrics and the OpenAPI document."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from vigil.api import KeyFileError, KeyRing, Scope
from vigil.api.auth import digest
from vigil.api.models import DecisionOut, TransactionIn
from vigil.api.serve import serve
from vigil.engine.pipeline import Engine
from vigil.schema.tables import TRANSACTIONS

Auth = Callable[[str], dict[str, str]]
YAML = {"Content-Type": "application/yaml"}


def payment(txn_id: str = "api-1", **fields: Any) -> dict[str, Any]:
    """A valid payment just after training ended, from an account the tiny world knows."""
    return {
        "txn_id": txn_id,
        "ts": "2026-01-09T09:30:00+08:00",
        "payer_id": "P00000487",
        "payee_id": "M00000905",
        "amount": 12_500,
        "currency": "SGD",
        "channel": "card",
        "jurisdiction": "SG",
        "device_id": "D-api",
        **fields,
    }


def without(data: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in names}


def sg_pack(client: TestClient, auth: Auth, version: str) -> str:
    """The live SG pack, re-versioned: a valid publish whose rules are the same."""
    text = client.get("/v1/rules/SG", headers=auth("operator")).json()["yaml"]
    assert "version: sg-2026.01.1" in text
    return text.replace("version: sg-2026.01.1", f"version: {version}")


# --- keys and scopes ----------------------------------------------------------------------------

ROUTES = [
    ("POST", "/v1/decisions", Scope.DECIDE, {"json": payment()}),
    ("POST", "/v1/feedback", Scope.FEEDBACK, {"json": {"txn_id": "x", "is_fraud": False,
                                                      "source": "analyst"}}),
    ("GET", "/v1/rules/SG", Scope.ADMIN, {}),
    ("PUT", "/v1/rules/SG", Scope.ADMIN, {"content": "pack: SG\nversion: sg-x\n"}),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "scope", "body"), ROUTES)
def test_every_route_wants_a_known_key_with_its_scope(
    client: TestClient,
    principals: dict[str, tuple[str, set[Scope]]],
    method: str,
    path: str,
    scope: Scope,
    body: dict[str, Any],
) -> None:
    def call(headers: dict[str, str]) -> int:
        return client.request(method, path, headers=headers, **body).status_code

    missing = client.request(method, path, **body)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert "X-API-Key" in missing.json()["detail"]
    assert call({"Authorization": "Bearer not-a-key"}) == 401
    assert call({"X-API-Key": "not-a-key"}) == 401
    for who, (secret, scopes) in principals.items():
        for headers in ({"Authorization": f"Bearer {secret}"}, {"X-API-Key": secret}):
            status = call(headers)
            assert (status not in (401, 403)) if scope in scopes else status == 403, (who, status)


def test_health_and_metrics_need_no_key(client: TestClient) -> None:
    assert client.get("/v1/health").status_code == 200
    assert client.get("/metrics").status_code == 200


GATEWAY = {"id": "gateway", "sha256": digest("a-long-secret").hex(), "scopes": ["decide"]}


def test_key_files_hold_digests(tmp_path: Path) -> None:
    (tmp_path / "keys.json").write_text(json.dumps({"keys": [GATEWAY]}))
    (tmp_path / "keys.yaml").write_text(
        f"keys:\n  - id: gateway\n    sha256: {GATEWAY['sha256']}\n    scopes: [decide]\n"
    )
    for name in ("keys.yaml", "keys.json"):
        ring = KeyRing.load(tmp_path / name)
        key = ring.identify("a-long-secret")
        assert key is not None and key.id == "gateway" and key.scopes == {Scope.DECIDE}
        assert ring.identify("a-long-secreT") is None


@pytest.mark.parametrize(
    ("broken", "words"),
    [
        ({**GATEWAY, "sha256": "a-long-secret"}, r"keys\[1\].*SHA-256"),
        ({**GATEWAY, "scopes": ["decide", "root"]}, r"keys\[1\].*scopes"),
        ({**GATEWAY, "scopes": []}, r"keys\[1\].*scopes"),
        ({**GATEWAY, "id": ""}, r"keys\[1\].*'id'"),
        (GATEWAY, "unique"),
    ],
)
def test_a_bad_key_file_is_refused_by_entry(
    tmp_path: Path, broken: dict[str, Any], words: str
) -> None:
    (tmp_path / "keys.json").write_text(json.dumps({"keys": [GATEWAY, broken]}))
    with pytest.raises(KeyFileError, match=words):
        KeyRing.load(tmp_path / "keys.json")


def test_serve_prints_one_generated_key_and_runs_one_worker(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tiny_world: Path,
    tiny_bundle: Path,
) -> None:
    served: dict[str, Any] = {}
    monkeypatch.setattr("vigil.api.serve.uvicorn.run", lambda app, **kw: served.update(app=app))
    serve(tiny_bundle, tiny_world)
    secret = capsys.readouterr().out.split()[-1]
    with TestClient(served["app"]) as client:
        for path in ("/v1/rules/SG", "/v1/rules/HK"):  # the admin scope...
            assert client.get(path, headers={"X-API-Key": secret}).status_code == 200
        label = {"txn_id": "api-1", "is_fraud": False, "source": "analyst"}
        for path, body in (("/v1/decisions", payment()), ("/v1/feedback", label)):  # ...and all
            assert client.post(path, json=body, headers={"X-API-Key": secret}).status_code < 300
        assert client.get("/v1/rules/SG", headers={"X-API-Key": secret + "x"}).status_code == 401
    with pytest.raises(ValueError, match="one worker"):
        serve(tiny_bundle, tiny_world, workers=2)


# --- decisions ----------------------------------------------------------------------------------


def test_a_decision_carries_the_contract_fields(
    client: TestClient, auth: Auth, engine: Engine
) -> None:
    answer = client.post("/v1/decisions", json=payment(), headers=auth("decider"))
    assert answer.status_code == 200
    assert "Idempotent-Replay" not in answer.headers
    decision = answer.json()
    DecisionOut.model_validate(decision)
    assert set(decision) == set(DecisionOut.model_fields)
    assert decision["txn_id"] == "api-1"
    assert decision["model_bundle_version"] == engine.bundle.version
    assert decision["rule_pack_version"] == "sg-2026.01.1"
    assert set(decision["latency_us"]) >= {"total", "features", "rules", "model", "policy"}


def test_rules_alone_decide_when_no_bundle_is_loaded(
    make_client: Callable[..., TestClient], rules_only_engine: Engine, auth: Auth
) -> None:
    client = make_client(rules_only_engine)
    decision = client.post("/v1/decisions", json=payment(), headers=auth("decider")).json()
    assert decision["model_bundle_version"] is None
    assert client.get("/v1/health").json()["status"] == "rules_only"


BAD_FIELDS = [
    ({"amount": -5}, "amount", "> 0"),
    ({"currency": None}, "currency", "missing"),
    ({"ts": "yesterday"}, "ts", "RFC 3339"),
    ({"channel": "telepathy"}, "channel", "one of"),
]


@pytest.mark.parametrize(("change", "field", "words"), BAD_FIELDS)
def test_a_bad_field_is_named_by_its_path(
    client: TestClient, auth: Auth, change: dict[str, Any], field: str, words: str
) -> None:
    bad = {k: v for k, v in {**payment(), **change}.items() if v is not None}
    single = client.post("/v1/decisions", json=bad, headers=auth("decider"))
    assert single.status_code == 422
    [problem] = single.json()["detail"]
    assert problem["loc"] == ["body", field] and words in problem["msg"]
    assert "input" not in problem  # a payment is never echoed back
    batch = {"transactions": [payment("ok-1"), payment("ok-2"), {**bad, "txn_id": "bad"}]}
    answer = client.post("/v1/decisions", json=batch, headers=auth("decider"))
    assert answer.status_code == 422
    assert [p["loc"] for p in answer.json()["detail"]] == [["body", "transactions", 2, field]]


def test_every_bad_item_of_a_batch_is_reported(client: TestClient, auth: Auth) -> None:
    items = [payment("a", amount=0), payment("b"), "not an object", without(payment("c"), "ts")]
    answer = client.post("/v1/decisions", json={"transactions": items}, headers=auth("decider"))
    assert [p["loc"] for p in answer.json()["detail"]] == [
        ["body", "transactions", 0, "amount"],
        ["body", "transactions", 2],
        ["body", "transactions", 3, "ts"],
    ]


def test_malformed_bodies_are_refused_with_json(
    make_client: Callable[..., TestClient], engine: Engine, auth: Auth
) -> None:
    client = make_client(engine, max_batch=2)
    headers = auth("decider")
    broken = client.post("/v1/decisions", content=b'{"txn_id": ', headers=headers)
    assert broken.status_code == 400
    assert broken.json()["detail"][0]["msg"].startswith("malformed JSON")
    assert client.post("/v1/decisions", json=[payment()], headers=headers).status_code == 422
    for items in ([], payment(), [payment("1"), payment("2"), payment("3")]):
        answer = client.post("/v1/decisions", json={"transactions": items}, headers=headers)
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"] == ["body", "transactions"]
    assert client.get("/nowhere").json() == {"detail": "Not Found"}
    assert client.delete("/v1/decisions", headers=headers).status_code == 405


def test_a_batch_with_one_bad_item_changes_nothing(
    make_client: Callable[..., TestClient], new_engine: Callable[[], Engine], auth: Auth
) -> None:
    """The probe payment comes from the burst's payer: had the burst's valid payments touched
    the state, its velocity features, and so its decision, would differ (the control shows)."""
    burst = [payment(f"burst-{i}", amount=900 + i) for i in range(6)]
    probe = payment("probe", ts="2026-01-09T09:31:00+08:00")
    headers = auth("root")

    def decide_probe(before: list[dict[str, Any]] | None) -> dict[str, Any]:
        client = make_client(new_engine())
        if before is not None:
            answer = client.post("/v1/decisions", json={"transactions": before}, headers=headers)
            if answer.status_code == 422:  # nothing decided: the valid items are unknown
                label = {"txn_id": "burst-0", "is_fraud": True, "source": "analyst"}
                assert client.post("/v1/feedback", json=label, headers=headers).status_code == 404
        answer = client.post("/v1/decisions", json=probe, headers=headers)
        assert "Idempotent-Replay" not in answer.headers
        return without(answer.json(), "decided_at", "latency_us", "degraded")

    failed = decide_probe([*burst, payment("burst-bad", currency="sgd")])
    assert failed == decide_probe(None)
    assert failed != decide_probe(burst)


def test_a_repeated_txn_id_gets_its_first_decision(client: TestClient, auth: Auth) -> None:
    headers = auth("decider")
    first = client.post("/v1/decisions", json=payment("dup"), headers=headers)
    again = client.post("/v1/decisions", json=payment("dup", amount=9_999_999), headers=headers)
    assert again.status_code == 200
    assert again.headers["Idempotent-Replay"] == "true"
    assert again.json() == first.json()
    batch = {"transactions": [payment("dup"), payment("new"), payment("new", amount=1)]}
    answer = client.post("/v1/decisions", json=batch, headers=headers)
    assert answer.headers["Idempotent-Replays"] == "2"
    decisions = answer.json()["decisions"]
    assert [d["txn_id"] for d in decisions] == ["dup", "new", "new"]
    assert decisions[0] == first.json() and decisions[1] == decisions[2]
    health = client.get("/v1/health").json()
    assert (health["decisions_served"], health["idempotent_replays"]) == (2, 3)


# --- feedback -----------------------------------------------------------------------------------


def test_feedback_is_accepted_for_known_payments_only(client: TestClient, auth: Auth) -> None:
    client.post("/v1/decisions", json=payment("paid"), headers=auth("decider"))
    label = {"txn_id": "paid", "is_fraud": True, "source": "chargeback"}
    accepted = client.post("/v1/feedback", json=label, headers=auth("labeller"))
    assert accepted.status_code == 202
    assert accepted.json() == {**label, "status": "accepted"}
    unknown = client.post("/v1/feedback", json={**label, "txn_id": "never"}, headers=auth("root"))
    assert unknown.status_code == 404 and "never" in unknown.json()["detail"]
    bad = client.post("/v1/feedback", json={**label, "source": "rumour"}, headers=auth("root"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "source"]


# --- rule packs ---------------------------------------------------------------------------------


def test_rules_show_the_pack_in_force(client: TestClient, auth: Auth) -> None:
    sg = client.get("/v1/rules/sg", headers=auth("operator")).json()
    assert (sg["jurisdiction"], sg["pack"], sg["version"]) == ("SG", "SG", "sg-2026.01.1")
    assert sg["extends_version"] == "base-2026.01.1" and "pack: SG" in sg["yaml"]
    assert [v["in_force"] for v in sg["versions"]] == [True]
    elsewhere = client.get("/v1/rules/ZZ", headers=auth("operator")).json()
    assert (elsewhere["pack"], elsewhere["versions"]) == ("base", [])
    assert client.get("/v1/rules/S1G").status_code == 401  # the key first, then the code
    bad_code = client.get("/v1/rules/S1G", headers=auth("operator"))
    assert bad_code.status_code == 422
    assert bad_code.json()["detail"][0]["loc"] == ["path", "jurisdiction"]


def test_a_published_pack_decides_from_its_effective_time(client: TestClient, auth: Auth) -> None:
    text = sg_pack(client, auth, "sg-2026.02.1")
    published = client.put(
        "/v1/rules/SG",
        content=text,
        params={"effective_from": "2026-01-02T00:00:00Z"},
        headers={**auth("operator"), **YAML},
    )
    assert published.status_code == 200
    assert published.json()["version"] == "sg-2026.02.1"
    assert published.json()["versions"][-1]["published_by"] == "api:operator"
    decision = client.post("/v1/decisions", json=payment(), headers=auth("decider")).json()
    assert decision["rule_pack_version"] == "sg-2026.02.1"
    assert client.get("/v1/health").json()["rule_packs"]["SG"] == "sg-2026.02.1"


def test_a_pack_scheduled_for_later_is_listed_but_not_in_force(
    client: TestClient, auth: Auth
) -> None:
    form = {"yaml": sg_pack(client, auth, "sg-2099.01.1"), "effective_from": "2099-01-01T00:00Z"}
    assert client.put("/v1/rules/SG", json=form, headers=auth("operator")).status_code == 200
    live = client.get("/v1/rules/SG", headers=auth("operator")).json()
    assert live["version"] == "sg-2026.01.1"
    assert [(v["version"], v["in_force"]) for v in live["versions"]] == [
        ("sg-2026.01.1", True),
        ("sg-2099.01.1", False),
    ]


def test_a_bad_pack_is_refused_with_its_line_and_the_live_pack_stays(
    client: TestClient, auth: Auth
) -> None:
    headers = {**auth("operator"), **YAML}
    before = client.get("/v1/rules/SG", headers=headers).json()
    broken = sg_pack(client, auth, "sg-2026.03.1") + "  - id: SG-BROKEN\n    when: amount >\n"
    answer = client.put("/v1/rules/SG", content=broken, headers=headers)
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert problem["type"] == "rule_pack" and problem["line"] == broken.count("\n") - 1
    assert "SG-BROKEN" in problem["msg"]
    wrong_pack = client.put("/v1/rules/HK", content=sg_pack(client, auth, "x"), headers=headers)
    assert wrong_pack.status_code == 422 and "'SG'" in wrong_pack.json()["detail"][0]["msg"]
    bad_time = client.put(
        "/v1/rules/SG", content=sg_pack(client, auth, "y"), params={"effective_from": "soon"},
        headers=headers,
    )  # fmt: skip
    assert bad_time.json()["detail"][0]["loc"] == ["query", "effective_from"]
    assert client.get("/v1/rules/SG", headers=headers).json() == before


# --- limits, health, metrics, documentation -----------------------------------------------------


def test_an_oversize_body_is_refused_before_it_is_read(
    make_client: Callable[..., TestClient], engine: Engine, auth: Auth
) -> None:
    client = make_client(engine, max_body_bytes=2_048)
    headers = auth("root")
    big = payment("big", note="x" * 4_096)
    declared = client.post("/v1/decisions", json=big, headers=headers)
    assert declared.status_code == 413 and "2,048 bytes" in declared.json()["detail"]
    body = json.dumps(big).encode()
    chunks = (body[i : i + 1_000] for i in range(0, len(body), 1_000))
    chunked = client.post("/v1/decisions", content=chunks, headers=headers)
    assert chunked.status_code == 413 and "detail" in chunked.json()
    label = {"txn_id": "big", "is_fraud": False, "source": "analyst"}
    assert client.post("/v1/feedback", json=label, headers=headers).status_code == 404
    assert client.post("/v1/decisions", json=payment(), headers=headers).status_code == 200


def test_health_reports_versions_and_counts(client: TestClient, auth: Auth, engine: Engine) -> None:
    client.post("/v1/decisions", json=payment(), headers=auth("decider"))
    health = client.get("/v1/health").json()
    assert health["status"] == "ok"
    assert health["model_bundle_version"] == engine.bundle.version
    assert health["rule_packs"]["SG"] == "sg-2026.01.1" and "base" in health["rule_packs"]
    assert health["uptime_s"] >= 0 and health["decisions_served"] == 1


def test_metrics_count_decisions_layer_latency_and_errors(client: TestClient, auth: Auth) -> None:
    client.post("/v1/decisions", json=payment(), headers=auth("decider"))
    client.post("/v1/decisions", json=payment())  # 401
    client.post("/v1/decisions", json=payment(amount=0), headers=auth("decider"))  # 422
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for s in family.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    assert (
        sum(value("vigil_decisions_total", action=a) for a in ("approve", "review", "decline")) == 1
    )
    for layer in ("total", "features", "rules", "model", "policy"):
        assert value("vigil_decision_latency_seconds_count", layer=layer) == 1
    assert ("vigil_decisions_degraded_total", ()) in samples
    assert value("vigil_http_errors_total", status="401") == 1
    assert value("vigil_http_errors_total", status="422") == 1
    assert value("vigil_http_request_duration_seconds_count", route="/v1/decisions") == 3


def test_a_crash_in_the_decision_route_is_a_counted_500_without_details(
    make_client: Callable[..., TestClient], engine: Engine, auth: Auth, monkeypatch
) -> None:
    """The decision route is taken before routing: the same 500 handler and metrics apply."""

    def broken(txn: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(engine, "decide", broken)
    client = make_client(engine)
    answer = TestClient(client.app, raise_server_exceptions=False).post(
        "/v1/decisions", json=payment(), headers=auth("decider")
    )
    assert (answer.status_code, answer.json()) == (500, {"detail": "internal server error"})
    metrics = client.get("/metrics").text
    assert 'vigil_http_errors_total{status="500"} 1.0' in metrics
    assert 'vigil_http_request_duration_seconds_count{route="/v1/decisions"} 1.0' in metrics


def test_under_a_root_path_decisions_take_the_router(
    make_client: Callable[..., TestClient], engine: Engine, auth: Auth
) -> None:
    client = make_client(engine)
    routed = TestClient(client.app, root_path="/vigil")
    answer = routed.post("/vigil/v1/decisions", json=payment(), headers=auth("decider"))
    assert answer.status_code == 200 and answer.json()["txn_id"] == "api-1"
    assert routed.post("/vigil/v1/decisions", json=payment()).status_code == 401


def test_openapi_documents_every_route_and_its_bodies(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    routes = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert routes >= {
        ("/v1/decisions", "post"),
        ("/v1/feedback", "post"),
        ("/v1/rules/{jurisdiction}", "get"),
        ("/v1/rules/{jurisdiction}", "put"),
        ("/v1/health", "get"),
        ("/metrics", "get"),
    }
    body = doc["paths"]["/v1/decisions"]["post"]["requestBody"]["content"]["application/json"]
    assert {"single", "batch"} <= set(body["examples"])
    refs = {r["$ref"].rsplit("/", 1)[1] for r in body["schema"]["oneOf"]}
    assert refs == {"TransactionIn", "DecisionBatchIn"}
    assert set(doc["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    for path, method in routes:
        secured = path.startswith("/v1/") and path != "/v1/health"
        assert ("security" in doc["paths"][path][method]) == secured, (path, method)
    text = json.dumps(doc)
    for ref in {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}:
        assert ref in doc["components"]["schemas"], ref
    assert client.get("/docs").status_code == 200


def test_documented_models_match_the_data_contract(client: TestClient, auth: Auth) -> None:
    live = [c for c in TRANSACTIONS.columns if not c.label]
    assert set(TransactionIn.model_fields) == {c.name for c in live}
    required = {n for n, f in TransactionIn.model_fields.items() if f.is_required()}
    assert required == {c.name for c in live if c.required}
    TransactionIn.model_validate(payment())
    decision = client.post("/v1/decisions", json=payment(), headers=auth("decider")).json()
    assert set(DecisionOut.model_validate(decision).model_dump()) == set(decision)
