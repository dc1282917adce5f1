"""One pool's training data, built where the pool lives, by the engine's own feature code.

A client replays its own pool through :func:`vigil.features.replay.compute_features` (the code
that serves online), so a federated model is trained on the features the engine computes; the
matrix is cached inside the pool's folder and never leaves it. Rows are split by time: before
``until`` is training (its first part to fit, its last ``valid_share`` to validate and
calibrate), from ``until`` on is held out for evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from vigil.features.replay import compute_features, sorted_transactions, world_features
from vigil.federated.partition import pool_jurisdiction
from vigil.models.bundle import fingerprint_files
from vigil.models.gbdt import time_split
from vigil.schema.io import find_table

CACHE = ".vigil"  # inside the pool folder: the client's own scratch space


@dataclass(frozen=True)
class PoolData:
    jurisdiction: str
    names: list[str]
    spec_fingerprint: str
    data_fingerprint: str
    matrix: np.ndarray
    labels: np.ndarray
    fit: np.ndarray  # row indices, time-ordered
    valid: np.ndarray
    test: np.ndarray

    def part(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        rows = getattr(self, name)
        return self.matrix[rows], self.labels[rows]


_loaded: dict[tuple[str, str, float], PoolData] = {}


def load_pool(pool_dir: Path, until: datetime, valid_share: float = 0.2) -> PoolData:
    """The pool's feature matrix and time split; computed once, then read from its cache."""
    pool_dir = Path(pool_dir).resolve()
    key = (str(pool_dir), until.isoformat(), valid_share)
    if key not in _loaded:
        _loaded[key] = _build(pool_dir, until, valid_share)
    return _loaded[key]


def _build(pool_dir: Path, until: datetime, valid_share: float) -> PoolData:
    frame = sorted_transactions(pool_dir)
    engine = world_features(pool_dir)
    sources = [p for t in ("transactions", "accounts") if (p := find_table(pool_dir, t))]
    data_fp = fingerprint_files(sources)
    cache = pool_dir / CACHE / f"features-{engine.fingerprint[:12]}-{data_fp}.npy"
    if cache.exists():
        matrix = np.load(cache)
    else:
        matrix = compute_features(frame, engine)
        cache.parent.mkdir(exist_ok=True)
        scratch = cache.with_suffix(".tmp.npy")
        np.save(scratch, matrix)
        scratch.replace(cache)
    labelled = frame.get_column("is_fraud").is_not_null().to_numpy()
    labels = frame.get_column("is_fraud").fill_null(False).to_numpy().astype(np.int8)
    before = (frame.get_column("ts") < until).to_numpy()
    train = np.flatnonzero(before & labelled)
    cut = time_split(len(train), valid_share)
    return PoolData(
        jurisdiction=pool_jurisdiction(pool_dir),
        names=engine.names,
        spec_fingerprint=engine.fingerprint,
        data_fingerprint=data_fp,
        matrix=matrix,
        labels=labels,
        fit=train[:cut],
        valid=train[cut:],
        test=np.flatnonzero(~before & labelled),
    )


def split_counts(data: PoolData) -> dict[str, int]:
    """Rows and frauds in each part: counts the client may report."""
    out = {}
    for part in ("fit", "valid", "test"):
        _, y = data.part(part)
        out[f"{part}_rows"], out[f"{part}_frauds"] = len(y), int(y.sum())
    return out
