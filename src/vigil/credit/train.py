"""Training the PD model on a world's loans, and the out-of-time measures it is judged by.

Rows are loans issued before ``until``, each with the features of its own ``issued_at``
(point in time) and its eventual outcome as the label: the credit back-test convention of
``docs/world-side-tables.md``, where every loan's outcome is known in the end. With
``matured_only`` only loans whose term had ended by ``until`` are kept, which is what a lender
retraining on that date could actually label. Loans from the first ``warmup_days`` of the trade
history are left out: their trailing windows are short because the data starts, not because
the firm traded little, and a model would learn the data's edge.

The rows are split by time: trees on the earlier ``1 - calibration_share``, early stopping and
the Platt calibration on the later slice.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from vigil.credit.features import CreditHistory, Group, loan_features, names_of
from vigil.credit.model import CreditModel, CreditModelError, Platt, encode, fit_booster
from vigil.credit.network import US_PER_DAY, NetworkParams
from vigil.schema.io import read_table


@dataclass(frozen=True)
class TrainConfig:
    until: datetime | None = None  #: loans issued strictly before; None: every loan
    groups: Sequence[Group] = ("firm", "network")
    exclude: Sequence[str] = ()  #: features left out (ablations)
    warmup_days: int = 90
    calibration_share: float = 0.25
    matured_only: bool = False
    params: dict[str, Any] = field(default_factory=dict)  #: LightGBM overrides


def evaluate(labels: np.ndarray, pd: np.ndarray) -> dict[str, float]:
    """ROC AUC, KS (largest gap between the defaulted and repaid score distributions),
    Brier score, and the observed against the mean predicted default rate."""
    from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve

    labels = np.asarray(labels).astype(np.int8)
    out = {"loans": float(len(labels)), "defaults": float(labels.sum())}
    out["default_rate"] = float(labels.mean()) if len(labels) else float("nan")
    out["mean_pd"] = float(np.mean(pd)) if len(labels) else float("nan")
    if 0 < labels.sum() < len(labels):
        fpr, tpr, _ = roc_curve(labels, pd)
        out["auc"] = float(roc_auc_score(labels, pd))
        out["ks"] = float(np.max(tpr - fpr))
    out["brier"] = float(brier_score_loss(labels, pd)) if len(labels) else float("nan")
    return out


def training_loans(
    history: CreditHistory, loans: pl.DataFrame, config: TrainConfig
) -> pl.DataFrame:
    """The loans a model trained with ``config`` learns from, in issue order."""
    if "defaulted" not in loans.columns:
        raise CreditModelError("the loans table has no 'defaulted' labels to train on")
    start = int(history.trade.times[0]) if len(history.trade.times) else 0
    issued = pl.col("issued_at").dt.epoch("us")
    chosen = loans.filter(issued >= start + config.warmup_days * US_PER_DAY)
    if config.until is not None:
        until = config.until if config.until.tzinfo else config.until.replace(tzinfo=UTC)
        chosen = chosen.filter(pl.col("issued_at") < until)
        if config.matured_only:
            ends = pl.col("issued_at") + pl.duration(days=pl.col("term_days"))
            chosen = chosen.filter(ends <= until)
    return chosen.sort("issued_at", "loan_id", maintain_order=True)


def fit(
    history: CreditHistory,
    loans: pl.DataFrame,
    config: TrainConfig,
    features: pl.DataFrame | None = None,
) -> CreditModel:
    """A model on ``loans`` (already chosen and in issue order); ``features`` may be passed
    when already computed for them (an ablation reuses one frame)."""
    frame = loan_features(history, loans) if features is None else features
    labels = loans["defaulted"].to_numpy().astype(np.int8)
    names = [name for name in names_of(config.groups) if name not in config.exclude]
    sectors = sorted(set(frame["sector"].drop_nulls().to_list()))
    matrix = encode(frame, names, sectors)
    cut = int(len(labels) * (1 - config.calibration_share))
    early, late = labels[:cut], labels[cut:]
    for part, what in ((early, "training"), (late, "calibration")):
        if part.sum() == 0 or part.sum() == len(part):
            raise CreditModelError(
                f"the {what} slice needs defaulted and repaid loans ({len(part)} loans, "
                f"{int(part.sum())} defaults); train on more of the history"
            )
    booster = fit_booster(matrix[:cut], early, matrix[cut:], late, names, config.params)
    margin = booster.predict(matrix[cut:], raw_score=True)
    calibration = Platt.fit(margin, late)
    metrics = {f"calibration_{k}": v for k, v in evaluate(late, calibration(margin)).items()}
    metrics |= {"train_loans": float(cut), "train_defaults": float(early.sum())}
    metrics["trees"] = float(booster.best_iteration or booster.num_trees())
    issued = loans["issued_at"]
    info = {
        "groups": list(config.groups),
        "until": None if config.until is None else config.until.isoformat(),
        "first_loan": str(issued.min()),
        "last_loan": str(issued.max()),
        "calibration_from": str(issued[cut]),
        "network": asdict(history.params),
        "warmup_days": config.warmup_days,
        "matured_only": config.matured_only,
    }
    return CreditModel(booster, names, sectors, calibration, metrics, info)


@dataclass
class Trained:
    model: CreditModel
    seconds: dict[str, float]


def train_from_dir(
    data: Path,
    out: Path | None,
    config: TrainConfig,
    network: NetworkParams | None = None,
) -> Trained:
    """Read a world, train, and write the model to ``out`` (when given)."""
    clock = time.perf_counter()
    tables = [read_table(Path(data), name) for name in ("businesses", "trade", "loans")]
    history = CreditHistory(*tables, params=network)  # type: ignore[arg-type]
    read = time.perf_counter()
    loans = training_loans(history, tables[2], config)  # type: ignore[arg-type]
    frame = loan_features(history, loans)
    featured = time.perf_counter()
    model = fit(history, loans, config, frame)
    done = time.perf_counter()
    model.info["data"] = str(Path(data).resolve())
    seconds = {"read": read - clock, "features": featured - read, "fit": done - featured}
    model.metrics |= {f"seconds_{k}": round(v, 3) for k, v in seconds.items()}
    if out is not None:
        model.save(out)
    return Trained(model, seconds)
