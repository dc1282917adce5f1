"""The hot-path records validate a single payment the way the readers validate a file."""

from datetime import UTC, datetime

import pytest

from vigil.schema import Decision, FieldError, Reason, Transaction

GOOD = {
    "txn_id": "t1",
    "ts": "2026-02-01T09:30:00+08:00",
    "payer_id": "a1",
    "payee_id": "m9",
    "amount": 4200,
    "currency": "HKD",
    "channel": "card",
    "jurisdiction": "HK",
    "device_id": "d1",
    "is_fraud": True,
    "device_score": 0.9,
}


def test_from_mapping_parses_time_drops_labels_keeps_extras():
    txn = Transaction.from_mapping(GOOD)
    assert txn.ts == datetime(2026, 2, 1, 1, 30, tzinfo=UTC)
    assert txn.extra == {"device_score": 0.9}
    assert "is_fraud" not in txn.to_dict()
    assert txn.to_dict()["ts"] == "2026-02-01T01:30:00Z"


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("amount", -1, "amount > 0"),
        ("amount", 10**25, "amount <= 1e+15"),  # would overflow the engine's 64-bit windows
        ("amount", 12.5, "integer"),
        ("amount", True, "integer"),
        ("amount", None, "required"),
        ("ts", "not a time", "RFC 3339"),
        ("channel", "fax", "expected one of"),
        ("currency", "hkd", "ISO 4217"),
        ("payer_id", 17, "string"),
    ],
)
def test_bad_field_is_named(field, value, words):
    with pytest.raises(FieldError) as caught:
        Transaction.from_mapping({**GOOD, field: value})
    assert caught.value.field == field
    assert words in str(caught.value)


def test_not_an_object():
    with pytest.raises(FieldError, match="expected an object"):
        Transaction.from_mapping(["t1"])  # type: ignore[arg-type]


def test_decision_refuses_unknown_action_and_bad_score():
    common = dict(
        txn_id="t1",
        decided_at=datetime(2026, 1, 1, tzinfo=UTC),
        reasons=[Reason("rules", "R1", "big", 0.5)],
        jurisdiction="SG",
        rule_pack_version="sg-1",
        model_bundle_version=None,
        degraded=False,
        latency_us={"total": 300},
    )
    assert Decision(action="review", score=0.4, **common).to_dict()["reasons"][0]["code"] == "R1"
    with pytest.raises(FieldError, match="action"):
        Decision(action="maybe", score=0.4, **common)
    with pytest.raises(FieldError, match="score"):
        Decision(action="approve", score=1.5, **common)
