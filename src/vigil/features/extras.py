"""Extra columns as features: the user's own attributes beyond the contract, in the one path.

A risk team's files carry dozens of columns Vigil's contract does not name: a device score, an
address-verification result, counts from other systems. :class:`ExtraFeatures` is a feature
block (:mod:`vigil.features.blocks`) that reads them from ``Transaction.extra``: numbers as
numbers, low-cardinality text as categorical codes, and high-cardinality ids, where the mapping
says so, as entity keys with their own sliding windows. Being a block, it runs inside
:meth:`OnlineFeatures.process` for training replay and serving alike, so online == offline.

What it learns from the training span is only each column's kind and, for categoricals, the
vocabulary; labels play no part, so its outputs are usable on every training row (unlike the
learnt blocks, whose in-sample rows the trainer masks).

Values are normalised the same way whatever their source (a Parquet int, a CSV string, a JSON
number): ``"010"``, ``10`` and ``10.0`` are the same category and the same entity.
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl

from vigil.features.spec import BUCKETS_PER_WINDOW, WINDOWS
from vigil.features.state import Window
from vigil.features.stores.memory import load_snapshot
from vigil.money import to_usd_cents
from vigil.schema.mapping import ExtraColumns
from vigil.schema.records import FieldError, Transaction
from vigil.schema.tables import TRANSACTIONS

NAN = math.nan
CONFIG = "extras.json"
DEFAULT_WINDOWS = ("1h", "24h", "7d")
DAY = 86_400


@dataclass(frozen=True)
class ExtraColumn:
    """One extra column the model reads, and how."""

    column: str
    kind: str  # numeric | categorical | entity
    features: tuple[str, ...]
    required: bool = False
    categories: tuple[str, ...] = ()  # codes 0..n-1; anything else is code n ("other")
    windows: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["features"], out["categories"], out["windows"] = (
            list(self.features),
            list(self.categories),
            list(self.windows),
        )
        return out


class ExtraFeatures:
    """The feature block over extra columns (kind ``extras``)."""

    kind = "extras"
    degraded = False  #: never: see :meth:`live`

    def __init__(
        self,
        columns: Sequence[ExtraColumn],
        ignored: dict[str, str] | None = None,
        selection: str = "",
    ):
        self.columns = tuple(columns)
        self.ignored = dict(ignored or {})
        self.selection = selection
        self.names = tuple(name for c in self.columns for name in c.features)
        self.required = tuple(c.column for c in self.columns if c.required)
        self.categorical = tuple(c.features[0] for c in self.columns if c.kind == "categorical")
        self.fingerprint = hashlib.sha256(
            json.dumps([c.to_dict() for c in self.columns], sort_keys=True).encode()
        ).hexdigest()[:16]
        self._codes = [
            {value: float(i) for i, value in enumerate(c.categories)}
            if c.kind == "categorical"
            else None
            for c in self.columns
        ]
        self._spans = [
            tuple((WINDOWS[w], max(1, WINDOWS[w] // BUCKETS_PER_WINDOW)) for w in c.windows)
            for c in self.columns
        ]
        #: per entity column: key -> (windows, first seen)
        self._state: list[dict[str, list]] = [{} for _ in self.columns]

    # ---- fitting ------------------------------------------------------------------------

    @classmethod
    def fit(
        cls,
        frame: pl.DataFrame,
        seed: int = 0,
        progress: bool = False,
        selection: ExtraColumns | None = None,
    ) -> ExtraFeatures:
        """Decide each extra column's use from the training frame (and the mapping's
        ``features`` section): which are used, as what, with which categories."""
        selection = selection or ExtraColumns()
        extras = [c for c in frame.columns if TRANSACTIONS.column(c) is None]
        named = {
            "include": selection.include or (),
            "numeric": selection.numeric,
            "categorical": selection.categorical,
            "entities": [name for name, _ in selection.entities],
            "required": selection.required,
        }
        for key, names in named.items():
            for name in names:
                if name not in extras:
                    raise ValueError(
                        f"{selection.where(key)}: column '{name}' is not an extra column of "
                        f"the transactions; they have {', '.join(extras) or 'none'}"
                    )
        candidates = [
            c
            for c in extras
            if (selection.include is None or c in selection.include) and c not in selection.exclude
        ]
        windows = dict(selection.entities)
        for name, spans in windows.items():
            unknown = [w for w in spans if w not in WINDOWS]
            if unknown:
                raise ValueError(
                    f"{selection.where('entities')}: unknown window {unknown[0]!r} for "
                    f"'{name}'; choose from {', '.join(WINDOWS)}"
                )
        columns: list[ExtraColumn] = []
        ignored = {c: "excluded by the mapping" for c in extras if c not in candidates}
        taken: dict[str, str] = {}
        for name in candidates:
            series = frame.get_column(name)
            kind, reason = _kind(series, name, selection)
            if kind is None:
                ignored[name] = reason
                continue
            base = feature_name(name)
            if base in taken:
                raise ValueError(
                    f"extra columns '{taken[base]}' and '{name}' both become feature {base}; "
                    "rename one"
                )
            taken[base] = name
            required = name in selection.required
            if kind == "numeric":
                _check_numeric(series, name, selection)
                columns.append(ExtraColumn(name, kind, (base,), required))
            elif kind == "categorical":
                categories = _vocabulary(series, selection.max_categories)
                columns.append(ExtraColumn(name, kind, (base,), required, categories))
            else:
                spans = windows.get(name, DEFAULT_WINDOWS)
                features = (
                    *(f"{base}_{agg}_{w}" for w in spans for agg in ("count", "sum")),
                    f"{base}_days_since_first",
                )
                columns.append(ExtraColumn(name, kind, features, required, windows=spans))
        for name in selection.required:
            if name not in {c.column for c in columns}:
                raise ValueError(
                    f"{selection.where('required')}: '{name}' is required but not used "
                    f"({ignored.get(name, 'excluded')})"
                )
        return cls(columns, ignored, selection.origin)

    def describe(self) -> dict[str, Any]:
        """For the bundle manifest: which extra columns the model uses and how."""
        used = []
        for c in self.columns:
            entry: dict[str, Any] = {
                "column": c.column,
                "as": c.kind,
                "features": list(c.features),
                "required": c.required,
            }
            if c.kind == "categorical":
                entry["categories"] = len(c.categories)
            if c.kind == "entity":
                entry["windows"] = list(c.windows)
            used.append(entry)
        return {"selection": self.selection, "used": used, "ignored": self.ignored}

    # ---- per payment --------------------------------------------------------------------

    def process(self, txn: Transaction) -> list[float]:
        extra = txn.extra
        out: list[float] = []
        now = -1
        amount = 0
        for i, column in enumerate(self.columns):
            value = extra.get(column.column)
            kind = column.kind
            if kind == "numeric":
                out.append(_as_float(value))
            elif kind == "categorical":
                if value is None or value == "":
                    out.append(NAN)
                else:
                    codes = self._codes[i]
                    out.append(codes.get(_key(value), float(len(codes))))
            else:
                if now < 0:
                    now = int(txn.ts.timestamp())
                    amount = to_usd_cents(txn.amount, txn.currency)
                self._entity(i, value, now, amount, out)
        return out

    def _entity(self, i: int, value: Any, now: int, amount: int, out: list[float]) -> None:
        spans = self._spans[i]
        if value is None or value == "":
            out.extend([NAN] * (2 * len(spans) + 1))
            return
        key = _key(value)
        state = self._state[i].get(key)
        if state is None:
            state = [[Window(span, step) for span, step in spans], now]
            self._state[i][key] = state
            out.extend([0.0] * (2 * len(spans)))
            out.append(NAN)
        else:
            for window in state[0]:
                window.expire(now)
                out.append(float(window.count))
                out.append(window.total / 100.0)
            out.append((now - state[1]) / DAY)
        for window in state[0]:
            window.add(now, amount)

    def check(self, txn: Transaction) -> None:
        """Refuse a request lacking a column marked required (the API answers 422)."""
        for name in self.required:
            value = txn.extra.get(name)
            if value is None or value == "":
                raise FieldError(name, "required field is missing: the model reads it")

    def live(self, budget_us: int | None) -> None:
        """Nothing to leave out: reading columns off the payment costs the same every time."""

    def observe_label(self, txn_id: str, is_fraud: bool) -> None:
        """Labels change nothing here: extra columns are the user's, not learnt from labels."""

    # ---- persistence --------------------------------------------------------------------

    def snapshot(self, path: Path) -> None:
        with Path(path).open("wb") as handle:
            pickle.dump((self.fingerprint, self._state), handle, protocol=pickle.HIGHEST_PROTOCOL)

    def restore(self, path: Path) -> None:
        fingerprint, state = load_snapshot(path, "snapshot of extra columns")
        if fingerprint != self.fingerprint:
            raise ValueError(
                f"{path}: snapshot of extra columns {fingerprint}, these are {self.fingerprint}"
            )
        self._state = state

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        config = {
            "columns": [c.to_dict() for c in self.columns],
            "ignored": self.ignored,
            "selection": self.selection,
        }
        (folder / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True))

    @classmethod
    def load(cls, folder: Path) -> ExtraFeatures:
        config = json.loads((Path(folder) / CONFIG).read_text())
        columns = [
            ExtraColumn(
                c["column"],
                c["kind"],
                tuple(c["features"]),
                c["required"],
                tuple(c["categories"]),
                tuple(c["windows"]),
            )
            for c in config["columns"]
        ]
        return cls(columns, config.get("ignored"), config.get("selection", ""))


