"""The real servers the scale-out tests talk to: Redis, NATS JetStream and PostgreSQL.

They run on this machine's standard ports. Outside CI a missing server skips its tests; with
``CI=true`` it fails them, so a green CI run always means the real backends were exercised.
"""

import os
import socket
import uuid

import pytest

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
