"""Fraud-detection metrics of a run: how well the scores rank, what the engine's actions cost.

Two questions are kept apart. *Ranking* metrics (AUPRC, ROC AUC, recall at a false-positive
rate, precision at the review budget) read only the score, so a bare score from a baseline can
be set against the engine's. *Operating* metrics (precision and recall of review/decline, fraud
amount caught) read the action the engine actually took. Every figure that needs a class the
data lacks is None, and ``notes`` says why, so a quiet day without fraud reports rather than
crashes.

Ties are resolved the same way everywhere: a threshold flags scores strictly above it (a
positive tied with a negative at the threshold is not caught, so realised false-positive rates
never exceed their target), and the review budget shares its last slots among tied scores in
proportion, which is the expectation under random tie-breaking.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from rich.console import Group
from rich.markup import escape
from rich.table import Table
from sklearn.metrics import average_precision_score, roc_auc_score

from vigil.schema import read_table

#: Target false-positive rates for "recall at FPR"; keys of ``recall_at_fpr`` are their str().
FPR_TARGETS = (0.001, 0.01)
#: The FPR whose threshold per-typology recall is read at.
TYPOLOGY_FPR = 0.01
LEGIT = "legit"
ACTIONS = ("approve", "review", "decline")
LATENCY_LAYERS = ("total", "features", "rules", "model", "policy")

Metrics = dict[str, Any]


def compute_metrics(
    decisions: pl.DataFrame,
    labels: pl.DataFrame,
    review_budget: float = 0.01,
    score_column: str = "score",
) -> Metrics:
    """Score a run's decisions against ground truth; the result is plain JSON.

    ``labels`` holds txn_id and is_fraud, and typology when per-typology figures are wanted.
    Decisions without a label are counted and left out, never taken for legit: a label that
    has not arrived yet is not evidence of innocence.
    """
    if not 0.0 < review_budget <= 1.0:
        raise ValueError(f"review_budget must be in (0, 1], got {review_budget}")
    for name in ("txn_id", score_column):
        if name not in decisions.columns:
            raise ValueError(f"decisions have no column '{name}'")
    for name in ("txn_id", "is_fraud"):
        if name not in labels.columns:
            raise ValueError(f"labels have no column '{name}'")

    notes: list[str] = []
    unique = decisions.unique("txn_id", keep="first", maintain_order=True)
    if unique.height < decisions.height:
        notes.append(
            f"{decisions.height - unique.height} repeated txn_id decisions dropped "
            "(the first decision of each counts)"
        )
    label_columns = [c for c in ("txn_id", "is_fraud", "typology") if c in labels.columns]
    joined = unique.join(labels.select(label_columns), on="txn_id", how="left")
    unlabelled = int(joined.get_column("is_fraud").null_count())
    if unlabelled:
        notes.append(f"{unlabelled} decisions have no label and are excluded")
    scored = joined.filter(pl.col("is_fraud").is_not_null())
    has_actions = "action" in scored.columns
    if not has_actions:
        notes.append("no action column: operating point and amount caught are not computed")
    has_amounts = "amount_usd" in scored.columns
    if has_actions and not has_amounts:
        notes.append("no amount_usd column: fraud amount caught is not computed")

    frame = _Scored.of(scored, score_column, has_actions, has_amounts)
    overall = _overall(frame, review_budget, notes)
    threshold = (overall["recall_at_fpr"].get(str(TYPOLOGY_FPR)) or {}).get("threshold")
    if "typology" in scored.columns:
        per_typology = _per_typology(scored, frame, threshold)
    else:
        per_typology = None
        notes.append("labels carry no typology: per-typology figures are not computed")
    return {
        "n_decisions": unique.height,
        "n_unlabelled": unlabelled,
        "review_budget": review_budget,
        "score_column": score_column,
        "overall": overall,
        "per_typology": per_typology,
        "latency_us": latency_percentiles(unique),
        "notes": notes,
    }


def labels_from_data(data_dir: Path) -> pl.DataFrame | None:
    """The ground truth of a world's transactions, or None when the world is unlabelled."""
    transactions = read_table(Path(data_dir), "transactions")
    if "is_fraud" not in transactions.columns:
        return None
    return transactions.select(
        [c for c in ("txn_id", "is_fraud", "typology") if c in transactions.columns]
    )


def evaluate_run(run_dir: Path, data_dir: Path, review_budget: float = 0.01) -> Metrics:
    """Metrics of a replay run, against the labels of the world it replayed."""
    decisions = pl.read_parquet(Path(run_dir) / "decisions.parquet")
    labels = labels_from_data(data_dir)
    if labels is None:
        raise ValueError(f"{data_dir}: transactions carry no is_fraud column; nothing to score")
    return compute_metrics(decisions, labels, review_budget=review_budget)


