"""The world every benchmark builds: the same options, the same temporary layout."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

START = datetime(2026, 1, 1, tzinfo=UTC)


def add_world_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--train-days", type=int, default=23)
    parser.add_argument("--seed", type=int, default=7)


def training_cut(args: argparse.Namespace) -> datetime:
    """Models train on the days before this instant and are scored on the days after it."""
    return START + timedelta(days=args.train_days)
