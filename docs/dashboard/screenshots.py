"""Take the screenshots in docs/dashboard/ from a running demo server (see docs/dashboard.md).

    vigil serve --models models/demo --data data/demo --users USERS --cases COPY_OF_cases.sqlite \
        --credit-models CREDIT --port 8765
    python docs/dashboard/screenshots.py --url http://127.0.0.1:8765 --user mei --password ...

It feeds a replay of the week after training, closes a sample of the replay's cases the way the
world's ground truth says (so the precision chart has closed cases), edits and backtests a rule
change, and looks up a business's credit score. It writes into the case store it is given:
point the server at a copy, never at runs/demo.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import polars as pl
from playwright.sync_api import Page, sync_playwright

AML = {
    "cycle",
    "fan_in",
    "fan_out",
    "pass_through",
    "structuring",
    "mule_ring",
    "dormant_reactivation",
}
OUT = Path(__file__).parent


def post(page: Page, path: str, body: dict) -> dict:
    return page.evaluate(
        "([p, b]) => fetch(p, {method: 'POST', headers: {'Content-Type': 'application/json'},"
        " body: JSON.stringify(b)}).then(r => r.json())",
        [path, body],
    )


def get(page: Page, path: str) -> dict:
    return page.evaluate("p => fetch(p).then(r => r.json())", path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8765")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--data", default="data/demo")
    parser.add_argument("--business", default="B00019000")
    parser.add_argument("--close", type=int, default=30, help="cases to close per ground truth")
    parser.add_argument("--parts", default="login,live,cases,rules,health")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    truth = pl.read_parquet(
        Path(args.data) / "transactions.parquet", columns=["txn_id", "typology"]
    )
    laundering = set(truth.filter(pl.col("typology").is_in(sorted(AML)))["txn_id"].to_list())

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        page = browser.new_page(viewport={"width": 1500, "height": 940}, device_scale_factor=1)
        page.set_default_timeout(120_000)
        page.goto(f"{args.url}/login")
        if "login" in parts:
            page.fill("#username", args.user)
            page.fill("#password", "wrong-on-purpose")
            page.click("#login")
            page.wait_for_selector("#failed:not([hidden])")
            page.screenshot(path=OUT / "login.png")
        page.fill("#username", args.user)
        page.fill("#password", args.password)
        page.click("#login")
        page.wait_for_selector("body[data-stream='open']", state="attached")

        if "live" in parts:
            live(page, args)
        if "cases" in parts:
            cases(page, args, laundering)
        if "rules" in parts:
            rules(page, args)
        if "health" in parts:
            health(page, args)
        browser.close()


def live(page: Page, args: argparse.Namespace) -> None:
    """A replay of the week after training, fed to the running server; a decision's page."""
    before = get(page, "/ui/api/replay")  # continue where an earlier replay stopped
    start = {"from": before["last_ts"]} if before.get("last_ts") else {}
    post(page, "/ui/api/replay", {"count": 6000, "rate": 400, **start})
    time.sleep(8)
    page.screenshot(path=OUT / "live.png")
    while get(page, "/ui/api/replay")["running"]:
        time.sleep(1)
    declined = (
        get(page, "/ui/api/decisions?action=review&limit=1")["decisions"]
        or get(page, "/ui/api/decisions?action=decline&limit=1")["decisions"]
    )
    page.goto(f"{args.url}/#/decision/{declined[0]['txn_id']}")
    page.wait_for_selector("#pack-version")
    page.screenshot(path=OUT / "decision.png", full_page=True)


def cases(page: Page, args: argparse.Namespace, laundering: set[str]) -> None:
    """Close a sample the way ground truth says, then the queue and a ring's case."""
    cases = get(page, "/ui/api/cases?status=open")["cases"]
    ring = next(c for c in cases if "cycle" in c["typologies"])
    for case in [c for c in cases if c["case_id"] != ring["case_id"]][: args.close]:
        detail = get(page, f"/ui/api/cases/{case['case_id']}")
        txns = {t["txn_id"] for a in detail["alerts"] for t in a["evidence"]}
        path = f"/ui/api/cases/{case['case_id']}/transition"
        post(page, path, {"to": "investigating"})
        if len(txns & laundering) * 2 >= len(txns):
            post(page, path, {"to": "escalated"})
            post(page, path, {"to": "closed_true_positive", "reason": "per ground truth"})
        else:
            post(page, path, {"to": "closed_false_positive", "reason": "per ground truth"})
    page.goto(f"{args.url}/#/cases")
    page.wait_for_selector("#case-rows tr")
    page.screenshot(path=OUT / "cases.png")
    page.goto(f"{args.url}/#/case/{ring['case_id']}")
    page.wait_for_function("window.cy && window.cy.nodes().length > 0")
    page.click("#assign-me")
    page.wait_for_selector(f"#assignee[value='{args.user}']")
    page.fill("#note", "Funds return to the subject within the window; checking shared devices.")
    page.click("#add-note")
    page.wait_for_selector("text=Funds return to the subject")
    if page.locator("#to-investigating").count():
        page.click("#to-investigating")
    page.wait_for_function("window.cy && window.cy.nodes().length > 0")
    time.sleep(1)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=OUT / "case.png", full_page=True)


def rules(page: Page, args: argparse.Namespace) -> None:
    """An edit with a mistake shown in place, then a backtest beside the live pack."""
    page.goto(f"{args.url}/#/rules/sg")
    page.wait_for_selector("#yaml")
    text = page.input_value("#yaml")
    page.fill("#yaml", text.replace("when: amount > large_value", "when: amount > large_valu"))
    page.click("#check")
    page.wait_for_selector("#pack-error")
    page.screenshot(path=OUT / "rules-error.png")
    edited = text.replace("version: sg-2026.01.1", "version: sg-2026.01.2").replace(
        "value: 2000000", "value: 1500000"
    )
    page.fill("#yaml", edited)
    while get(page, "/ui/api/rules/sg")["history"] != "ready":
        time.sleep(2)
    page.click("#backtest")
    page.wait_for_selector("#backtest-table")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=OUT / "rules.png", full_page=True)


def health(page: Page, args: argparse.Namespace) -> None:
    """Models and health, with a credit lookup."""
    page.goto(f"{args.url}/#/health")
    page.wait_for_selector("#c-latency")
    if page.locator("#biz").count():
        page.fill("#biz", args.business)
        page.click("#credit")
        page.wait_for_selector("#credit-out .stat")
    time.sleep(1)
    page.evaluate("window.scrollTo(0, 0)")  # the sticky header belongs at the top
    page.screenshot(path=OUT / "health.png", full_page=True)


if __name__ == "__main__":
    main()
