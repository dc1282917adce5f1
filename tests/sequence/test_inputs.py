"""The per-event inputs: present flags on sparse rows, session changes, bounded novelty."""

from datetime import UTC, datetime, timedelta

import pytest

from vigil.schema.records import Transaction
from vigil.sequence.inputs import INPUT_NAMES, AccountState, EventInputs

START = datetime(2026, 1, 5, tzinfo=UTC)


def txn(minute: int, payee: str = "M1", **fields) -> Transaction:
    base = {
        "txn_id": f"T{minute}",
        "ts": START + timedelta(minutes=minute),
        "payer_id": "P1",
        "payee_id": payee,
        "amount": 1_234,
        "currency": "SGD",
        "channel": None,
        "jurisdiction": None,
    }
    return Transaction(**{**base, **fields})


def named(x: list[float]) -> dict[str, float]:
    return dict(zip(INPUT_NAMES, x, strict=True))


@pytest.fixture
def inputs() -> EventInputs:
    return EventInputs(mcc_buckets=16, peers=3, devices=2, ips=2)


def test_sparse_row_gives_zeros_with_flags_off(inputs):
    x, bucket = inputs.step(AccountState(), txn(0), incoming=False)
    values = named(x)
    assert bucket == 0
    assert values["first_event"] == 1.0 and values["log_gap"] == 0.0
    for flag in ("device_known", "ip_known", "countries_known", "cross_border"):
        assert values[flag] == 0.0
    assert not any(values[f"channel_{c}"] for c in ("card", "wallet", "transfer"))
    assert values["log_usd"] > 0


def test_device_change_and_novelty_come_from_own_payments_only(inputs):
    state = AccountState()
    seen = []
    for minute, device in enumerate(["d1", "d2", "d1", "d3", "d4", "d1"]):
        values = named(inputs.step(state, txn(minute, device_id=device), incoming=False)[0])
        seen.append((values["device_changed"], values["device_new"]))
    # d1 is forgotten once two newer devices (the cap) were used after it
    assert seen == [(0, 1), (1, 1), (1, 0), (1, 1), (1, 1), (1, 1)]
    # money in carries the payer's device: not this account's session
    before = list(state.devices)
    values = named(inputs.step(state, txn(9, device_id="d9"), incoming=True)[0])
    assert values["device_known"] == 0.0 and state.devices == before


def test_counterparty_memory_is_capped(inputs):
    state = AccountState()
    for i, payee in enumerate(["A", "B", "A", "C", "D", "E"]):
        inputs.step(state, txn(i, payee=payee), incoming=False)
    assert len(state.peers) == 3
    assert named(inputs.step(state, txn(10, payee="E"), incoming=False)[0])["peer_repeat"] == 1.0
    assert named(inputs.step(state, txn(11, payee="A"), incoming=False)[0])["peer_new"] == 1.0


def test_gap_direction_and_cross_border(inputs):
    state = AccountState()
    inputs.step(state, txn(0), incoming=False)
    values = named(
        inputs.step(
            state,
            txn(60, payer_country="SG", payee_country="MY", channel="card", mcc="5411"),
            incoming=True,
        )[0]
    )
    assert values["incoming"] == 1.0 and values["first_event"] == 0.0
    assert values["log_gap"] > 0 and values["channel_card"] == 1.0
    assert values["countries_known"] == 1.0 and values["cross_border"] == 1.0
    assert state.events == 2 and state.last_country == "SG"  # money in: where it came from
