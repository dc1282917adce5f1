"""One small SME credit world (3,000 firms, a year of invoices and loans) and a model trained
on its earlier loans, built once per session for the credit tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from vigil.credit.features import CreditHistory, loan_features
from vigil.credit.model import CreditModel
from vigil.credit.scoring import CreditScorer
from vigil.credit.train import TrainConfig, fit, training_loans
from vigil.world.sme import build_sme

START = datetime(2025, 1, 1, tzinfo=UTC)
#: Loans issued before this train the session's model; the world's horizon ends 2025-01-31.
CUT = datetime(2024, 10, 1, tzinfo=UTC)
NO_ACCOUNTS = pl.DataFrame(
    schema={
        "account_id": pl.String,
        "kind": pl.String,
        "name": pl.String,
        "country": pl.String,
        "created_at": pl.Datetime("us", "UTC"),
        "sector": pl.String,
    }
)


@pytest.fixture(autouse=True)
def one_thread():
    # Two cores shared with other developers: one thread keeps timings honest.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def small_world(n: int = 3_000, seed: int = 5) -> dict[str, pl.DataFrame]:
    return build_sme(np.random.default_rng(seed), NO_ACCOUNTS, START, 30, n_businesses=n)


@pytest.fixture(scope="session")
def world() -> dict[str, pl.DataFrame]:
    return small_world()


@pytest.fixture(scope="session")
def world_dir(world: dict[str, pl.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("credit_world")
    for name, frame in world.items():
        frame.write_parquet(out / f"{name}.parquet")
    return out


@pytest.fixture(scope="session")
def history(world: dict[str, pl.DataFrame]) -> CreditHistory:
    return CreditHistory(world["businesses"], world["trade"], world["loans"])


@pytest.fixture(scope="session")
def model(history: CreditHistory, world: dict[str, pl.DataFrame]) -> CreditModel:
    config = TrainConfig(until=CUT)
    loans = training_loans(history, world["loans"], config)
    return fit(history, loans, config, loan_features(history, loans))


@pytest.fixture(scope="session")
def scorer(model: CreditModel, history: CreditHistory) -> CreditScorer:
    return CreditScorer(model, history)
