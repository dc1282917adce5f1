"""The dashboard end to end in headless Chromium: log in, watch a replay's decisions stream
in, work a ring's case to a true positive and find its labels in the feedback store, publish a
rule change and see the next decision judged by it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

API_KEY = "s-dashboard-test"  # the conftest's key
ADMIN = ("root", "root-secret-1")
ANALYST = ("ana", "ana-secret-1")


def _login(browser: Any, url: str, who: tuple[str, str]) -> Any:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.set_default_timeout(20_000)
    page.goto(f"{url}/login")
    page.fill("#username", who[0])
    page.fill("#password", who[1])
    page.click("#login")
    page.wait_for_selector("#who")
    page.wait_for_function("document.querySelector('#who').textContent.includes('·')")
    return page


def _replay_status(page: Any) -> dict:
    return page.evaluate("fetch('/ui/api/replay').then(r => r.json())")


def _replay_done(server: Any, page: Any) -> dict:
    """Wait (on the server's own status) until the replay the test started has finished."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = page.evaluate("fetch('/ui/api/replay').then(r => r.json())")
        if not status["running"]:
            return status
        time.sleep(0.3)
    raise AssertionError("the replay did not finish within 60 s")


@pytest.fixture(scope="module")
def admin_page(browser: Any, server: Any) -> Iterator[Any]:
    page = _login(browser, server.url, ADMIN)
    yield page
    page.close()


def test_login_refuses_a_wrong_password_and_keeps_pages_behind_it(browser, server):
    page = browser.new_page()
    page.goto(f"{server.url}/")
    assert page.url.endswith("/login")  # not logged in: sent to the login page
    page.fill("#username", "ana")
    page.fill("#password", "wrong")
    page.click("#login")
    page.wait_for_selector("#failed:not([hidden])")
    assert httpx.get(f"{server.url}/ui/api/cases").status_code == 401
    page.close()
    page = _login(browser, server.url, ANALYST)
    assert "ana · analyst" in page.text_content("#who")
    # an analyst may not feed replays or publish rules
    answer = page.evaluate(
        "fetch('/ui/api/replay', {method: 'POST', headers: {'Content-Type': 'application/json'},"
        " body: JSON.stringify({count: 10})}).then(r => r.status)"
    )
    assert answer == 403
    answer = page.evaluate(
        "fetch('/ui/api/rules/sg/publish', {method: 'POST', headers: {'Content-Type':"
        " 'application/json'}, body: JSON.stringify({yaml: 'pack: SG'})}).then(r => r.status)"
    )
    assert answer == 403
    page.close()


def test_decisions_stream_in_while_a_replay_runs(admin_page, server):
    page = admin_page
    page.goto(f"{server.url}/#/live")
    page.wait_for_selector("body[data-stream='open']", state="attached")
    assert page.locator("#live-rows tr").count() == 0
    status = page.evaluate(
        "fetch('/ui/api/replay', {method: 'POST', headers: {'Content-Type': 'application/json'},"
        " body: JSON.stringify({from: '2026-01-01T00:00:00Z', count: 6000, rate: 800})})"
        ".then(r => r.json())"
    )
    assert status["running"] and status["planned"] == 6_000
    # rows arrive over server-sent events while the replay is still running
    page.wait_for_function("document.querySelectorAll('#live-rows tr').length >= 5")
    assert _replay_status(page)["running"], "rows came only after the replay had finished"
    first = page.text_content("#live-rows tr:first-child td:nth-child(2)")
    page.wait_for_function(
        f"document.querySelector('#live-rows tr:first-child td:nth-child(2)').textContent"
        f" !== {json.dumps(first)}"
    )
    done = _replay_done(server, page)
    assert done["error"] is None and done["decided"] == done["planned"]
    assert done["alerts"] > 0  # the AML monitor filed the replay's rings into cases
    # filtering by action, and a decision's page with its reasons, latency and versions
    page.select_option("#f-action", "review")
    page.wait_for_function(
        "[...document.querySelectorAll('#live-rows tr')].every("
        "tr => tr.textContent.includes('review'))"
    )
    page.select_option("#f-action", "")
    page.click("#live-rows tr:first-child td:nth-child(2) a")
    page.wait_for_selector("#pack-version")
    assert page.text_content("#pack-version").strip()
    assert "total" in page.text_content("main")


def test_a_ring_case_is_drawn_and_closed_as_true_positive(admin_page, server):
    page = admin_page
    page.goto(f"{server.url}/#/live")
    _replay_done(server, page)
    cases = page.evaluate("fetch('/ui/api/cases?status=open').then(r => r.json())")["cases"]
    rings = [c for c in cases if "cycle" in c["typologies"]]
    assert rings, f"the replay filed no cycle case: {[c['typologies'] for c in cases]}"
    ring = rings[0]
    page.goto(f"{server.url}/#/cases")
    page.wait_for_selector(f"tr[data-case='{ring['case_id']}']")
    assert page.locator(f"tr[data-case='{ring['case_id']}'] .sla").count() == 1  # SLA clock
    page.click(f"tr[data-case='{ring['case_id']}'] a")
    page.wait_for_function("window.cy && window.cy.nodes().length > 0")
    case = page.evaluate(f"fetch('/ui/api/cases/{ring['case_id']}').then(r => r.json())")
    members = {
        p for a in case["alerts"] for t in a["evidence"] for p in (t["payer_id"], t["payee_id"])
    }
    drawn = set(page.evaluate("window.cy.nodes('.ring').map(n => n.data('key'))"))
    assert members and members <= drawn  # every account of the ring is on the graph
    assert page.evaluate("window.cy.edges('.evidence').length") >= len(members) - 1
    kinds = set(page.evaluate("window.cy.nodes().map(n => n.data('kind'))"))
    assert {"device", "ip"} & kinds  # the ring's devices and addresses around it
    # work it: assign, note, investigate, escalate, close as a true positive
    page.click("#assign-me")
    page.wait_for_selector("#assignee[value='root']")
    page.fill("#note", "Funds go round the ring within hours; shared device.")
    page.click("#add-note")
    page.wait_for_selector("text=Funds go round the ring")
    for step in ("investigating", "escalated", "closed_true_positive"):
        page.click(f"#to-{step}")
        page.wait_for_selector(f"text={step.replace('_', ' ')}")
    page.wait_for_selector("#labels-msg")
    labels = [json.loads(line) for line in server.feedback_log.read_text().splitlines()]
    txn_ids = {t["txn_id"] for a in case["alerts"] for t in a["evidence"]}
    mine = [r for r in labels if r["source"] == f"case:{ring['case_id']}"]
    assert {r["txn_id"] for r in mine} == txn_ids
    assert all(r["is_fraud"] and r["known_to_engine"] for r in mine)
    assert all(r["actor"] == "dashboard:root" for r in mine)


def test_a_published_rule_judges_the_next_decision(admin_page, server):
    page = admin_page
    page.goto(f"{server.url}/#/rules/sg")
    page.wait_for_selector("#yaml")
    original = page.input_value("#yaml")
    # a mistake is shown in place, naming the line
    broken = original.replace("version: sg-2026.01.1", "version: sg-dash.1") + (
        "  - id: SG-DASH-BIG\n    when: amount >> 500000\n    action: decline\n"
    )
    page.fill("#yaml", broken)
    page.click("#check")
    page.wait_for_selector("#pack-error")
    assert "line" in page.text_content("#pack-error")
    assert page.locator("#gutter .bad").count() == 1
    fixed = broken.replace("amount >> 500000", "amount > 500000") + (
        "    reason: dashboard_big_payment\n    weight: 0.5\n"
    )
    page.fill("#yaml", fixed)
    page.click("#check")
    page.wait_for_selector("#pack-ok")
    # backtest beside the live pack, once the history's features are ready
    deadline = time.monotonic() + 60
    while page.evaluate("fetch('/ui/api/rules/sg').then(r => r.json())")["history"] != "ready":
        assert time.monotonic() < deadline, "history not ready in 60 s"
        time.sleep(0.5)
    page.click("#backtest")
    page.wait_for_selector("#backtest-table")
    table = page.text_content("#backtest-table")
    assert "live sg-2026.01.1" in table and "candidate sg-dash.1" in table
    # publish in force from now, then decide a payment through the API
    page.fill("#effective", "")
    page.click("#publish")
    page.wait_for_selector("#pack-ok:has-text('Published sg-dash.1')")
    page.goto(f"{server.url}/#/live")
    page.wait_for_selector("body[data-stream='open']", state="attached")
    txn = {
        "txn_id": "dash-after-publish",
        "ts": datetime.now(UTC).isoformat(),  # the pack is in force from now on
        "payer_id": "A0000001",
        "payee_id": "A0000002",
        "amount": 900_000,
        "currency": "SGD",
        "channel": "transfer",
        "jurisdiction": "SG",
    }
    answer = httpx.post(
        f"{server.url}/v1/decisions", json=txn, headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["rule_pack_version"] == "sg-dash.1"
    row = page.wait_for_selector("tr[data-txn='dash-after-publish']")
    assert "decline" in row.text_content() and "dashboard_big_payment" in row.text_content()
    row.click()
    page.wait_for_selector("#pack-version")
    assert page.text_content("#pack-version") == "sg-dash.1"
    assert "dashboard_big_payment" in page.text_content("main")


def test_a_reconnecting_stream_resumes_after_the_last_event_it_saw(server):
    client = httpx.Client(base_url=server.url)
    client.post("/login", data={"username": ANALYST[0], "password": ANALYST[1]})
    for i in range(3):
        txn = {
            "txn_id": f"resume-{i}",
            "ts": datetime.now(UTC).isoformat(),
            "payer_id": "A0000003",
            "payee_id": "A0000004",
            "amount": 1_000 + i,
            "currency": "SGD",
            "channel": "card",
            "jurisdiction": "SG",
        }
        answer = client.post(
            "/v1/decisions", json=txn, headers={"Authorization": f"Bearer {API_KEY}"}
        )
        assert answer.status_code == 200
    recent = client.get("/ui/api/decisions", params={"limit": 3}).json()["decisions"]
    first_seq = min(d["seq"] for d in recent)  # the stream saw everything before resume-0
    headers = {"Last-Event-ID": str(first_seq - 1)}
    with client.stream("GET", "/ui/api/stream", headers=headers, timeout=10) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                sent = [d["txn_id"] for d in json.loads(line[6:])]
                break
    assert sent == ["resume-0", "resume-1", "resume-2"]
