"""Rule-pack changes reach the trail with who made them: at start-up, through the API's
`PUT /v1/rules/{jurisdiction}` (the key id), and by a rollback; on both backends."""

from __future__ import annotations

import warnings
from typing import Any

from vigil.api import ApiKey, ApiSettings, KeyRing, Scope, create_app
from vigil.api.auth import digest
from vigil.audit import rules_audit
from vigil.engine.factory import build_engine
from vigil.rules.pack import PACKS_DIR

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r".*install `httpx2`")
    from fastapi.testclient import TestClient


def test_rule_changes_are_audited_with_their_actor(trail: Any) -> None:
    engine = build_engine(None, None, audit=rules_audit(trail))  # rules only: no bundle
    loaded = list(trail.records())
    assert {r.subject for r in loaded} >= {"base", "SG"}
    assert {(r.actor, r.action) for r in loaded} == {("startup", "rules.load")}

    keys = KeyRing([ApiKey("risk-ops", digest("s-ops"), frozenset({Scope.ADMIN}))])
    text = (PACKS_DIR / "sg.yaml").read_text().replace("sg-2026.01.1", "sg-2026.01.2")
    with TestClient(create_app(engine, ApiSettings(keys=keys))) as client:
        reply = client.put(
            "/v1/rules/SG",
            content=text,
            headers={"X-API-Key": "s-ops", "Content-Type": "application/yaml"},
        )
        assert reply.status_code == 200, reply.text
        refused = client.put("/v1/rules/SG", content="pack: SG\n", headers={"X-API-Key": "s-ops"})
        assert refused.status_code == 422  # a pack that does not compile changes nothing...
    engine.rules.rollback("SG", "cli:alice")

    published, rolled_back = list(trail.records(since=len(loaded)))  # ...and is not audited
    assert (published.actor, published.action, published.subject) == (
        "api:risk-ops",
        "rules.publish",
        "SG",
    )
    assert published.details["version"] == "sg-2026.01.2"
    assert published.details["effective_from"].endswith("Z")
    assert (rolled_back.actor, rolled_back.action) == ("cli:alice", "rules.rollback")
    assert rolled_back.details["version"] == "sg-2026.01.2"
    assert trail.verify().ok