def request_checks(blocks: Sequence[Any]) -> tuple[ExtraFeatures, ...]:
    """The extra-column blocks among a feature engine's blocks (the API checks requests
    against their required columns before deciding)."""
    return tuple(b for b in blocks if isinstance(b, ExtraFeatures) and b.required)


def feature_name(column: str) -> str:
    """``extra_`` and the column name reduced to letters, digits and underscores (LightGBM
    rewrites other characters, and the bundle must name its features exactly)."""
    return "extra_" + (re.sub(r"[^0-9A-Za-z_]+", "_", column).strip("_") or "column")


def _kind(series: pl.Series, name: str, selection: ExtraColumns) -> tuple[str | None, str]:
    if name in dict(selection.entities):
        return "entity", ""
    if name in selection.categorical:
        return "categorical", ""
    if name in selection.numeric:
        return "numeric", ""
    dtype = series.dtype
    present = series.drop_nulls()
    if present.len() == 0:
        return None, "always missing"
    if dtype.is_numeric() or dtype == pl.Boolean:
        return "numeric", ""
    if dtype == pl.String:
        distinct = present.n_unique()
        if distinct <= selection.max_categories:
            return "categorical", ""
        return None, (
            f"high cardinality ({distinct:,} distinct values, more than max_categories "
            f"{selection.max_categories}); list it under features.entities to key windows on it"
        )
    return None, f"unsupported type {dtype}"


