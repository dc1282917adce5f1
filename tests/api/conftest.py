"""A fresh engine and client per test, over the session's tiny world and bundle.

Engines hold state, so each test gets its own and none can see another's decisions; the world
and the bundle are built once, in ``tests/conftest.py``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from vigil.api import ApiKey, ApiSettings, KeyRing, Scope, create_app
from vigil.api.auth import digest
from vigil.engine.pipeline import Budgets, Engine
from vigil.features.accounts import AccountBook
from vigil.features.online import OnlineFeatures
from vigil.models.bundle import ModelBundle
from vigil.rules.pack import PACKS_DIR, context_names
from vigil.rules.registry import RuleRegistry
from vigil.schema.io import read_table

with warnings.catch_warnings():  # Starlette asks for httpx2; these tests run on httpx
    warnings.filterwarnings("ignore", message=r".*install `httpx2`")
    from fastapi.testclient import TestClient

#: One key per scope and one with all of them; tests know the secrets, the ring only digests.
SECRETS = {"decider": "s-decide", "labeller": "s-feedback", "operator": "s-admin", "root": "s-all"}
SCOPES = {
    "decider": {Scope.DECIDE},
    "labeller": {Scope.FEEDBACK},
    "operator": {Scope.ADMIN},
    "root": set(Scope),
}
UNHURRIED = Budgets(rules_us=10**9, model_us=10**9, deadline_us=10**10)


@pytest.fixture
def principals() -> dict[str, tuple[str, set[Scope]]]:
    """Each key's secret and scopes, by key id."""
    return {who: (SECRETS[who], SCOPES[who]) for who in SECRETS}


@pytest.fixture
def auth() -> Callable[[str], dict[str, str]]:
    """Headers that present the named key."""
    return lambda who: {"Authorization": f"Bearer {SECRETS[who]}"}


@pytest.fixture
def keys() -> KeyRing:
    return KeyRing(ApiKey(who, digest(SECRETS[who]), frozenset(SCOPES[who])) for who in SECRETS)


@pytest.fixture(scope="session")
def bundle(tiny_bundle: Path) -> ModelBundle:
    return ModelBundle.load(tiny_bundle)


@pytest.fixture(scope="session")
def accounts(tiny_world: Path) -> AccountBook:
    return AccountBook.from_frame(read_table(tiny_world, "accounts"))


@pytest.fixture
def new_engine(bundle: ModelBundle, accounts: AccountBook) -> Callable[[], Engine]:
    """Engines with empty feature state (the bundle and the accounts are read-only, so shared):
    ~40 ms each, where restoring the end-of-training state would cost ten times that. Budgets
    no layer can miss keep decisions the same on a slow or busy test machine."""
    return lambda: Engine(
        OnlineFeatures(accounts=accounts),
        RuleRegistry(PACKS_DIR, context_names()),
        bundle,
        budgets=UNHURRIED,
    )


@pytest.fixture
def engine(new_engine: Callable[[], Engine]) -> Engine:
    return new_engine()


@pytest.fixture
def rules_only_engine() -> Engine:
    return Engine(OnlineFeatures(), RuleRegistry(PACKS_DIR, context_names()), bundle=None)


@pytest.fixture
def make_client(keys: KeyRing) -> Iterator[Callable[..., TestClient]]:
    """Started clients over any engine, with any settings; closed at the end of the test."""
    opened: list[TestClient] = []

    def make(engine: Engine, **settings: Any) -> TestClient:
        client = TestClient(create_app(engine, ApiSettings(keys=keys, **settings)))
        opened.append(client.__enter__())
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient], engine: Engine) -> TestClient:
    return make_client(engine)
