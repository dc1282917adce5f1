"""Replay history through the online feature code, point-in-time correct.

Training, rule backtests and the engine's replay all walk the same merged stream: transactions
in time order, and each label released at its ``label_ts`` the way a chargeback feed would
deliver it. A label becomes visible to events strictly after its ``label_ts``; a transaction
at the very same instant does not see it yet.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from rich.progress import Progress

from vigil.features.accounts import AccountBook
from vigil.features.blocks import FeatureBlock
from vigil.features.online import OnlineFeatures
from vigil.features.spec import FeatureSpec
from vigil.runtime import collector_paused
from vigil.schema.io import read_table
from vigil.schema.records import TRANSACTION_FIELDS, Transaction
from vigil.schema.tables import TRANSACTIONS

#: schema.md: a label without label_ts is known 30 days after the payment.
DEFAULT_LABEL_DELAY = timedelta(days=30)


def transactions_of(frame: pl.DataFrame) -> Iterator[Transaction]:
    """Records from a validated frame, without labels; absent optional columns read as None.

    Columns beyond the contract ride in ``Transaction.extra``, as they do when a payment
    arrives over HTTP, so a feature block reading them sees the same values in both paths.
    """
    columns = [
        frame.get_column(name).to_list() if name in frame.columns else [None] * frame.height
        for name in TRANSACTION_FIELDS
    ]
    extras = [name for name in frame.columns if TRANSACTIONS.column(name) is None]
    if not extras:
        for row in zip(*columns, strict=True):
            yield Transaction(*row)
        return
    values = [frame.get_column(name).to_list() for name in extras]
    for row, more in zip(zip(*columns, strict=True), zip(*values, strict=True), strict=True):
        yield Transaction(*row, extra=dict(zip(extras, more, strict=True)))


def label_events(frame: pl.DataFrame) -> list[tuple[datetime, str, bool]]:
    """(known_at, txn_id, is_fraud) for every labelled row, in the order they become known."""
    if "is_fraud" not in frame.columns:
        return []
    labelled = frame.filter(pl.col("is_fraud").is_not_null())
    default = labelled.get_column("ts") + DEFAULT_LABEL_DELAY
    known = (
        labelled.get_column("label_ts").fill_null(default)
        if "label_ts" in labelled.columns
        else default
    )
    events = list(
        zip(
            known.to_list(),
            labelled.get_column("txn_id").to_list(),
            labelled.get_column("is_fraud").to_list(),
            strict=True,
        )
    )
    events.sort(key=lambda e: e[0])
    return events


def merged_stream(
    frame: pl.DataFrame, labels: list[tuple[datetime, str, bool]] | None = None
) -> Iterator[tuple[Transaction | None, tuple[str, bool] | None]]:
    """Yield ``(txn, None)`` for each payment and ``(None, (txn_id, is_fraud))`` for each label,
    in the order a live engine would receive them.

    ``labels`` defaults to the frame's own; a replay that starts mid-history passes the labels
    still pending at its start, which may belong to earlier transactions.
    """
    pending = label_events(frame) if labels is None else sorted(labels)
    heapq.heapify(pending)
    for txn in transactions_of(frame):
        while pending and pending[0][0] < txn.ts:
            _, txn_id, is_fraud = heapq.heappop(pending)
            yield None, (txn_id, is_fraud)
        yield txn, None


def world_features(
    data_dir: Path | None,
    spec: FeatureSpec | None = None,
    blocks: Sequence[FeatureBlock] = (),
    roles: Sequence[str] | None = None,
) -> OnlineFeatures:
    """A fresh feature engine with the world's ``accounts`` as reference data (none: empty)."""
    table = read_table(data_dir, "accounts", required=False) if data_dir is not None else None
    accounts = AccountBook.from_frame(table)
    return OnlineFeatures(spec=spec, accounts=accounts, blocks=blocks, roles=roles)


def sorted_transactions(data_dir: Path) -> pl.DataFrame:
    """The world's transactions in time order (stable on ties, so file order breaks them)."""
    return read_table(data_dir, "transactions").sort("ts", maintain_order=True)


def compute_features(
    frame: pl.DataFrame,
    engine: OnlineFeatures,
    progress: bool = False,
    description: str = "features",
) -> np.ndarray:
    """Feature matrix for every row of a time-ordered frame, labels fed in as they mature."""
    matrix = np.empty((frame.height, len(engine.names)), dtype=np.float64)
    row = 0
    with collector_paused(), Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(description, total=frame.height)
        for txn, label in merged_stream(frame):
            if txn is None:
                engine.observe_label(*label)
                continue
            matrix[row] = engine.process(txn)
            row += 1
            if row % 10_000 == 0:
                bar.update(task, completed=row)
    return matrix


def feature_frame(
    data_dir: Path,
    until: datetime | None = None,
    spec: FeatureSpec | None = None,
    progress: bool = False,
) -> pl.DataFrame:
    """One row per transaction before ``until``: its columns, its labels, and every feature."""
    frame = sorted_transactions(data_dir)
    if until is not None:
        frame = frame.filter(pl.col("ts") < until)
    engine = world_features(data_dir, spec)
    matrix = compute_features(frame, engine, progress=progress)
    features = pl.DataFrame(matrix, schema=engine.names, orient="row")
    return pl.concat([frame, features], how="horizontal")
