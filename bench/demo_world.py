"""The world every benchmark builds: the same options, the same temporary layout."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vigil.models.train import train_bundle
from vigil.world.simulate import simulate_world

START = datetime(2026, 1, 1, tzinfo=UTC)


def add_world_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--train-days", type=int, default=23)
    parser.add_argument("--seed", type=int, default=7)


def training_cut(args: argparse.Namespace) -> datetime:
    """Models train on the days before this instant and are scored on the days after it."""
    return START + timedelta(days=args.train_days)


def build_trained_world(root: Path, args: argparse.Namespace) -> tuple[Path, Path, float]:
    """Simulate the world into ``root/world`` and train on it into ``root/models``.

    Returns both folders and the training time in seconds (features and LightGBM).
    """
    data, models = root / "world", root / "models"
    simulate_world(data, accounts=args.accounts, days=args.days, seed=args.seed, progress=False)
    started = time.perf_counter()
    train_bundle(data, models, until=training_cut(args), progress=False)
    return data, models, time.perf_counter() - started