def latency_percentiles(decisions: pl.DataFrame) -> dict[str, dict[str, float | None]]:
    """p50/p95/p99 per layer, over every decision: latency needs no label."""
    out: dict[str, dict[str, float | None]] = {}
    for layer in LATENCY_LAYERS:
        column = f"latency_us_{layer}"
        if column not in decisions.columns:
            continue
        values = decisions.get_column(column).drop_nulls().to_numpy().astype(float)
        out[layer] = {
            f"p{q}": (float(np.percentile(values, q)) if values.size else None)
            for q in (50, 95, 99)
        }
    return out


@dataclass(frozen=True, slots=True)
class _Scored:
    """The labelled decisions as arrays, the shape every metric reads.

    The action-derived arrays are None when the scores came without actions (a bare baseline),
    and ``amount`` is None when amounts are missing too.
    """

    score: np.ndarray
    fraud: np.ndarray
    actions: np.ndarray | None
    flagged: np.ndarray | None
    declined: np.ndarray | None
    amount: np.ndarray | None

    @classmethod
    def of(
        cls, scored: pl.DataFrame, score_column: str, has_actions: bool, has_amounts: bool
    ) -> _Scored:
        action = scored.get_column("action") if has_actions else None
        return cls(
            score=scored.get_column(score_column).cast(pl.Float64).to_numpy(),
            fraud=scored.get_column("is_fraud").to_numpy().astype(bool),
            actions=None if action is None else action.to_numpy(),
            flagged=None if action is None else (action != "approve").to_numpy(),
            declined=None if action is None else (action == "decline").to_numpy(),
            amount=(
                scored.get_column("amount_usd").fill_null(0.0).to_numpy().astype(float)
                if action is not None and has_amounts
                else None
            ),
        )


def _overall(frame: _Scored, review_budget: float, notes: list[str]) -> Metrics:
    n, n_fraud = frame.score.size, int(frame.fraud.sum())
    negatives = frame.score[~frame.fraud]
    if n == 0:
        notes.append("no labelled decisions: every metric is empty")
    elif n_fraud == 0:
        notes.append("no fraud among the labelled decisions: recall, AUPRC and ROC AUC are null")
    elif negatives.size == 0:
        notes.append("no legit transactions: ROC AUC and recall at FPR are null")
    return {
        "n": n,
        "n_fraud": n_fraud,
        "fraud_rate": _ratio(n_fraud, n),
        "auprc": _auprc(frame.fraud, frame.score),
        "roc_auc": _roc_auc(frame.fraud, frame.score),
        "recall_at_fpr": {
            str(target): recall_at_fpr(frame.score, frame.fraud, negatives, target)
            for target in FPR_TARGETS
        },
        "precision_at_budget": _precision_at_budget(frame.score, frame.fraud, review_budget),
        "actions": _action_counts(frame.actions),
        "operating_point": (
            None
            if frame.flagged is None
            else {
                "flagged": _operating_point(frame.flagged, frame.fraud),
                "declined": _operating_point(frame.declined, frame.fraud),
            }
        ),
        "amount_usd": _amount_caught(frame, frame.fraud),
    }


def _per_typology(scored: pl.DataFrame, frame: _Scored, threshold: float | None) -> Metrics:
    """Each non-legit typology on its own, so a strong average cannot hide a blind spot."""
    # A label without a typology is legit when it is not fraud; fraud of no stated kind is
    # still reported, under its own name.
    typology = (
        scored.select(
            pl.when(pl.col("typology").is_null() & ~pl.col("is_fraud"))
            .then(pl.lit(LEGIT))
            .otherwise(pl.col("typology").fill_null("unspecified"))
        )
        .to_series()
        .to_numpy()
    )
    legit = typology == LEGIT
    out: Metrics = {}
    for name in sorted(set(typology.tolist()) - {LEGIT}):
        members = typology == name
        versus = members | legit
        out[name] = {
            "n": int(members.sum()),
            "recall_at_1pct_fpr": (
                None if threshold is None else float((frame.score[members] > threshold).mean())
            ),
            "auprc_vs_legit": (
                _auprc(members[versus], frame.score[versus]) if legit.any() else None
            ),
            "actions": _action_counts(None if frame.actions is None else frame.actions[members]),
            "amount_usd": _amount_caught(frame, members),
        }
    return out


def _auprc(positive: np.ndarray, score: np.ndarray) -> float | None:
    """Average precision; it needs at least one positive, and no negatives are fine."""
    if not positive.any():
        return None
    return float(average_precision_score(positive, score))


def _roc_auc(positive: np.ndarray, score: np.ndarray) -> float | None:
    if positive.all() or not positive.any():
        return None
    return float(roc_auc_score(positive, score))


