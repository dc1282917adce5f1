"""Personal data leaves the API's log as keyed tokens: captured from the logging configuration
`vigil serve` installs, after a few real requests (a payment held for review, a bad body, a
refused key, an oversize body), no raw IP, device, account or name is in the text, and each
entity's token is, the same on every line."""

from __future__ import annotations

import io
import logging
import logging.config
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from vigil.api import ApiSettings, create_app
from vigil.audit.pii import PII_FIELDS, Pii, PiiFilter, Tokeniser, log_config
from vigil.engine.pipeline import Engine

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r".*install `httpx2`")
    from fastapi.testclient import TestClient

SECRET = "a-test-log-secret-of-some-length"
CALLER_IP = "203.0.113.99"
PAYMENT = {
    "txn_id": "pii-1",
    "ts": "2026-01-09T09:30:00+08:00",
    "payer_id": "P00000487",
    "payee_id": "M00000905",
    "amount": 2_500_000,  # over SG's large-value threshold: held for review, so logged
    "currency": "SGD",
    "channel": "card",
    "jurisdiction": "SG",
    "device_id": "D-secret-device",
    "ip": "198.51.100.23",
    "payer_name": "Tan Ah Kow",
}
RAW = ["P00000487", "M00000905", "D-secret-device", "198.51.100.23", CALLER_IP, "Tan Ah Kow"]
LOGGERS = ["", "vigil", "uvicorn", "uvicorn.error", "uvicorn.access"]


@pytest.fixture
def served_logs() -> Iterator[io.StringIO]:
    """`vigil serve`'s logging configuration, writing into a buffer; restored afterwards."""
    saved = {
        name: (list(lg.handlers), lg.level, lg.propagate)
        for name, lg in ((n, logging.getLogger(n)) for n in LOGGERS)
    }
    config = log_config(SECRET)
    assert all("pii" in handler["filters"] for handler in config["handlers"].values())
    logging.config.dictConfig(config)
    buffer = io.StringIO()
    for name in ("vigil", "uvicorn", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            handler.setStream(buffer)
    yield buffer
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


def test_api_logs_carry_tokens_not_personal_data(
    served_logs: io.StringIO, rules_only_engine: Engine, keys: Any, auth: Any
) -> None:
    app = create_app(rules_only_engine, ApiSettings(keys=keys, max_body_bytes=10_000))
    with TestClient(app, client=(CALLER_IP, 50000)) as client:
        held = client.post("/v1/decisions", json=PAYMENT, headers=auth("decider"))
        assert held.status_code == 200 and held.json()["action"] == "review"
        approved = client.post(
            "/v1/decisions",
            json={**PAYMENT, "txn_id": "pii-2", "amount": 100},
            headers=auth("decider"),
        )
        assert approved.json()["action"] == "approve"
        bad = {**PAYMENT, "txn_id": "pii-3", "payer_id": ["Tan Ah Kow"]}
        assert client.post("/v1/decisions", json=bad, headers=auth("decider")).status_code == 422
        assert client.post("/v1/decisions", json=PAYMENT).status_code == 401
        assert client.get("/v1/rules/SG", headers=auth("decider")).status_code == 403
        big = b"x" * 20_000
        assert client.post("/v1/decisions", content=big, headers=auth("decider")).status_code == 413
    text = served_logs.getvalue()
    lines = text.splitlines()
    tokens = Tokeniser(SECRET)
    for raw in RAW:
        assert raw not in text, raw
    decision_lines = [line for line in lines if "review pii-1" in line]
    assert len(decision_lines) == 1 and "pii-2" not in text  # approvals are not logged
    for value in ("P00000487", "M00000905", "D-secret-device", "198.51.100.23"):
        assert tokens.token(value) in decision_lines[0], value
    assert "reasons=large_value_report" in decision_lines[0]
    caller = tokens.token(CALLER_IP)
    assert [line.split(" from ")[0].split()[-3:] for line in lines if caller in line] == [
        ["422", "POST", "/v1/decisions"],
        ["401", "POST", "/v1/decisions"],
        ["403", "GET", "/v1/rules/SG"],
        ["413", "POST", "/v1/decisions"],
    ]
    assert "body.payer_id" in text  # the field is named, its value is not


def _record(msg: Any, *args: Any, **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("vigil.test", logging.INFO, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


def _scrubbed(record: logging.LogRecord) -> str:
    PiiFilter(SECRET).filter(record)
    return (
        logging.Formatter("%(message)s %(device_id)s").format(record)
        if hasattr(record, "device_id")
        else logging.Formatter().format(record)
    )


def test_the_filter_tokenises_marked_named_and_shaped_values() -> None:
    tokens = Tokeniser(SECRET)
    marked = _scrubbed(_record("payer %s paid", Pii("P1")))
    assert marked == f"payer {tokens.token('P1')} paid"
    named = _scrubbed(_record("account %s", {"account_id": "A9", "name": "Lim", "kyc": 2}))
    assert "A9" not in named and "Lim" not in named and "'kyc': 2" in named
    assert tokens.token("Lim") in named
    extra = _scrubbed(_record("seen", device_id="D-77"))
    assert extra == f"seen {tokens.token('D-77')}"
    shapes = _scrubbed(_record("from 10.1.2.3 and 2001:db8::7 at 09:30:00, v1.2.3"))
    assert shapes == (
        f"from {tokens.token('10.1.2.3')} and {tokens.token('2001:db8::7')} at 09:30:00, v1.2.3"
    )
    own = _scrubbed(_record("listening on http://127.0.0.1:8000 and [::1]:8000, 0.0.0.0"))
    assert own == "listening on http://127.0.0.1:8000 and [::1]:8000, 0.0.0.0"  # no one's
    access = _scrubbed(_record('%s - "%s"', "192.0.2.4:5123", "GET /v1/health"))
    assert access == f'{tokens.token("192.0.2.4")}:5123 - "GET /v1/health"'
    assert {"payer_id", "device_id", "ip", "name"} <= PII_FIELDS


def test_tracebacks_are_scrubbed_and_marks_hide_without_the_filter() -> None:
    accounts: dict[str, int] = {}
    payer, device, ip = "P00000487", "D-77", "198.51.100.1"  # values, as a real crash has them
    try:
        try:
            accounts[payer]
        except KeyError as error:
            raise ValueError(f"cannot reach {ip} for device {device!r}") from error
    except ValueError:
        import sys

        record = logging.LogRecord(
            "vigil.t", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    text = _scrubbed(record)
    tokens = Tokeniser(SECRET)
    for raw in (payer, device, ip):
        assert raw not in text and tokens.token(raw) in text, raw
    assert "accounts[payer]" in text  # the frames' source lines are code, left as they are
    assert f"{Pii('P1')}" == "[pii]"  # a forgotten filter hides the value, never leaks it
    other = Tokeniser("another-secret-of-some-length")
    assert other.token("P1") != Tokeniser(SECRET).token("P1")  # keyed: no lookup table
