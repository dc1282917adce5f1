"""Shared fixtures: one tiny generated world and one bundle trained on it, built once per run."""

import os
import socket
import uuid

# Before anything imports LightGBM: its OpenMP threads otherwise spin while waiting for work,
# which on a busy 2-core machine made the tiny world's training 5x slower.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests run on a shared 2-core machine: a busy moment must not fail a test for being
# slow to generate inputs; they fail only on a falsified property.
settings.register_profile(
    "vigil", deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=False
)
settings.load_profile("vigil")

START = datetime(2026, 1, 1, tzinfo=UTC)
TRAIN_UNTIL = datetime(2026, 1, 9, tzinfo=UTC)


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory) -> Path:
    from vigil.world.simulate import simulate_world

    out = tmp_path_factory.mktemp("world")
    simulate_world(out, accounts=1_000, days=12, seed=11, progress=False, start=START)
    return out


@pytest.fixture(scope="session")
def tiny_bundle(tiny_world, tmp_path_factory) -> Path:
    from vigil.models.train import train_bundle

    out = tmp_path_factory.mktemp("models")
    train_bundle(tiny_world, out, until=TRAIN_UNTIL, progress=False)
    return out


# ---- the real servers the scale-out tests talk to: Redis, NATS JetStream and PostgreSQL -----
# They run on this machine's standard ports. Outside CI a missing server skips its tests; with
# CI=true it fails them, so a green CI run always means the real backends were exercised.

REDIS_URL = os.environ.get("VIGIL_TEST_REDIS", "redis://localhost:6379/15")
NATS_URL = os.environ.get("VIGIL_TEST_NATS", "nats://localhost:4222")
POSTGRES_URL = os.environ.get("VIGIL_TEST_POSTGRES", "postgresql://postgres@localhost:5432/test")


def _require(url: str, default_port: int) -> str:
    host_port = url.split("@")[-1].split("://")[-1].split("/")[0]
    host, _, port = host_port.partition(":")
    try:
        socket.create_connection((host or "localhost", int(port or default_port)), 1).close()
    except OSError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{url} is not reachable in CI ({error}): these tests must run")
        pytest.skip(f"{url} is not reachable: {error}")
    return url


@pytest.fixture
def redis_url() -> str:
    return _require(REDIS_URL, 6379)


@pytest.fixture
def nats_url() -> str:
    return _require(NATS_URL, 4222)


@pytest.fixture
def postgres_url() -> str:
    return _require(POSTGRES_URL, 5432)


@pytest.fixture
def namespace() -> str:
    """Keys, streams and tables of one test, apart from any other run's."""
    return f"t{uuid.uuid4().hex[:10]}"
