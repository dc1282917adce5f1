"""The models-and-health page's figures: alert volume, case precision, score drift, latency."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import numpy as np

from vigil.aml.cases.model import Case, CaseStatus
from vigil.dashboard.feed import Entry
from vigil.dashboard.history import psi

LAYERS = ("total", "features", "rules", "model", "policy")


def alert_volume(cases: list[Case]) -> dict[str, Any]:
    """Alerts per day and typology, from every case's evidence."""
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    for case in cases:
        for alert in case.alerts:
            per_day[alert.ts.date().isoformat()][alert.typology] += 1
    days = sorted(per_day)
    typologies = sorted({t for c in per_day.values() for t in c})
    return {
        "days": days,
        "series": {t: [per_day[d][t] for d in days] for t in typologies},
        "total": sum(sum(c.values()) for c in per_day.values()),
    }


def case_precision(cases: list[Case]) -> dict[str, Any]:
    """Share of closed cases closed as true positives, overall and by first alert's typology."""
    closed = [c for c in cases if c.status.closed]
    by_typology: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for case in closed:
        typology = case.alerts[0].typology if case.alerts else "none"
        by_typology[typology][0] += case.status is CaseStatus.CLOSED_TRUE_POSITIVE
        by_typology[typology][1] += 1
    tp = sum(v[0] for v in by_typology.values())
    return {
        "closed": len(closed),
        "true_positive": tp,
        "precision": tp / len(closed) if closed else None,
        "by_typology": {
            t: {"true_positive": v[0], "closed": v[1], "precision": v[0] / v[1]}
            for t, v in sorted(by_typology.items())
        },
        "open": sum(not c.status.closed for c in cases),
    }


def latency(entries: list[Entry]) -> dict[str, Any]:
    """p50 / p95 / p99 per layer, in µs, of the decisions in the feed (API calls only: a
    replay fed in batches measures the engine, not the service)."""
    live = [e.decision.latency_us for e in entries if e.source == "api"] or [
        e.decision.latency_us for e in entries
    ]
    out: dict[str, Any] = {"n": len(live)}
    for layer in LAYERS:
        values = np.array([d.get(layer, 0) for d in live], dtype=np.float64)
        out[layer] = (
            {q: float(np.percentile(values, int(q[1:]))) for q in ("p50", "p95", "p99")}
            if len(values)
            else None
        )
    return out


def actions(entries: list[Entry]) -> dict[str, int]:
    return dict(Counter(e.decision.action for e in entries))


def drift(reference: np.ndarray | None, entries: list[Entry]) -> dict[str, Any] | None:
    """PSI of the live decisions' scores against the training period's, when both exist."""
    scores = np.array([e.decision.score for e in entries], dtype=np.float64)
    scores = scores[np.isfinite(scores)]
    if reference is None or len(reference) == 0 or len(scores) == 0:
        return None
    return psi(reference, scores)
