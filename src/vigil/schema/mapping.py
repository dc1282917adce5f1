"""Column mapping: a user's own files and requests onto the contract of ``schema.md``.

Nobody's data arrives in Vigil's contract. A mapping is a small YAML file that says, per
contract column, where its values come from in the user's table and how to read them::

    transactions:
      file: card_auths.csv
      columns:
        txn_id: auth_id
        ts: {column: event_time, format: "%d/%m/%Y %H:%M:%S", timezone: Asia/Singapore}
        payer_id: [card_no, zip]            # a composite key
        amount: {column: amt, units: major} # 12.50 -> 1250 minor units of the row's currency
        currency: USD                       # a constant
      features: {categorical: [avs_result], entities: {card_bin: [1h, 24h]}}

The same mapping reads files (:meth:`ColumnMapping.read_table`, whole columns in polars) and
single requests (:meth:`ColumnMapping.record`, one dict in plain Python, for the API); the two
agree value for value, which a test holds them to. Every error names the mapping file, the
line of the entry at fault and the user's column, and, for a bad value, its row.

Scalars are read from the YAML as text and typed here, by position: ``jurisdiction: NO``
is Norway, not YAML 1.1's false, and ``values: {Y: true}`` keeps its key ``Y``.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl
import yaml

from vigil.money import MINOR_UNIT_EXPONENT
from vigil.schema.io import FORMATS, _infer_extra, _read_jsonl, find_table, write_table
from vigil.schema.records import FieldError
from vigil.schema.tables import TABLES, TYPOLOGIES, Column, Kind, TableSpec
from vigil.schema.validate import PATTERNS, SchemaError, conform

#: Epoch units: microseconds per unit as a fraction (numerator, denominator).
UNITS: dict[str, tuple[int, int]] = {
    "ns": (1, 1_000),
    "us": (1, 1),
    "ms": (1_000, 1),
    "s": (1_000_000, 1),
    "m": (60_000_000, 1),
    "h": (3_600_000_000, 1),
    "d": (86_400_000_000, 1),
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
FIELD_KEYS = (
    "column",
    "columns",
    "separator",
    "value",
    "values",
    "default",
    "format",
    "timezone",
    "unit",
    "origin",
    "scale",
    "units",
)
SECTION_KEYS = ("file", "delimiter", "columns", "features")
FEATURE_KEYS = (
    "include",
    "exclude",
    "numeric",
    "categorical",
    "entities",
    "required",
    "max_categories",
)
_NULL_TAG = "tag:yaml.org,2002:null"


class MappingError(SchemaError):
    """A mapping that cannot be applied: names the mapping file and line, the contract field,
    the user's column and, for a bad value, the 1-based data row."""

    def __init__(
        self,
        problem: str,
        source: str = "mapping",
        line: int | None = None,
        table: str = "*",
        field: str | None = None,
        column: str | None = None,
        row: int | None = None,
    ):
        self.table, self.column, self.problem, self.row = table, column or "*", problem, row
        self.source, self.line, self.field = source, line, field
        where = source + (f", line {line}" if line is not None else "")
        if field is not None:
            where += f" ({table}.{field})"
        detail = (f"row {row}, " if row is not None else "") + (
            f"column '{column}': " if column else ""
        )
        ValueError.__init__(self, f"{where}: {detail}{problem}")


@dataclass(frozen=True)
class Problem:
    """A value problem found while reading leniently (for ``vigil inspect``)."""

    table: str
    column: str
    problem: str
    rows: int | None
    first_row: int | None = None
    example: str | None = None
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "column": self.column,
            "problem": self.problem,
            "rows": self.rows,
            "first_row": self.first_row,
            "example": self.example,
            "mapping_line": self.line,
        }


# ---- YAML with line numbers ---------------------------------------------------------------


class _Lined(dict):
    """A YAML mapping whose keys remember the line they were written on."""

    line: int
    lines: dict[str, int]


def _yaml(text: str, source: str) -> Any:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        raise MappingError(
            f"not valid YAML ({problem})", source, mark.line + 1 if mark else None
        ) from None
    return None if node is None else _build(node, source)


def _build(node: yaml.Node, source: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        out = _Lined()
        out.line, out.lines = node.start_mark.line + 1, {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise MappingError("keys must be plain names", source, line)
            key = key_node.value
            if key in out:
                raise MappingError(f"'{key}' is given twice (first on line {out.lines[key]})",
                                   source, line)  # fmt: skip
            out[key] = _build(value_node, source)
            out.lines[key] = line
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, source) for item in node.value]
    return None if node.tag == _NULL_TAG else node.value


