"""Backtest: what a candidate pack would have flagged on history, next to the live pack.

Rules are cheap to change and expensive to get wrong, so a change is judged on history before
it goes live: how many payments it stops, how many of those were fraud, how many good customers
it inconveniences. Both packs run over the same feature frame (one row per transaction, built by
replaying history through the engine's own feature code, labels alongside) in one pass.

A transaction counts as *alerted* when the strictest action among its hits is ``review`` or
``decline``; ``flag`` and ``approve`` hits are counted as hits but set no floor.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat

import numpy as np
import polars as pl
from rich.console import Group
from rich.table import Table

from vigil.rules.pack import BASE, CompiledPack, RuleHit

_SEVERITY = {"review": 1, "decline": 2}
_LABELS = ("is_fraud", "typology", "label_ts")


@dataclass(frozen=True)
class PackOutcome:
    """One pack's results on the backtest rows; label-based figures are None without labels."""

    version: str
    hits: int  #: transactions with at least one hit
    reviews: int  #: transactions whose strictest hit is review
    declines: int
    precision: float | None
    false_positive_rate: float | None
    recall: float | None
    fraud_amount_caught: float | None
    by_rule: dict[str, tuple[int, int]]  #: rule id -> (hits, hits on fraud)
    by_typology: dict[str, int]  #: typology -> alerted transactions

    @property
    def alerted(self) -> int:
        return self.reviews + self.declines


@dataclass(frozen=True)
class BacktestReport:
    jurisdiction: str
    rows: int
    frauds: int | None
    fraud_amount: float | None
    amount_unit: str  #: "USD" when the frame has amount_usd, else local minor units
    typology_counts: dict[str, int]
    missing_columns: tuple[str, ...]  #: read by a rule but absent: those rules never fired
    candidate: PackOutcome
    live: PackOutcome | None
    seconds: float

    def render(self) -> Group:
        """Side-by-side tables for a terminal: summary, per typology, per rule."""
        packs = [p for p in (self.live, self.candidate) if p is not None]
        titles = ([f"live {self.live.version}"] if self.live else []) + [
            f"candidate {self.candidate.version}"
        ]
        summary = Table(
            title=f"Backtest {self.jurisdiction}: {self.rows:,} transactions"
            + (f", {self.frauds:,} fraud" if self.frauds is not None else ""),
        )
        summary.add_column("")
        for title in titles:
            summary.add_column(title, justify="right")
        rows = [
            ("transactions hit", lambda p: f"{p.hits:,}"),
            ("review", lambda p: f"{p.reviews:,}"),
            ("decline", lambda p: f"{p.declines:,}"),
            ("precision", lambda p: _percent(p.precision)),
            ("false-positive rate", lambda p: _percent(p.false_positive_rate, 3)),
            ("recall", lambda p: _percent(p.recall)),
            (
                f"fraud amount caught ({self.amount_unit})",
                lambda p: _amount(p.fraud_amount_caught, self.fraud_amount),
            ),
        ]
        for label, cell in rows:
            summary.add_row(label, *(cell(p) for p in packs))
        tables: list[Table] = [summary]
        if self.typology_counts:
            typologies = Table(title="Alerted transactions per typology")
            typologies.add_column("typology")
            typologies.add_column("transactions", justify="right")
            for title in titles:
                typologies.add_column(title, justify="right")
            for name, total in sorted(self.typology_counts.items()):
                typologies.add_row(
                    name, f"{total:,}", *(f"{p.by_typology.get(name, 0):,}" for p in packs)
                )
            tables.append(typologies)
        rules = Table(title="Hits per rule (on fraud)")
        rules.add_column("rule")
        for title in titles:
            rules.add_column(title, justify="right")
        for rule_id in sorted({r for p in packs for r in p.by_rule}):
            rules.add_row(rule_id, *(_rule_cell(p, rule_id, self.frauds) for p in packs))
        tables.append(rules)
        return Group(*tables)