def threshold_at_fpr(negatives: np.ndarray, target: float) -> float:
    """The score above which flagging keeps the false-positive rate at or under ``target``.

    With k = floor(target * n_negatives) false positives allowed, the threshold is the
    (k+1)-th highest negative score: at most k negatives lie strictly above it, fewer when
    negatives tie with it.
    """
    allowed = math.floor(target * negatives.size + 1e-9)
    return float(np.sort(negatives)[::-1][allowed])


def recall_at_fpr(
    score: np.ndarray, fraud: np.ndarray, negatives: np.ndarray, target: float
) -> dict[str, float | None] | None:
    """Threshold, achieved FPR and recall of ``score[fraud]`` at the :func:`threshold_at_fpr`
    of ``negatives``; shared by the payments scorecard and the claims comparison, so that
    "recall at 1% FPR" means one thing across Vigil."""
    if negatives.size == 0:
        return None
    threshold = threshold_at_fpr(negatives, target)
    return {
        "threshold": threshold,
        "fpr": float((negatives > threshold).mean()),
        "recall": float((score[fraud] > threshold).mean()) if fraud.any() else None,
    }


def _precision_at_budget(
    score: np.ndarray, fraud: np.ndarray, budget: float
) -> dict[str, float | int | None] | None:
    """Precision of the top ``budget`` share by score: what an analyst queue of that size holds.

    The queue holds ceil(budget * n) transactions; scores tied at the cut share the remaining
    slots in proportion, so the figure does not depend on row order.
    """
    if score.size == 0:
        return None
    k = max(1, math.ceil(budget * score.size - 1e-9))
    cut = np.sort(score)[::-1][k - 1]
    above, tied = score > cut, score == cut
    caught = fraud[above].sum() + (k - above.sum()) * fraud[tied].mean()
    return {
        "k": k,
        "precision": float(caught / k),
        "recall": float(caught / fraud.sum()) if fraud.any() else None,
    }


def _action_counts(actions: np.ndarray | None) -> dict[str, int] | None:
    if actions is None:
        return None
    names, counts = np.unique(actions, return_counts=True)
    return dict.fromkeys(ACTIONS, 0) | {str(a): int(c) for a, c in zip(names, counts, strict=True)}


def _operating_point(hit: np.ndarray, fraud: np.ndarray) -> dict[str, float | int | None]:
    true_positives = int((hit & fraud).sum())
    return {
        "n": int(hit.sum()),
        "precision": _ratio(true_positives, int(hit.sum())),
        "recall": _ratio(true_positives, int(fraud.sum())),
        "fpr": _ratio(int((hit & ~fraud).sum()), int((~fraud).sum())),
    }


def _amount_caught(frame: _Scored, members: np.ndarray) -> dict[str, float | None] | None:
    """USD of ``members`` that review or decline stopped: the money the engine protected."""
    if frame.amount is None or frame.flagged is None or frame.declined is None:
        return None
    total = float(frame.amount[members].sum())
    flagged = float(frame.amount[members & frame.flagged].sum())
    declined = float(frame.amount[members & frame.declined].sum())
    return {
        "total": total,
        "caught": flagged,
        "caught_share": flagged / total if total > 0 else None,
        "declined": declined,
        "declined_share": declined / total if total > 0 else None,
    }


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# --- rendering -------------------------------------------------------------------------------


def _get(metrics: Metrics, *path: str) -> Any:
    value: Any = metrics
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def format_value(value: Any, kind: str) -> str:
    """One metric as text: ``pct`` for rates, ``ratio`` for areas, ``int``, ``usd``."""
    if value is None:
        return "—"
    if kind == "pct":
        return f"{value:.2%}"
    if kind == "ratio":
        return f"{value:.4f}"
    if kind == "usd":
        return f"${value:,.0f}"
    return f"{value:,}"


#: The headline figures, in reading order: (label, path into the metrics, kind).
HEADLINE: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("labelled transactions", ("overall", "n"), "int"),
    ("fraud", ("overall", "n_fraud"), "int"),
    ("fraud rate", ("overall", "fraud_rate"), "pct"),
    ("AUPRC", ("overall", "auprc"), "ratio"),
    ("ROC AUC", ("overall", "roc_auc"), "ratio"),
    ("recall @ 0.1% FPR", ("overall", "recall_at_fpr", "0.001", "recall"), "pct"),
    ("recall @ 1% FPR", ("overall", "recall_at_fpr", "0.01", "recall"), "pct"),
    ("review budget (share of transactions)", ("review_budget",), "pct"),
    ("precision @ review budget", ("overall", "precision_at_budget", "precision"), "pct"),
    ("review + decline: precision", ("overall", "operating_point", "flagged", "precision"), "pct"),
    ("review + decline: recall", ("overall", "operating_point", "flagged", "recall"), "pct"),
    ("review + decline: FPR", ("overall", "operating_point", "flagged", "fpr"), "pct"),
    ("decline: precision", ("overall", "operating_point", "declined", "precision"), "pct"),
    ("decline: recall", ("overall", "operating_point", "declined", "recall"), "pct"),
    ("fraud USD total", ("overall", "amount_usd", "total"), "usd"),
    ("fraud USD caught", ("overall", "amount_usd", "caught"), "usd"),
    ("fraud USD caught share", ("overall", "amount_usd", "caught_share"), "pct"),
)