# ---- one contract column ------------------------------------------------------------------


@dataclass(frozen=True)
class FieldMap:
    """Where one contract column comes from, and how its values are read."""

    table: str
    field: str
    kind: Kind
    line: int
    source: str
    columns: tuple[str, ...] = ()
    separator: str = ":"
    constant: str | None = None
    values: tuple[tuple[str, str | None], ...] | None = None
    default: str | None = None
    has_default: bool = False
    format: str | None = None
    timezone: str | None = None
    unit: str | None = None
    origin: datetime = EPOCH
    scale: int | float | None = None
    major: bool = False

    def error(self, problem: str, row: int | None = None, column: str | None = None):
        return MappingError(
            problem,
            self.source,
            self.line,
            self.table,
            self.field,
            column if column is not None else self.column_label,
            row,
        )

    @property
    def column_label(self) -> str | None:
        return "+".join(self.columns) if self.columns else None

    @property
    def needs_python_time(self) -> bool:
        return self.kind is Kind.TIMESTAMP and (
            self.format is not None or self.timezone is not None
        )

    # -- whole columns --

    def series(
        self, raw: pl.DataFrame, done: dict[str, pl.Series]
    ) -> tuple[pl.Series, pl.Series | None, pl.Series]:
        """(values, failed rows or None, the source values shown in messages)."""
        height = raw.height
        if self.constant is not None:
            values = pl.Series(self.field, [self.constant] * height, dtype=pl.String)
            return values, None, values
        if len(self.columns) == 1:
            source = raw.get_column(self.columns[0])
        else:
            source = raw.select(
                pl.concat_str(
                    [pl.col(c).cast(pl.String) for c in self.columns], separator=self.separator
                )
            ).to_series()
        values = source
        if self.values is not None:
            values = _replace(values, self)
        if self.kind is Kind.TIMESTAMP:
            parsed = self._timestamps(values)
        elif self.kind is Kind.INT and (self.scale is not None or self.major):
            parsed = self._minor_units(values, done)
        else:
            return values.alias(self.field), None, source
        failed = parsed.is_null() & values.is_not_null()
        return parsed.alias(self.field), failed, source

    def _timestamps(self, values: pl.Series) -> pl.Series:
        utc = pl.Datetime("us", "UTC")
        if self.unit is not None:
            return _from_epoch(values, self.unit, self.origin)
        if isinstance(values.dtype, pl.Datetime):
            if values.dtype.time_zone is not None:
                return values.dt.cast_time_unit("us").dt.convert_time_zone("UTC")
            return (
                values.dt.cast_time_unit("us")
                .dt.replace_time_zone(
                    self.timezone or "UTC", ambiguous="earliest", non_existent="null"
                )
                .dt.convert_time_zone("UTC")
            )
        if not self.needs_python_time:
            return values  # RFC 3339 text: the contract's own reader parses it
        text = values.cast(pl.String)
        unique = text.drop_nulls().unique().to_list()
        parsed = [self._parse_time(v) for v in unique]
        return pl.select(
            pl.lit(text).replace_strict(unique, parsed, default=None, return_dtype=utc)
        ).to_series()

    def _minor_units(self, values: pl.Series, done: dict[str, pl.Series]) -> pl.Series:
        if self.major:
            currency = done.get("currency")
            if currency is None:
                raise self.error("units: major needs the currency column mapped too")
            exponent = currency.replace_strict(
                MINOR_UNIT_EXPONENT, default=None, return_dtype=pl.Int64
            )
            unknown = exponent.is_null() & currency.is_not_null() & values.is_not_null()
            if unknown.any():
                row = int(unknown.arg_true()[0])
                raise self.error(
                    f"no minor-unit exponent is known for currency {currency[row]!r}; "
                    "give the scale instead, e.g. scale: 100",
                    row + 1,
                )
            scale = pl.lit(10).pow(pl.lit(exponent))
            exact = True
        else:
            exact = float(self.scale).is_integer()
            scale = pl.lit(int(self.scale) if exact else float(self.scale))
        if values.dtype == pl.Boolean:
            return pl.Series(values.name, [None] * len(values), dtype=pl.Int64)
        frame = pl.DataFrame({"v": values})
        ints = _whole_numbers(values)
        floats = pl.col("v").cast(pl.Float64, strict=False)
        rounded = (floats * scale + 0.5).floor()
        # Out-of-range floats would wrap on the cast; they fail instead.
        rounded = pl.when(rounded.abs() < 2.0**62).then(rounded).otherwise(None).cast(pl.Int64)
        if exact:
            minor = pl.when(ints.is_not_null()).then(ints * scale.cast(pl.Int64)).otherwise(rounded)
        else:
            minor = rounded
        return frame.select(minor.alias("v")).to_series()

    # -- one record --

    def value(self, data: Mapping[str, Any], done: Mapping[str, Any]) -> Any:
        if self.constant is not None:
            return self.constant
        parts = [data.get(c) for c in self.columns]
        if any(p is None or p == "" for p in parts):
            if not self.has_default or self.default is None:
                return None
            source = value = self.default  # default covers empty values too
        else:
            source = parts[0] if len(parts) == 1 else self.separator.join(_text(p) for p in parts)
            value = source
            if self.values is not None:
                value = _replace_one(_text(value), self)
                if value is None:
                    return None
        if self.kind is Kind.TIMESTAMP:
            parsed = self._time_value(value)
        elif self.kind is Kind.INT and (self.scale is not None or self.major):
            parsed = self._minor_value(value, done)
        elif self.kind is Kind.STRING and isinstance(value, int | float | bool):
            return _text(value)  # a JSON number where the file has text: as files cast it
        else:
            return value
        if parsed is None:
            raise FieldError(
                self.columns[0] if len(self.columns) == 1 else self.column_label or self.field,
                f"expected {self._expected()}, got {source!r} (mapped to {self.field} by "
                f"{self.source} line {self.line})",
            )
        return parsed

    def _time_value(self, value: Any) -> datetime | None:
        if self.unit is not None:
            return _epoch_value(value, self.unit, self.origin)
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                return value.astimezone(UTC)
            return _localise(value, self.timezone)
        if not isinstance(value, str):
            return None
        return self._parse_time(value)

    def _parse_time(self, text: str) -> datetime | None:
        try:
            if self.format is not None:
                parsed = datetime.strptime(text.strip(), self.format)
            else:
                parsed = datetime.fromisoformat(text.strip())
        except ValueError:
            return None
        if parsed.tzinfo is not None:
            return parsed.astimezone(UTC)
        return _localise(parsed, self.timezone)

    def _minor_value(self, value: Any, done: Mapping[str, Any]) -> int | None:
        if self.major:
            currency = done.get("currency")
            exponent = MINOR_UNIT_EXPONENT.get(currency) if isinstance(currency, str) else None
            if exponent is None:
                raise FieldError(
                    "currency",
                    f"no minor-unit exponent is known for currency {currency!r} "
                    f"({self.source} line {self.line}: amount in major units)",
                )
            scale: int | float = 10**exponent
        else:
            scale = int(self.scale) if float(self.scale).is_integer() else float(self.scale)
        number = _number(value)
        if number is None:
            return None
        if isinstance(number, int) and isinstance(scale, int):
            return number * scale
        rounded = math.floor(number * scale + 0.5)
        return rounded if abs(rounded) < 2.0**62 else None

    def _expected(self) -> str:
        if self.kind is Kind.TIMESTAMP:
            if self.unit is not None:
                return f"a number of {self.unit} since {self.origin.isoformat()}"
            if self.format is not None:
                return f"a time in the format {self.format!r}"
            return "an RFC 3339 timestamp such as 2026-01-01T08:00:00Z"
        return "a number"


