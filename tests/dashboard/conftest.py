"""A real server for the browser tests: uvicorn on a free port in a thread, over the tiny world.

The engine starts with empty feature state (as in tests/api), so the replay the tests feed it
is the whole world from its first day; an empty case store fills from that replay's AML
alerts. Chromium is Debian's (/usr/bin/chromium), driven by Playwright: nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from vigil.api import ApiKey, ApiSettings, KeyRing, Scope, create_app
from vigil.api.auth import digest
from vigil.dashboard.mount import mount_dashboard
from vigil.dashboard.users import hash_password
from vigil.engine.pipeline import Budgets, Engine
from vigil.features.accounts import AccountBook
from vigil.features.online import OnlineFeatures
from vigil.models.bundle import ModelBundle
from vigil.rules.pack import PACKS_DIR, context_names
from vigil.rules.registry import RuleRegistry
from vigil.schema.io import read_table

CHROMIUM = "/usr/bin/chromium"
API_KEY = "s-dashboard-test"
PASSWORDS = {"ana": ("analyst", "ana-secret-1"), "root": ("admin", "root-secret-1")}
UNHURRIED = Budgets(rules_us=10**9, model_us=10**9, deadline_us=10**10)


@dataclass
class Server:
    url: str
    feedback_log: Path
    cases: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium; under CI a missing browser fails the run instead of skipping it."""
    path = shutil.which("chromium") or (CHROMIUM if os.path.exists(CHROMIUM) else None)
    if path is None:
        message = "chromium is not installed (make test installs it: apt-get install chromium)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def server(tiny_world: Path, tiny_bundle: Path, tmp_path_factory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("dashboard")
    users = folder / "users.yaml"
    users.write_text(
        "users:\n"
        + "".join(
            f"  - {{name: {name}, role: {role}, password: '{hash_password(secret)}'}}\n"
            for name, (role, secret) in PASSWORDS.items()
        )
    )
    engine = Engine(
        OnlineFeatures(accounts=AccountBook.from_frame(read_table(tiny_world, "accounts"))),
        RuleRegistry(PACKS_DIR, context_names()),
        ModelBundle.load(tiny_bundle),
        budgets=UNHURRIED,
    )
    keys = KeyRing([ApiKey("tester", digest(API_KEY), frozenset(Scope))])
    cases, log = folder / "cases.sqlite", folder / "feedback.jsonl"
    settings, router = mount_dashboard(
        ApiSettings(keys=keys), engine, users, cases, log, data=tiny_world
    )
    port = _free_port()
    config = uvicorn.Config(
        create_app(engine, settings, [router]),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws="none",
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the dashboard server did not start")
        time.sleep(0.05)
    yield Server(f"http://127.0.0.1:{port}", log, cases)
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, headless=True)
        yield browser
        browser.close()
