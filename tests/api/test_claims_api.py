"""`POST /v1/claims/score`: keys and scopes, validation with field paths, scored answers with
reasons, idempotent repeats, conflicts, batches, and no model loaded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fastapi import FastAPI
from fastapi.testclient import TestClient

from vigil.api import KeyRing
from vigil.api.claims import claims_router
from vigil.graph.claims import (
    ClaimsConfig,
    ClaimsHistory,
    ClaimsModel,
    ClaimsScorer,
    fit_model,
    simulate_claims,
    time_split,
)
from vigil.graph.store import to_micros
from vigil.schema.io import read_table

Auth = Callable[[str], dict[str, str]]
START = datetime(2026, 1, 1, tzinfo=UTC)
END = START + timedelta(days=120)
CONFIG = ClaimsConfig(epochs=2, hidden=16, batch_size=128)


@pytest.fixture(scope="module")
def claims(tmp_path_factory) -> Any:
    out: Path = tmp_path_factory.mktemp("claims-world")
    simulate_claims(out, accounts=6_000, days=120, seed=3, start=START)
    return read_table(out, "claims").sort("ts", maintain_order=True)


@pytest.fixture(scope="module")
def model(claims) -> ClaimsModel:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    history = ClaimsHistory.of(claims, CONFIG)
    split = time_split(history, to_micros(START + timedelta(days=100)), CONFIG.validation_share)
    trained = fit_model(history, split, "geniepath", CONFIG)
    torch.set_num_threads(before)
    return trained


@pytest.fixture
def scorer(claims, model) -> ClaimsScorer:
    return ClaimsScorer(model, ClaimsHistory.of(claims, CONFIG))


@pytest.fixture
def client(keys: KeyRing, scorer: ClaimsScorer) -> TestClient:
    app = FastAPI()
    app.include_router(claims_router(lambda: scorer, keys))
    with TestClient(app) as test_client:
        yield test_client


def claim(claim_id: str = "API-1", **fields: Any) -> dict[str, Any]:
    """A valid claim filed a day after the history ends."""
    return {
        "claim_id": claim_id,
        "ts": (END + timedelta(days=1)).isoformat(),
        "policy_id": "POL-M-999999999",
        "claimant_id": "P-API-1",
        "amount": 185_000,
        "currency": "SGD",
        "provider_id": "GAR-SG-00001",
        "phone": "+6500000001",
        "address_id": "ADR-API-1",
        "bank_account": "SG-API-1",
        **fields,
    }


# --- keys and scopes ----------------------------------------------------------------------------


def test_the_route_wants_a_known_key_with_the_decide_scope(client: TestClient, auth: Auth):
    missing = client.post("/v1/claims/score", json=claim())
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    unknown = client.post("/v1/claims/score", json=claim(), headers={"X-API-Key": "nope"})
    assert unknown.status_code == 401
    labeller = client.post("/v1/claims/score", json=claim(), headers=auth("labeller"))
    assert labeller.status_code == 403
    assert "'decide'" in labeller.json()["detail"]
    assert client.post("/v1/claims/score", json=claim(), headers=auth("decider")).status_code == 200


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({k: v for k, v in claim().items() if k != "claimant_id"}, ["body", "claimant_id"]),
        (claim(amount=-5), ["body", "amount"]),
        (claim(amount="185000"), ["body", "amount"]),
        (claim(currency="XXX"), ["body", "currency"]),
        (claim(ts="yesterday"), ["body", "ts"]),
        (claim(bank_acount="SG1"), ["body", "bank_acount"]),
        ({"claims": [claim("B-1"), claim("B-2", amount=0)]}, ["body", "claims", 1, "amount"]),
        ({"claims": []}, ["body", "claims"]),
    ],
)
def test_invalid_claims_are_refused_with_the_field_path(
    client: TestClient, auth: Auth, body: dict[str, Any], loc: list[Any]
):
    response = client.post("/v1/claims/score", json=body, headers=auth("decider"))
    assert response.status_code == 422
    problems = response.json()["detail"]
    assert loc in [p["loc"] for p in problems]
    assert all("input" not in p for p in problems)  # the claim is never echoed back


def test_malformed_json_is_a_400(client: TestClient, auth: Auth):
    response = client.post(
        "/v1/claims/score",
        content=b"{not json",
        headers={**auth("decider"), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["detail"][0]["type"] == "json_invalid"


# --- scoring ------------------------------------------------------------------------------------


def test_a_claim_paid_into_a_confirmed_fraud_account_is_scored_with_that_reason(
    client: TestClient, auth: Auth, scorer: ClaimsScorer
):
    history = scorer.history
    fraud = np.flatnonzero((history.label == 1) & (history.label_at < to_micros(END)))
    mule = history.frame.row(int(fraud[-1]), named=True)["bank_account"]
    response = client.post(
        "/v1/claims/score", json=claim(bank_account=mule), headers=auth("decider")
    )
    assert response.status_code == 200
    body = response.json()
    assert body["claim_id"] == "API-1"
    assert 0.0 <= body["fraud_probability"] <= 1.0
    assert body["hint"] in ("pay", "review", "investigate")
    assert body["model_version"].startswith("claims-geniepath-")
    shared = [r for r in body["reasons"] if r["code"] == "shared_bank_account"]
    assert shared and f"shares payout account {mule}" in shared[0]["detail"]
    assert "already confirmed fraudulent" in shared[0]["detail"]


def test_a_batch_is_scored_in_order_and_later_claims_see_earlier_ones(
    client: TestClient, auth: Auth
):
    ts = END + timedelta(days=2)
    batch = [
        claim(f"R-{i}", claimant_id=f"P-R-{i}", address_id=f"ADR-R-{i}",
              phone=f"+650000010{i}", bank_account="MULE-NEW", ts=(ts + timedelta(hours=i)).isoformat())
        for i in range(4)
    ]  # fmt: skip
    response = client.post("/v1/claims/score", json={"claims": batch}, headers=auth("decider"))
    assert response.status_code == 200
    scores = response.json()["scores"]
    assert [s["claim_id"] for s in scores] == ["R-0", "R-1", "R-2", "R-3"]
    codes = [{r["code"] for r in s["reasons"]} for s in scores]
    assert "shared_bank_account" not in codes[0]  # the first one shares nothing yet
    assert "shared_bank_account" in codes[3]  # the fourth shares it with three claimants


def test_a_repeat_is_scored_again_and_a_conflict_is_refused(client: TestClient, auth: Auth):
    first = client.post("/v1/claims/score", json=claim(), headers=auth("decider"))
    again = client.post("/v1/claims/score", json=claim(), headers=auth("decider"))
    assert again.status_code == 200 and again.json() == first.json()
    changed = client.post("/v1/claims/score", json=claim(amount=999), headers=auth("decider"))
    assert changed.status_code == 409
    assert "API-1" in changed.json()["detail"]


def test_without_a_model_the_route_answers_503(keys: KeyRing, auth: Auth):
    app = FastAPI()
    app.include_router(claims_router(lambda: None, keys))
    with TestClient(app) as test_client:
        response = test_client.post("/v1/claims/score", json=claim(), headers=auth("decider"))
    assert response.status_code == 503


def test_the_openapi_document_describes_the_route(client: TestClient):
    document = client.get("/openapi.json").json()
    route = document["paths"]["/v1/claims/score"]["post"]
    body = route["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert "bank_account" in body[0]["properties"]
    assert route["security"]