def _localise(value: datetime, timezone: str | None) -> datetime:
    if timezone is None:
        return value.replace(tzinfo=UTC)
    return value.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def _text(value: Any) -> str:
    """A value as text, spelled as polars casts it, so keys built from files and from requests
    agree (``True`` is ``"true"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _replace(values: pl.Series, spec: FieldMap) -> pl.Series:
    text = values.cast(pl.String)
    table = dict(spec.values or ())
    default = pl.lit(spec.default, dtype=pl.String) if spec.has_default else pl.col("v")
    empty = pl.lit(spec.default, dtype=pl.String) if spec.has_default else None
    return (
        pl.DataFrame({"v": text})
        .select(
            pl.when(pl.col("v").is_null())
            .then(empty)
            .otherwise(pl.col("v").replace_strict(table, default=default, return_dtype=pl.String))
            .alias(values.name)
        )
        .to_series()
    )


def _replace_one(text: str, spec: FieldMap) -> str | None:
    table = dict(spec.values or ())
    if text in table:
        return table[text]
    return spec.default if spec.has_default else text


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _from_epoch(values: pl.Series, unit: str, origin: datetime) -> pl.Series:
    num, den = UNITS[unit]
    offset = (origin - EPOCH) // _MICROSECOND
    if values.dtype == pl.Boolean:
        return pl.Series(values.name, [None] * len(values), dtype=pl.Datetime("us", "UTC"))
    frame = pl.DataFrame({"v": values})
    ints = _whole_numbers(values)
    floats = pl.col("v").cast(pl.Float64, strict=False)
    from_float = (floats * num / den + 0.5).floor()
    from_float = pl.when(from_float.abs() < 2.0**62).then(from_float).otherwise(None)
    micros = (
        pl.when(ints.is_not_null()).then(ints * num // den).otherwise(from_float.cast(pl.Int64))
    )
    return frame.select(
        pl.from_epoch(micros + offset, time_unit="us").dt.replace_time_zone("UTC").alias("v")
    ).to_series()


def _whole_numbers(values: pl.Series) -> pl.Expr:
    """Integers read exactly (no float on the way), as the record path's ``int(text)``; null
    where the value is not written as an integer, e.g. a float column or "12.5"."""
    if values.dtype.is_float():
        return pl.lit(None, dtype=pl.Int64)
    return pl.col("v").cast(pl.Int64, strict=False)


def _epoch_value(value: Any, unit: str, origin: datetime) -> datetime | None:
    number = _number(value)
    if number is None:
        return None
    num, den = UNITS[unit]
    if isinstance(number, int):
        micros = number * num // den
    else:
        micros = math.floor(number * num / den + 0.5)
        if abs(micros) >= 2.0**62:
            return None
    try:
        return origin.astimezone(UTC) + micros * _MICROSECOND
    except OverflowError:
        return None


# ---- one table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TableMapping:
    """How one contract table is read from the user's file."""

    table: str
    source: str
    line: int
    fields: dict[str, FieldMap]
    file: str | None = None
    delimiter: str = ","
    keep: tuple[str, ...] = ()  # mapped source columns also kept as extra columns
    columns_line: int | None = None

    @property
    def spec(self) -> TableSpec:
        return TABLES[self.table]

    @property
    def consumed(self) -> frozenset[str]:
        return frozenset(c for f in self.fields.values() for c in f.columns)

    def _ordered(self) -> list[FieldMap]:
        # amounts in major units read the mapped currency, so it comes first
        return sorted(self.fields.values(), key=lambda f: f.field == "amount")

    def frame(self, raw: pl.DataFrame, file_name: str, strict: bool = True):
        """The contract frame (not yet conformed) and, when not strict, the problems found."""
        for f in self._ordered():
            for column in f.columns:
                if column not in raw.columns:
                    hint = _suggest(column, raw.columns)
                    raise f.error(
                        f"is not a column of {file_name}{hint}; it has {', '.join(raw.columns)}",
                        column=column,
                    )
        problems: list[Problem] = []
        done: dict[str, pl.Series] = {}  # contract columns, then extras, in the contract's order
        for f in self._ordered():
            values, failed, source = f.series(raw, done)
            if failed is not None and failed.any():
                rows = failed.arg_true()
                first = int(rows[0])
                problem = f"expected {f._expected()}, got {source[first]!r}"
                if strict:
                    raise f.error(problem, first + 1)
                problems.append(
                    Problem(
                        self.table,
                        f.column_label or f.field,
                        f"{len(rows):,} values: {problem}",
                        len(rows),
                        first + 1,
                        str(source[first]),
                        f.line,
                    )
                )
            done[f.field] = values
        consumed = self.consumed
        contract = {c.name for c in self.spec.columns}
        for column in self.spec.columns:
            if column.name not in done and column.name in raw.columns:
                done[column.name] = raw.get_column(column.name)
        extras = [
            c
            for c in raw.columns
            if c not in contract and (c not in consumed or c in self.keep) and c not in done
        ]
        ordered = [c.name for c in self.spec.columns if c.name in done]
        for name in extras:
            series = raw.get_column(name)
            done[name] = _infer_extra(series) if series.dtype == pl.String else series
        columns = [*ordered, *extras]
        return pl.DataFrame([done[name].alias(name) for name in columns]), problems

    def conform(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Validate against the contract; an error in a mapped column names its mapping line."""
        missing = [c.name for c in self.spec.columns if c.required and c.name not in frame.columns]
        if missing:
            raise MappingError(
                f"required column '{missing[0]}' is not mapped and the file has no column of "
                f"that name; add e.g. `{missing[0]}: <your column>` under columns",
                self.source,
                self.columns_line or self.line,
                self.table,
                missing[0],
            )
        try:
            return conform(frame, self.spec)
        except MappingError:
            raise
        except SchemaError as error:
            f = self.fields.get(error.column)
            if f is None:
                raise
            raise f.error(error.problem, error.row) from None

    def record(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """One request, mapped; contract fields it lacks are left out (the record's own
        validation says which are required)."""
        if not isinstance(data, Mapping):
            raise FieldError("*", f"expected an object, got {type(data).__name__}")
        consumed = self.consumed
        out: dict[str, Any] = {
            k: v
            for k, v in data.items()
            if (k not in consumed or k in self.keep) and self.spec.column(k) is None
        }
        for f in self._ordered():
            value = f.value(data, out)
            if value is None:
                column = self.spec.column(f.field)
                if column is not None and column.required and f.columns:
                    raise FieldError(
                        next((c for c in f.columns if data.get(c) in (None, "")), f.columns[0]),
                        f"required field is missing (mapped to {f.field} by {f.source} "
                        f"line {f.line})",
                    )
                continue
            out[f.field] = value
        for column in self.spec.columns:
            if column.name not in self.fields and column.name in data:
                out[column.name] = data[column.name]
        return out


def _suggest(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


# ---- the whole mapping --------------------------------------------------------------------


@dataclass(frozen=True)
class ExtraColumns:
    """Which columns beyond the contract the model layers use, and how (a mapping's
    ``features`` section). ``include`` None means every extra column; the kind of a column
    not named in ``numeric``, ``categorical`` or ``entities`` is inferred from its values."""

    include: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    entities: tuple[tuple[str, tuple[str, ...]], ...] = ()
    required: tuple[str, ...] = ()
    max_categories: int = 32
    source: str = "every extra column (no mapping)"
    lines: tuple[tuple[str, int], ...] = ()
    fingerprint: str | None = None  # of the mapping file it came from

    def where(self, key: str) -> str:
        line = dict(self.lines).get(key)
        return f"{self.source}" + (f", line {line}" if line else "") + f" (features.{key})"

    @property
    def origin(self) -> str:
        """Where the selection came from, for the bundle manifest."""
        return self.source + (f" (sha256 {self.fingerprint})" if self.fingerprint else "")


@dataclass(frozen=True)
class ColumnMapping:
    """A parsed mapping file: per-table column maps and the extra-column selection."""

    source: str
    fingerprint: str
    tables: dict[str, TableMapping] = field(default_factory=dict)
    features: ExtraColumns = field(default_factory=ExtraColumns)

    @classmethod
    def load(cls, path: Path) -> ColumnMapping:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise MappingError("mapping file not found", str(path)) from None
        return cls.parse(text, source=path.name)

    @classmethod
    def parse(cls, text: str, source: str = "mapping") -> ColumnMapping:
        fingerprint = hashlib.sha256(text.encode()).hexdigest()[:16]
        data = _yaml(text, source)
        if data is None:
            data = _Lined()
            data.line, data.lines = 1, {}
        if not isinstance(data, _Lined):
            raise MappingError("expected a mapping of table names to sections", source, 1)
        tables: dict[str, TableMapping] = {}
        features = ExtraColumns(source=source, fingerprint=fingerprint)
        for key, value in data.items():
            line = data.lines[key]
            if key == "version":
                if value != "1":
                    raise MappingError(f"unsupported version {value!r}; this is version 1",
                                       source, line)  # fmt: skip
                continue
            if key not in TABLES:
                raise MappingError(
                    f"'{key}' is not a table of the contract{_suggest(key, list(TABLES))}; "
                    f"tables: {', '.join(TABLES)}",
                    source,
                    line,
                )
            if not isinstance(value, _Lined):
                raise MappingError(
                    f"expected a section with {', '.join(SECTION_KEYS)}", source, line, key
                )
            tables[key] = _table(key, value, source)
            if "features" in value:
                if key != "transactions":
                    raise MappingError(
                        "features are read from transactions only",
                        source,
                        value.lines["features"],
                        key,
                    )
                features = _features(value["features"], value.lines["features"], source)
                features = replace(features, fingerprint=fingerprint)
        if "transactions" in tables:
            # a column the mapping reads, and that include names, is also kept as an extra
            section = tables["transactions"]
            keep = tuple(c for c in (features.include or ()) if c in section.consumed)
            tables["transactions"] = replace(section, keep=keep)
        return cls(source, fingerprint, tables, features)

    def describe(self) -> dict[str, Any]:
        return {"file": self.source, "sha256": self.fingerprint, "tables": sorted(self.tables)}

    @property
    def maps_tables(self) -> bool:
        """Whether any table is read other than as the contract (a file name or a column)."""
        return any(t.fields or t.file for t in self.tables.values())

    # -- files --

    def source_path(self, data_dir: Path, table: str) -> Path | None:
        """The user's file holding ``table``, or None."""
        data_dir = Path(data_dir)
        section = self.tables.get(table)
        if section is not None and section.file is not None:
            path = data_dir / section.file
            if not path.exists():
                raise MappingError(
                    f"file {section.file!r} not found in {data_dir}",
                    self.source,
                    section.line,
                    table,
                )
            return path
        return find_table(data_dir, table)

    def raw_table(self, data_dir: Path, table: str) -> tuple[pl.DataFrame, Path] | None:
        path = self.source_path(data_dir, table)
        if path is None:
            return None
        section = self.tables.get(table)
        return read_raw(path, table, section.delimiter if section else ","), path

    def read_table(self, data_dir: Path, table: str, required: bool = True) -> pl.DataFrame | None:
        """Load one table from the user's file, mapped and validated."""
        found = self.raw_table(data_dir, table)
        if found is None:
            if required:
                raise FileNotFoundError(f"{data_dir}: table '{table}' not found")
            return None
        raw, path = found
        section = self.tables.get(table)
        if section is None:
            return conform(raw, TABLES[table])
        frame, _ = section.frame(raw, path.name, strict=True)
        return section.conform(frame)

    def write_world(
        self, data_dir: Path, out_dir: Path, tables: Sequence[str] | None = None
    ) -> Path:
        """Write the world in ``data_dir`` as a contract world (Parquet) in ``out_dir``;
        tables the mapping does not name are copied as they are."""
        data_dir, out_dir = Path(data_dir), Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        for table in tables or TABLES:
            section = self.tables.get(table)
            if section is None or not (section.fields or section.file):
                path = find_table(data_dir, table)
                if path is not None:
                    shutil.copyfile(path, out_dir / path.name)
                continue
            frame = self.read_table(data_dir, table, required=table == "transactions")
            if frame is not None:
                write_table(frame, out_dir, table)
        return out_dir

    # -- requests --

    def record(self, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """One transaction as the user sends it, in the contract's names and types."""
        section = self.tables.get("transactions")
        return data if section is None else section.record(data)


@contextmanager
def mapped_world(
    data_dir: Path, mapping: ColumnMapping | None, tables: Sequence[str] | None = None
) -> Iterator[Path]:
    """``data_dir`` itself when there is nothing to map, else a temporary contract world
    written from it (removed on exit). Every command then runs on a contract world: replay's
    second process, the blocks and the rule backtests read it like any other."""
    if mapping is None or not mapping.maps_tables:
        yield Path(data_dir)
        return
    with tempfile.TemporaryDirectory(prefix="vigil-mapped-") as scratch:
        yield mapping.write_world(data_dir, Path(scratch), tables)


def read_raw(path: Path, table: str, delimiter: str = ",") -> pl.DataFrame:
    """A user's file as it is: CSV and JSON lines as text (the mapping types each column),
    Parquet with its own types."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pl.read_parquet(path)
    if suffix in (".jsonl", ".ndjson", ".json"):
        return _read_jsonl(path, table)
    if suffix in (".csv", ".tsv", ".txt"):
        separator = "\t" if suffix == ".tsv" and delimiter == "," else delimiter
        return pl.read_csv(path, infer_schema=False, null_values=[""], separator=separator)
    raise MappingError(
        f"cannot read {path.name}: expected .csv, .tsv, .jsonl or .parquet "
        f"(a contract world uses {', '.join(FORMATS)})",
        path.name,
        table=table,
    )


# ---- parsing the sections -----------------------------------------------------------------


def _table(table: str, section: _Lined, source: str) -> TableMapping:
    spec = TABLES[table]
    for key in section:
        if key not in SECTION_KEYS:
            raise MappingError(
                f"unknown key '{key}'{_suggest(key, SECTION_KEYS)}; a table section has "
                f"{', '.join(SECTION_KEYS)}",
                source,
                section.lines[key],
                table,
            )
    columns = section.get("columns")
    fields: dict[str, FieldMap] = {}
    if columns is not None:
        if not isinstance(columns, _Lined):
            raise MappingError(
                "expected contract columns, each with its source",
                source,
                section.lines["columns"],
                table,
            )
        names = [c.name for c in spec.columns]
        for name, value in columns.items():
            line = columns.lines[name]
            column = spec.column(name)
            if column is None:
                raise MappingError(
                    f"'{name}' is not a column of {table}{_suggest(name, names)}; "
                    f"it has {', '.join(names)}",
                    source,
                    line,
                    table,
                )
            fields[name] = _field(table, column, value, line, source)
    file = section.get("file")
    delimiter = section.get("delimiter") or ","
    if len(delimiter) != 1 and delimiter != "\\t":
        raise MappingError("delimiter must be one character", source, section.lines["delimiter"],
                           table)  # fmt: skip
    return TableMapping(
        table,
        source,
        section.line,
        fields,
        file if isinstance(file, str) else None,
        "\t" if delimiter == "\\t" else delimiter,
        (),
        section.lines.get("columns"),
    )


def _is_constant(column: Column, text: str) -> bool:
    """A bare value is a constant when it is a valid value of its field (``currency: USD``,
    ``channel: card``); anything else names a column. ``{column: USD}`` forces a column."""
    if column.choices is not None:
        return text in column.choices
    if column.name in PATTERNS:
        return re.match(PATTERNS[column.name][0], text) is not None
    if column.name == "typology":
        return text in TYPOLOGIES
    if column.kind is Kind.BOOL:
        return text in ("true", "false")
    return False


def _field(table: str, column: Column, raw: Any, line: int, source: str) -> FieldMap:
    base = {"table": table, "field": column.name, "kind": column.kind, "line": line,
            "source": source}  # fmt: skip

    def fail(problem: str, at: int = line) -> MappingError:
        return MappingError(problem, source, at, table, column.name)

    if raw is None or raw == "":
        raise fail("empty: give a column name, a list of columns, a constant or {column: ...}")
    if isinstance(raw, str):
        if _is_constant(column, raw):
            return FieldMap(**base, constant=raw)
        return FieldMap(**base, columns=(raw,))
    if isinstance(raw, list):
        return FieldMap(**base, columns=_names(raw, fail))
    if not isinstance(raw, _Lined):
        raise fail("expected a column name, a list of columns or a mapping")
    for key in raw:
        if key not in FIELD_KEYS:
            raise fail(
                f"unknown key '{key}'{_suggest(key, FIELD_KEYS)}; use {', '.join(FIELD_KEYS)}",
                raw.lines[key],
            )
    sources = [k for k in ("column", "columns", "value") if k in raw]
    if len(sources) != 1:
        raise fail("give exactly one of column, columns or value")
    options: dict[str, Any] = {}
    if "value" in raw:
        if len(raw) > 1:
            raise fail("a constant (value) takes no other keys")
        if raw["value"] is None or not isinstance(raw["value"], str):
            raise fail("value must be a single value")
        return FieldMap(**base, constant=raw["value"])
    if "column" in raw:
        if not isinstance(raw["column"], str) or not raw["column"]:
            raise fail("column must be one column name (use columns: [a, b] for a composite)")
        options["columns"] = (raw["column"],)
    else:
        if not isinstance(raw["columns"], list):
            raise fail("columns must be a list of column names", raw.lines["columns"])
        options["columns"] = _names(raw["columns"], fail)
    if "separator" in raw:
        if len(options["columns"]) < 2:
            raise fail("separator joins the parts of a composite key (columns: [a, b])")
        options["separator"] = raw["separator"] or ""
    if "values" in raw:
        values = raw["values"]
        if not isinstance(values, _Lined) or not values:
            raise fail("values must map your values to the contract's, e.g. {Y: true}",
                       raw.lines["values"])  # fmt: skip
        for key, target in values.items():
            if target is not None and not isinstance(target, str):
                raise fail(f"values: '{key}' must map to one value", values.lines[key])
        options["values"] = tuple(values.items())
    if "default" in raw:
        if "values" not in raw:
            raise fail("default is the value for anything values does not list; add values")
        options["default"], options["has_default"] = raw["default"], True
    timing = [k for k in ("format", "timezone", "unit", "origin") if k in raw]
    if timing and column.kind is not Kind.TIMESTAMP:
        raise fail(f"{timing[0]} applies to timestamp columns; {column.name} is {column.kind}",
                   raw.lines[timing[0]])  # fmt: skip
    if "format" in raw and "unit" in raw:
        raise fail("give format (text times) or unit (numbers since origin), not both")
    if "format" in raw:
        if not isinstance(raw["format"], str) or "%" not in raw["format"]:
            raise fail("format is a strptime pattern such as '%Y-%m-%d %H:%M:%S'",
                       raw.lines["format"])  # fmt: skip
        options["format"] = raw["format"]
    if "timezone" in raw:
        try:
            ZoneInfo(str(raw["timezone"]))
        except (ZoneInfoNotFoundError, ValueError):
            raise fail(f"unknown time zone {raw['timezone']!r}; use an IANA name such as "
                       "Asia/Singapore", raw.lines["timezone"]) from None  # fmt: skip
        options["timezone"] = str(raw["timezone"])
    if "origin" in raw and "unit" not in raw:
        raise fail("origin is where numbers of unit start; add unit (s, ms, h, ...)")
    if "unit" in raw:
        if raw["unit"] not in UNITS:
            raise fail(f"unit must be one of {', '.join(UNITS)}", raw.lines["unit"])
        options["unit"] = raw["unit"]
    if "origin" in raw:
        try:
            parsed = datetime.fromisoformat(str(raw["origin"]).strip())
        except ValueError:
            raise fail(f"origin must be an RFC 3339 time such as 2020-01-01T00:00:00Z, got "
                       f"{raw['origin']!r}", raw.lines["origin"]) from None  # fmt: skip
        options["origin"] = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
    scaling = [k for k in ("scale", "units") if k in raw]
    if scaling and column.kind is not Kind.INT:
        raise fail(f"{scaling[0]} applies to integer columns such as amount",
                   raw.lines[scaling[0]])  # fmt: skip
    if len(scaling) == 2:
        raise fail("give scale or units, not both")
    if "scale" in raw:
        number = _number(raw["scale"])
        if number is None or number <= 0:
            raise fail(f"scale must be a positive number, got {raw['scale']!r}",
                       raw.lines["scale"])  # fmt: skip
        options["scale"] = number
    if "units" in raw:
        if raw["units"] not in ("major", "minor"):
            raise fail("units is major (12.50) or minor (1250)", raw.lines["units"])
        if raw["units"] == "major":
            if column.name != "amount" or table != "transactions":
                raise fail("units: major reads the row's currency; it applies to "
                           "transactions.amount (use scale elsewhere)")  # fmt: skip
            options["major"] = True
    return FieldMap(**base, **options)


def _names(items: list[Any], fail) -> tuple[str, ...]:
    if not items or not all(isinstance(i, str) and i for i in items):
        raise fail("expected a list of column names")
    return tuple(items)


def _features(raw: Any, line: int, source: str) -> ExtraColumns:
    def fail(problem: str, at: int = line) -> MappingError:
        return MappingError(problem, source, at, "transactions", "features")

    if raw is None:
        return ExtraColumns(source=source)
    if not isinstance(raw, _Lined):
        raise fail(f"expected a section with {', '.join(FEATURE_KEYS)}")
    for key in raw:
        if key not in FEATURE_KEYS:
            raise fail(
                f"unknown key '{key}'{_suggest(key, FEATURE_KEYS)}; use {', '.join(FEATURE_KEYS)}",
                raw.lines[key],
            )

    def names(key: str) -> tuple[str, ...]:
        value = raw.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise fail(f"{key} must be a list of column names", raw.lines[key])
        return tuple(value)

    entities: list[tuple[str, tuple[str, ...]]] = []
    found = raw.get("entities")
    if isinstance(found, list):
        entities = [(n, ("1h", "24h", "7d")) for n in names("entities")]
    elif isinstance(found, _Lined):
        for name, windows in found.items():
            if windows is None:
                windows = ["1h", "24h", "7d"]
            if isinstance(windows, str):
                windows = [windows]
            if not isinstance(windows, list) or not windows:
                raise fail(f"entities: {name} takes a list of windows such as [1h, 24h]",
                           found.lines[name])  # fmt: skip
            entities.append((name, tuple(windows)))
    elif found is not None:
        raise fail("entities is a list of columns, or columns with their windows",
                   raw.lines["entities"])  # fmt: skip
    max_categories = 32
    if "max_categories" in raw:
        number = _number(raw["max_categories"])
        if not isinstance(number, int) or number < 1:
            raise fail("max_categories must be a positive integer", raw.lines["max_categories"])
        max_categories = number
    include = names("include") if "include" in raw else None
    exclude = names("exclude")
    numeric, categorical = names("numeric"), names("categorical")
    kinds = {"numeric": numeric, "categorical": categorical, "entities": [n for n, _ in entities]}
    seen: dict[str, str] = {}
    for kind, columns in kinds.items():
        for name in columns:
            if name in seen:
                raise fail(f"'{name}' is under both {seen[name]} and {kind}", raw.lines[kind])
            seen[name] = kind
            if name in exclude:
                raise fail(f"'{name}' is under both {kind} and exclude", raw.lines[kind])
    required = names("required")
    for name in required:
        if name in exclude:
            raise fail(f"'{name}' is required but excluded", raw.lines["required"])
    return ExtraColumns(
        include=include,
        exclude=exclude,
        numeric=numeric,
        categorical=categorical,
        entities=tuple(entities),
        required=required,
        max_categories=max_categories,
        source=source,
        lines=tuple(raw.lines.items()),
    )
