"""One sequence block fitted on the tiny world, saved once; tests load fresh copies of it."""

from pathlib import Path

import polars as pl
import pytest
import torch

from vigil.features.replay import sorted_transactions
from vigil.sequence import SequenceBlock

#: a short fit: these tests check the mechanics, not how well the encoder learns
FIT = {"epochs": 3, "seed": 5}


@pytest.fixture(autouse=True)
def one_thread():
    """The machine is shared: one torch thread, restored after each test."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def world_frame(tiny_world) -> pl.DataFrame:
    return sorted_transactions(tiny_world)


@pytest.fixture(scope="session")
def fit_params() -> dict:
    return dict(FIT)


@pytest.fixture(scope="session")
def saved_block(world_frame, tmp_path_factory) -> Path:
    torch.set_num_threads(1)
    block = SequenceBlock.fit(world_frame, **FIT)
    folder = tmp_path_factory.mktemp("sequence")
    block.save(folder)
    return folder
