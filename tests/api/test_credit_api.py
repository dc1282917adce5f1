"""`POST /v1/credit/score` mounted on a bare FastAPI app: keys and scopes, validation with field
paths, unknown firms, no model loaded, and scores by id and by record."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl
import pytest
from fastapi import FastAPI

from vigil.api.auth import KeyRing
from vigil.api.credit import credit_router
from vigil.credit.features import CreditHistory, loan_features
from vigil.credit.scoring import CreditScorer
from vigil.credit.train import TrainConfig, fit, training_loans
from vigil.world.sme import build_sme

with warnings.catch_warnings():  # Starlette asks for httpx2; these tests run on httpx
    warnings.filterwarnings("ignore", message=r".*install `httpx2`")
    from fastapi.testclient import TestClient

Auth = Callable[[str], dict[str, str]]
URL = "/v1/credit/score"
NO_ACCOUNTS = pl.DataFrame(
    schema={
        "account_id": pl.String,
        "kind": pl.String,
        "name": pl.String,
        "country": pl.String,
        "created_at": pl.Datetime("us", "UTC"),
        "sector": pl.String,
    }
)


@pytest.fixture(scope="module")
def world() -> dict[str, pl.DataFrame]:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    return build_sme(np.random.default_rng(8), NO_ACCOUNTS, start, 30, n_businesses=1_500)


@pytest.fixture(scope="module")
def scorer(world: dict[str, pl.DataFrame]) -> CreditScorer:
    history = CreditHistory(world["businesses"], world["trade"], world["loans"])
    config = TrainConfig()
    loans = training_loans(history, world["loans"], config)
    return CreditScorer(fit(history, loans, config, loan_features(history, loans)), history)


@pytest.fixture
def client(scorer: CreditScorer, keys: KeyRing) -> TestClient:
    app = FastAPI()
    app.include_router(credit_router(lambda: scorer, keys))
    return TestClient(app)


def _record(world: dict[str, pl.DataFrame]) -> dict[str, Any]:
    firm = world["businesses"].row(3, named=True)
    partner = world["businesses"]["business_id"][7]
    return {
        "business": {
            "business_id": "NEW-77",
            "sector": firm["sector"],
            "country": firm["country"],
            "founded_at": "2018-06-01T00:00:00Z",
            "employees": 9,
            "annual_revenue": firm["annual_revenue"],
            "currency": firm["currency"],
        },
        "trade": [
            {
                "supplier_id": "NEW-77",
                "buyer_id": partner,
                "ts": "2024-12-02T10:00:00Z",
                "amount": 2_000_000,
                "currency": firm["currency"],
            },
            {
                "supplier_id": partner,
                "buyer_id": "NEW-77",
                "ts": "2024-12-20T10:00:00",
                "amount": 800_000,
                "currency": firm["currency"],
            },
        ],
        "loan": {"amount": 5_000_000, "currency": firm["currency"], "term_days": 180},
        "as_of": "2025-01-15T00:00:00Z",
    }


def test_scores_a_known_firm_by_id(
    client: TestClient, auth: Auth, world: dict[str, pl.DataFrame]
) -> None:
    firm = world["loans"]["business_id"][-1]
    reply = client.post(URL, json={"business_id": firm}, headers=auth("decider"))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["business_id"] == firm and 0 < body["pd"] < 1 and body["known_firm"]
    assert body["grade"] in "ABCDEFGH" and body["loan"]["assumed"]
    assert body["scaling"] == {"base_score": 600.0, "base_odds": 50.0, "pdo": 20.0}
    for reason in body["reasons"]:
        assert set(reason) == {"code", "reason", "points", "detail"} and reason["points"] > 0
    # An explicit loan and moment are honoured.
    loan = {"amount": 10_000_000, "currency": "SGD", "term_days": 90}
    again = client.post(
        URL,
        json={"business_id": firm, "loan": loan, "as_of": "2024-11-01T00:00:00Z"},
        headers=auth("root"),
    )
    assert again.status_code == 200 and again.json()["as_of"] == "2024-11-01T00:00:00Z"
    assert again.json()["loan"] == {**loan, "assumed": False}


def test_scores_a_record_with_its_trade(
    client: TestClient, auth: Auth, world: dict[str, pl.DataFrame]
) -> None:
    reply = client.post(URL, json=_record(world), headers=auth("decider"))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["business_id"] == "NEW-77" and not body["known_firm"] and 0 < body["pd"] < 1


def test_keys_and_scopes(client: TestClient, auth: Auth) -> None:
    body = {"business_id": "B0000001"}
    assert client.post(URL, json=body).status_code == 401
    assert client.post(URL, json=body, headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.post(URL, json=body, headers=auth("labeller")).status_code == 403
    assert client.post(URL, json=body, headers=auth("operator")).status_code == 403


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        (lambda b: b.pop("business"), ["body"]),  # neither id nor record
        (lambda b: b.update(business_id="B0000001"), ["body"]),  # both
        (
            lambda b: b["business"].update(founded_at="last spring"),
            ["body", "business", "founded_at"],
        ),
        (lambda b: b["business"].update(annual_revenue=-5), ["body", "business", "annual_revenue"]),
        (lambda b: b["loan"].update(term_days=0), ["body", "loan", "term_days"]),
        (lambda b: b["loan"].update(currency="XYZ"), ["body", "loan", "currency"]),
        (lambda b: b["trade"][1].update(amount="lots"), ["body", "trade", 1, "amount"]),
        (lambda b: b["trade"][1].update(buyer_id="SOMEONE"), ["body", "trade", 1]),
        (lambda b: b.update(colour="blue"), ["body", "colour"]),
    ],
)
def test_bad_input_is_422_naming_the_field(
    client: TestClient, auth: Auth, world: dict[str, pl.DataFrame], change, loc
) -> None:
    body = _record(world)
    change(body)
    reply = client.post(URL, json=body, headers=auth("decider"))
    assert reply.status_code == 422, reply.text
    assert loc in [problem["loc"] for problem in reply.json()["detail"]]


def test_malformed_json_unknown_firm_and_no_model(
    scorer: CreditScorer, keys: KeyRing, client: TestClient, auth: Auth
) -> None:
    reply = client.post(URL, content=b"{not json", headers=auth("decider"))
    assert reply.status_code == 400 and reply.json()["detail"][0]["type"] == "json_invalid"
    assert (
        client.post(URL, json={"business_id": "NOPE"}, headers=auth("decider")).status_code == 404
    )
    empty = FastAPI()
    empty.include_router(credit_router(lambda: None, keys))
    reply = TestClient(empty).post(URL, json={"business_id": "x"}, headers=auth("decider"))
    assert reply.status_code == 503


def test_the_route_is_documented(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    route = spec["paths"][URL]["post"]
    assert {"401", "403", "404", "422"} <= set(route["responses"])
    assert route["security"]


def test_the_request_schema_is_self_contained(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"][URL]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "$defs" not in str(body) and "business" in body["properties"]
