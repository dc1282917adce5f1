"""Pools cut from the session's tiny world (tests/conftest.py), shared by the federated tests."""

from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session")
def pools(tiny_world, tmp_path_factory) -> Path:
    from vigil.federated.partition import partition_world

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("pools")
    partition_world(tiny_world, out)
    return out
