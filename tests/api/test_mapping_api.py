"""The API with a column mapping and a model that reads extra columns: requests in the user's
own names are decided; one lacking a column the model marks required is refused with 422
naming the field; a missing optional extra column is simply missing."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from vigil.engine.pipeline import Engine
from vigil.features.extras import ExtraFeatures
from vigil.features.online import OnlineFeatures
from vigil.rules.pack import PACKS_DIR, context_names
from vigil.rules.registry import RuleRegistry
from vigil.schema.mapping import ColumnMapping

MAPPING = """\
transactions:
  columns:
    txn_id: auth_ref
    ts: {column: epoch_s, unit: s}
    payer_id: [bank, acct]
    payee_id: merchant
    amount: {column: amt, units: major}
    currency: SGD
    channel: card
    jurisdiction: SG
  features:
    required: [device_score]
"""


@pytest.fixture
def engine() -> Engine:
    mapping = ColumnMapping.parse(MAPPING, "acme.yaml")
    history = pl.DataFrame({"txn_id": ["a", "b"], "device_score": [0.1, 0.9], "avs": ["Y", "N"]})
    block = ExtraFeatures.fit(history, selection=mapping.features)
    return Engine(
        OnlineFeatures(blocks=[block]), RuleRegistry(PACKS_DIR, context_names()), bundle=None
    )


def request(**change):
    base = {"auth_ref": "A1", "epoch_s": int(datetime(2026, 1, 5, tzinfo=UTC).timestamp()),
            "bank": "010", "acct": "77", "merchant": "M9", "amt": 12.5, "device_score": 0.4,
            "avs": "N"}  # fmt: skip
    return {k: v for k, v in {**base, **change}.items() if v is not None}


def test_mapped_requests_are_decided(make_client, engine, auth):
    client = make_client(engine, mapping=ColumnMapping.parse(MAPPING, "acme.yaml"))
    answer = client.post("/v1/decisions", json=request(), headers=auth("decider"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["txn_id"] == "A1"
    assert client.post("/v1/decisions", json=request(auth_ref="A2", avs=None),
                       headers=auth("decider")).status_code == 200  # fmt: skip


def test_a_request_lacking_a_required_extra_column_is_refused(make_client, engine, auth):
    client = make_client(engine, mapping=ColumnMapping.parse(MAPPING, "acme.yaml"))
    answer = client.post("/v1/decisions", json=request(device_score=None), headers=auth("decider"))
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "device_score"]
    batch = {"transactions": [request(), request(auth_ref="A2", acct=None)]}
    answer = client.post("/v1/decisions", json=batch, headers=auth("decider"))
    assert answer.status_code == 422
    detail = answer.json()["detail"][0]
    assert detail["loc"] == ["body", "transactions", 1, "acct"] and "payer_id" in detail["msg"]


def test_without_a_mapping_requests_use_the_contract_names(make_client, engine, auth):
    client = make_client(engine)
    payment = {"txn_id": "C1", "ts": "2026-01-05T00:00:00Z", "payer_id": "P", "payee_id": "M",
               "amount": 100, "currency": "SGD", "channel": "card", "jurisdiction": "SG"}  # fmt: skip
    assert client.post("/v1/decisions", json=payment, headers=auth("decider")).status_code == 422
    answer = client.post("/v1/decisions", json={**payment, "device_score": 0.3},
                         headers=auth("decider"))  # fmt: skip
    assert answer.status_code == 200, answer.text