def backtest(
    candidate: CompiledPack, live: CompiledPack | None, frame: pl.DataFrame
) -> BacktestReport:
    """Evaluate both packs on ``frame`` (transactions in time order with features and labels).

    Only the candidate's jurisdiction's rows are used, except for ``base``, which runs on all.
    """
    started = time.perf_counter()
    if live is not None and live.jurisdiction != candidate.jurisdiction:
        raise ValueError(
            f"live pack is for {live.jurisdiction}, the candidate for {candidate.jurisdiction}"
        )
    if candidate.jurisdiction != BASE and "jurisdiction" in frame.columns:
        frame = frame.filter(pl.col("jurisdiction") == candidate.jurisdiction)
    packs = [p for p in (candidate, live) if p is not None]
    wanted = set().union(*(p.fields for p in packs)) - set(_LABELS)
    hits = _evaluate(packs, frame, sorted(wanted & set(frame.columns)))
    fraud = (
        frame.get_column("is_fraud").fill_null(False).to_numpy().astype(bool)
        if "is_fraud" in frame.columns
        else None
    )
    unit = "USD" if "amount_usd" in frame.columns else "minor units"
    amounts = frame.get_column("amount_usd" if unit == "USD" else "amount").to_numpy()
    typology = frame.get_column("typology").to_numpy() if "typology" in frame.columns else None
    outcomes = [
        _outcome(p, rows, hit_lists, frame.height, fraud, amounts, typology)
        for p, (rows, hit_lists) in zip(packs, hits, strict=True)
    ]
    return BacktestReport(
        jurisdiction=candidate.jurisdiction,
        rows=frame.height,
        frauds=int(fraud.sum()) if fraud is not None else None,
        fraud_amount=float(amounts[fraud].sum()) if fraud is not None else None,
        amount_unit=unit,
        typology_counts=_counts(typology) if typology is not None else {},
        missing_columns=tuple(sorted(wanted - set(frame.columns))),
        candidate=outcomes[0],
        live=outcomes[1] if live is not None else None,
        seconds=time.perf_counter() - started,
    )


def _evaluate(
    packs: list[CompiledPack], frame: pl.DataFrame, columns: list[str]
) -> list[tuple[list[int], list[list[RuleHit]]]]:
    """Each pack's hits: the rows that had any, and the hits of each such row.

    One pass reads each frame row once and lays it out as each pack's row (a candidate compiled
    elsewhere may order its names differently); names the frame lacks read as missing.
    """
    values = [frame.get_column(c).to_list() for c in columns]
    if any(p.dated for p in packs):
        times: Iterable[datetime] = frame.get_column("ts").to_list()
    else:
        times = repeat(datetime(1970, 1, 1, tzinfo=UTC), frame.height)
    where = {name: i for i, name in enumerate(columns)}
    missing = len(columns)  # the None put after each frame row
    layouts = [[where.get(name, missing) for name in p.layout] for p in packs]
    evaluators = [p.evaluate for p in packs]
    found: list[tuple[list[int], list[list[RuleHit]]]] = [([], []) for _ in packs]
    rows = zip(*values, strict=True) if values else repeat((), frame.height)
    for i, (row, at) in enumerate(zip(rows, times, strict=True)):
        read = (*row, None).__getitem__
        for evaluate, layout, (hit_rows, hit_lists) in zip(evaluators, layouts, found, strict=True):
            hits = evaluate(list(map(read, layout)), at)
            if hits:
                hit_rows.append(i)
                hit_lists.append(hits)
    return found


def _outcome(
    pack: CompiledPack,
    hit_rows: list[int],
    hit_lists: list[list[RuleHit]],
    height: int,
    fraud: np.ndarray | None,
    amounts: np.ndarray,
    typology: np.ndarray | None,
) -> PackOutcome:
    level = np.asarray(
        [max(_SEVERITY.get(h.action, 0) for h in hits) for hits in hit_lists], dtype=np.int8
    )
    alerted = np.zeros(height, dtype=bool)
    alerted[np.asarray(hit_rows, dtype=np.int64)[level >= 1]] = True
    by_rule = Counter(h.rule_id for hits in hit_lists for h in hits)
    by_rule_fraud: Counter[str] = Counter()
    if fraud is not None:
        by_rule_fraud.update(
            h.rule_id for i, hits in zip(hit_rows, hit_lists, strict=True) if fraud[i] for h in hits
        )
    precision = fpr = recall = caught = None
    if fraud is not None:
        true_alerts = int((alerted & fraud).sum())
        precision = _ratio(true_alerts, int(alerted.sum()))
        fpr = _ratio(int((alerted & ~fraud).sum()), int((~fraud).sum()))
        recall = _ratio(true_alerts, int(fraud.sum()))
        caught = float(amounts[alerted & fraud].sum())
    return PackOutcome(
        version=pack.version,
        hits=len(hit_rows),
        reviews=int((level == 1).sum()),
        declines=int((level == 2).sum()),
        precision=precision,
        false_positive_rate=fpr,
        recall=recall,
        fraud_amount_caught=caught,
        by_rule={r: (n, by_rule_fraud[r]) for r, n in by_rule.items()},
        by_typology=_counts(typology[alerted]) if typology is not None else {},
    )


def _counts(values: np.ndarray) -> dict[str, int]:
    names, counts = np.unique(values.astype(str), return_counts=True)
    return {str(n): int(c) for n, c in zip(names, counts, strict=True)}


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def _amount(caught: float | None, total: float | None) -> str:
    if caught is None:
        return "–"
    share = f" ({100 * caught / total:.1f}%)" if total else ""
    return f"{caught:,.0f}{share}"


def _rule_cell(outcome: PackOutcome, rule_id: str, frauds: int | None) -> str:
    if rule_id not in outcome.by_rule:
        return ""
    hits, on_fraud = outcome.by_rule[rule_id]
    return f"{hits:,}" if frauds is None else f"{hits:,} ({on_fraud:,})"
