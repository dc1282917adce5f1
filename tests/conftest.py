"""Shared fixtures: one tiny generated world and one bundle trained on it, built once per run."""

import os

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
