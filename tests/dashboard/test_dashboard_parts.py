"""The dashboard's parts without a browser: passwords, sessions, the live feed, drift."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import numpy as np
import pytest

from vigil.dashboard.feed import DecisionFeed
from vigil.dashboard.history import psi
from vigil.dashboard.session import SessionSigner
from vigil.dashboard.users import Role, UserBook, UserFileError, check_password, hash_password
from vigil.schema.records import Decision, Transaction


def test_passwords_are_stored_as_salted_scrypt_and_checked():
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$") and "correct horse" not in stored
    assert stored != hash_password("correct horse")  # a fresh salt each time
    assert check_password("correct horse", stored)
    assert not check_password("correct hors", stored)
    assert not check_password("x", "not-a-hash")


def test_users_file_names_the_bad_entry(tmp_path):
    path = tmp_path / "users.yaml"
    path.write_text(f"users:\n  - {{name: ana, role: analyst, password: '{hash_password('p')}'}}\n")
    book = UserBook.load(path)
    assert book.authenticate("ana", "p").role is Role.ANALYST
    assert book.authenticate("ana", "q") is None and book.authenticate("bob", "p") is None
    path.write_text("users:\n  - {name: bob, role: boss, password: 'scrypt$x'}\n")
    with pytest.raises(UserFileError, match=r"users\[0\] \(bob\): 'role'"):
        UserBook.load(path)
    path.write_text("users:\n  - {name: bob, role: admin, password: 'plain'}\n")
    with pytest.raises(UserFileError, match="never the password"):
        UserBook.load(path)


def test_a_session_cookie_cannot_be_forged_or_outlive_its_time():
    signer = SessionSigner(b"k" * 32, lifetime_s=60)
    cookie = signer.issue("ana", "analyst", now=1_000.0)
    assert signer.read(cookie, now=1_030.0).user == "ana"
    assert signer.read(cookie, now=1_061.0) is None  # expired
    _, mac = cookie.rsplit(".", 1)
    forged = SessionSigner(b"z" * 32).issue("ana", "admin", now=1_000.0).rsplit(".", 1)[0]
    assert signer.read(f"{forged}.{mac}", now=1_030.0) is None
    assert signer.read(cookie[:-1] + ("A" if cookie[-1] != "A" else "B"), now=1_030.0) is None
    assert signer.read(None) is None and signer.read("garbage") is None


def test_psi_is_near_zero_on_the_same_distribution_and_large_on_a_shift():
    rng = np.random.default_rng(3)
    reference = rng.beta(1, 30, 20_000)
    assert psi(reference, rng.beta(1, 30, 5_000))["psi"] < 0.02
    assert psi(reference, rng.beta(1, 8, 5_000))["psi"] > 0.25


def _decision(i: int) -> tuple[Transaction, Decision]:
    txn = Transaction.from_mapping(
        {
            "txn_id": f"t{i}",
            "ts": "2026-01-05T10:00:00Z",
            "payer_id": "A1",
            "payee_id": "A2",
            "amount": 1_000 + i,
            "currency": "SGD",
            "channel": "card",
            "jurisdiction": "SG",
        }
    )
    decision = Decision(
        txn_id=txn.txn_id,
        decided_at=datetime.now(UTC),
        action="approve",
        score=0.01,
        reasons=[],
        jurisdiction="SG",
        rule_pack_version="sg-1",
        model_bundle_version=None,
        degraded=False,
        latency_us={"total": 100},
        shadow_reasons=[],
    )
    return txn, decision


def test_the_feed_keeps_a_bounded_window_and_wakes_a_listener_once_per_burst():
    feed = DecisionFeed(capacity=5)
    for i in range(8):
        feed.publish(*_decision(i))
    assert [e.txn.txn_id for e in feed.recent()] == ["t3", "t4", "t5", "t6", "t7"]
    assert feed.get("t0") is None and feed.get("t7").seq == 8

    async def listen() -> list[str]:
        listener = feed.subscribe()
        seen = feed.seq
        for i in range(8, 11):  # a burst from this thread: one wake-up pending, not three
            feed.publish(*_decision(i))
        assert listener.signalled
        await asyncio.wait_for(listener.event.wait(), 1)
        feed.unsubscribe(listener)
        return [e.txn.txn_id for e in feed.since(seen)]

    assert asyncio.run(listen()) == ["t8", "t9", "t10"]
    assert feed.listeners == 0


def test_history_that_cannot_be_built_says_why(tmp_path):
    from vigil.dashboard.history import History

    history = History(tmp_path, bundle=None)
    history.start()
    assert history.wait(120)
    assert history.status == "failed" and "transactions" in history.error
    with pytest.raises(LookupError, match="failed"):
        history.recent()