def _check_numeric(series: pl.Series, name: str, selection: ExtraColumns) -> None:
    if series.dtype.is_numeric() or series.dtype == pl.Boolean:
        return
    values = series.cast(pl.String)
    parsed = values.cast(pl.Float64, strict=False)
    bad = parsed.is_null() & values.is_not_null()
    if bad.any():
        row = int(bad.arg_true()[0])
        raise ValueError(
            f"{selection.where('numeric')}: column '{name}' is not a number at row "
            f"{row + 1} (got {values[row]!r})"
        )


def _vocabulary(series: pl.Series, limit: int) -> tuple[str, ...]:
    """The ``limit`` most frequent values (ties by name), normalised; the rest share a code."""
    counts: dict[str, int] = {}
    for value, count in series.drop_nulls().value_counts().iter_rows():
        if value == "":
            continue
        key = _key(value)
        counts[key] = counts.get(key, 0) + count
    ranked = sorted(counts, key=lambda k: (-counts[k], k))
    return tuple(ranked[:limit])


def _as_float(value: Any) -> float:
    if value is None:
        return NAN
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "false"):
            return float(text == "true")
        try:
            return float(text)
        except ValueError:
            return NAN
    return NAN


def _key(value: Any) -> str:
    """One spelling per value: 10, 10.0, "10" and "010" are all "10"; True is "true"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    text = str(value).strip()
    if text.lower() in ("true", "false"):
        return text.lower()
    if text[:1].isdigit() or text[:1] in "+-.":
        try:
            return str(int(text))
        except ValueError:
            pass
        try:
            return _key(float(text))
        except ValueError:
            pass
    return text