#: Per-typology columns: (header, path into one typology's metrics, kind).
TYPOLOGY_COLUMNS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("n", ("n",), "int"),
    ("recall @ 1% FPR", ("recall_at_1pct_fpr",), "pct"),
    ("AUPRC vs legit", ("auprc_vs_legit",), "ratio"),
    ("approve", ("actions", "approve"), "int"),
    ("review", ("actions", "review"), "int"),
    ("decline", ("actions", "decline"), "int"),
    ("USD caught", ("amount_usd", "caught"), "usd"),
    ("USD caught share", ("amount_usd", "caught_share"), "pct"),
)


def headline_rows(metrics: Metrics) -> list[tuple[str, str]]:
    """The headline as (label, text) pairs; the terminal and the HTML report both show it."""
    return [(label, format_value(_get(metrics, *path), kind)) for label, path, kind in HEADLINE]


def typology_rows(metrics: Metrics) -> list[tuple[str, list[str]]]:
    """Per-typology cells as text, one row per typology; empty without typologies."""
    per_typology = metrics.get("per_typology") or {}
    return [
        (name, [format_value(_get(values, *path), kind) for _, path, kind in TYPOLOGY_COLUMNS])
        for name, values in per_typology.items()
    ]


def format_metrics(metrics: Metrics) -> Group:
    """Tables for the terminal: headline, per typology, latency, then the notes."""
    headline = Table(title="Detection", title_justify="left")
    headline.add_column("metric")
    headline.add_column("value", justify="right")
    for label, text in headline_rows(metrics):
        headline.add_row(label, text)
    parts: list[Any] = [headline]

    rows = typology_rows(metrics)
    if rows:
        table = Table(title="Per typology", title_justify="left")
        table.add_column("typology")
        for header, _, _ in TYPOLOGY_COLUMNS:
            table.add_column(header, justify="right")
        for name, cells in rows:
            table.add_row(escape(name), *cells)
        parts.append(table)

    latency = metrics.get("latency_us") or {}
    if latency:
        table = Table(title="Latency (µs)", title_justify="left")
        table.add_column("layer")
        for q in ("p50", "p95", "p99"):
            table.add_column(q, justify="right")
        for layer, values in latency.items():
            table.add_row(layer, *(_format_us(values[q]) for q in ("p50", "p95", "p99")))
        parts.append(table)

    parts.extend(f"[yellow]note:[/] {escape(note)}" for note in metrics.get("notes", []))
    return Group(*parts)


def _format_us(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def compare(a: Metrics, b: Metrics, names: tuple[str, str] = ("engine", "baseline")) -> Group:
    """Two metric sets side by side, overall and per typology, with the difference a − b."""
    overall = Table(title="Detection", title_justify="left")
    overall.add_column("metric")
    for name in names:
        overall.add_column(name, justify="right")
    overall.add_column(f"{names[0]} − {names[1]}", justify="right")
    for label, path, kind in HEADLINE:
        left, right = _get(a, *path), _get(b, *path)
        overall.add_row(
            label, format_value(left, kind), format_value(right, kind), _delta(left, right, kind)
        )
    parts: list[Any] = [overall]

    typologies = sorted(set(a.get("per_typology") or {}) | set(b.get("per_typology") or {}))
    if typologies:
        table = Table(title="Per typology", title_justify="left")
        table.add_column("typology")
        shown = (
            ("recall @ 1% FPR", "recall_at_1pct_fpr", "pct"),
            ("AUPRC vs legit", "auprc_vs_legit", "ratio"),
        )
        for header, _, _ in shown:
            for name in names:
                table.add_column(f"{header}\n{name}", justify="right")
        for typology in typologies:
            cells = [
                format_value(_get(m, "per_typology", typology, key), kind)
                for _, key, kind in shown
                for m in (a, b)
            ]
            table.add_row(escape(typology), *cells)
        parts.append(table)
    return Group(*parts)


def _delta(left: Any, right: Any, kind: str) -> str:
    if left is None or right is None:
        return "—"
    difference = left - right
    formats: dict[str, Callable[[Any], str]] = {
        "pct": lambda d: f"{d * 100:+.2f} pp",
        "ratio": lambda d: f"{d:+.4f}",
        "usd": lambda d: f"{'+' if d >= 0 else '-'}${abs(d):,.0f}",
        "int": lambda d: f"{d:+,}",
    }
    return formats[kind](difference)
