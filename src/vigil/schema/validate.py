"""Conform a frame to its table spec, or fail naming the table, row and column.

Files arrive from outside (CSV from a spreadsheet, JSON lines from a log shipper, Parquet from
another team's pipeline), so every reader funnels through :func:`conform`: it casts each known
column to its contract dtype and checks the value rules. Nothing is half-loaded: the first bad
value stops the load with a :class:`SchemaError`, and the caller gets no frame at all.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from vigil.schema.tables import MAX_AMOUNT, POLARS_DTYPE, Column, Kind, TableSpec

#: Value rules for string columns whose meaning fixes their shape.
PATTERNS: dict[str, tuple[str, str]] = {
    "currency": (r"^[A-Z]{3}$", "an ISO 4217 code such as SGD"),
    "jurisdiction": (r"^[A-Z]{2}$", "an ISO 3166-1 alpha-2 code such as SG"),
    "country": (r"^[A-Z]{2}$", "an ISO 3166-1 alpha-2 code such as SG"),
    "payer_country": (r"^[A-Z]{2}$", "an ISO 3166-1 alpha-2 code such as SG"),
    "payee_country": (r"^[A-Z]{2}$", "an ISO 3166-1 alpha-2 code such as SG"),
    "mcc": (r"^\d{4}$", "a 4-digit merchant category code"),
}

_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}

EXPECTED = {
    Kind.STRING: "a string",
    Kind.TIMESTAMP: "an RFC 3339 timestamp such as 2026-01-01T08:00:00Z",
    Kind.INT: "an integer",
    Kind.BOOL: "a boolean (true or false)",
    Kind.FLOAT: "a number",
}


class SchemaError(ValueError):
    """A value that breaks the data contract.

    ``row`` is 1-based over data rows (a CSV's header is not counted) and is None when the
    problem is the whole column, e.g. a missing required column.
    """

    def __init__(self, table: str, column: str, problem: str, row: int | None = None):
        self.table, self.column, self.problem, self.row = table, column, problem, row
        where = f"table '{table}'" + (f", row {row}" if row is not None else "")
        super().__init__(f"{where}, column '{column}': {problem}")


def conform(df: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    """Return ``df`` with every contract column cast and checked; extra columns pass through.

    Contract columns come first, in the contract's order, so files written from the result are
    laid out the same way whatever order they were read in.
    """
    missing = [name for name in spec.required if name not in df.columns]
    if missing:
        raise SchemaError(spec.name, missing[0], "required column is missing")
    known = [c for c in spec.columns if c.name in df.columns]
    cast = df.with_columns([_cast(df, spec, c) for c in known])
    for column in known:
        _check_values(cast, spec, column)
    if spec.key and spec.key in cast.columns:
        _check_unique(cast, spec.name, spec.key)
    if spec.name == "transactions" and "label_ts" in cast.columns:
        _check_not_before(cast, spec.name, "label_ts", "ts")
    extras = [name for name in df.columns if spec.column(name) is None]
    return cast.select([c.name for c in known] + extras)


def _cast(df: pl.DataFrame, spec: TableSpec, column: Column) -> pl.Series:
    source = df.get_column(column.name)
    target = POLARS_DTYPE[column.kind]
    if source.dtype == pl.Null:
        return pl.Series(column.name, [None] * len(source), dtype=target)
    if column.kind is Kind.TIMESTAMP:
        result = _to_timestamp(source)
    elif column.kind is Kind.BOOL and source.dtype == pl.String:
        result = _to_bool(source)
    elif column.kind is Kind.INT and source.dtype.is_float():
        # A float column holds integers only if every value is whole: 12.0 is fine, 12.5 is not.
        whole = source.is_null() | (source == source.floor())
        result = source.cast(pl.Int64, strict=False).set(~whole, None)
    elif column.kind is Kind.STRING and source.dtype != pl.String:
        result = source.cast(pl.String, strict=False)
    else:
        result = source.cast(target, strict=False)
    failed = result.is_null() & source.is_not_null()
    if failed.any():
        row = int(failed.arg_true()[0])
        raise SchemaError(
            spec.name,
            column.name,
            f"expected {EXPECTED[column.kind]}, got {source[row]!r}",
            row + 1,
        )
    return result.alias(column.name)


def _to_timestamp(source: pl.Series) -> pl.Series:
    """Parse or convert to UTC microseconds; naive times are taken as UTC, as schema.md says."""
    if isinstance(source.dtype, pl.Datetime):
        if source.dtype.time_zone is None:
            return source.dt.cast_time_unit("us").dt.replace_time_zone("UTC")
        return source.dt.cast_time_unit("us").dt.convert_time_zone("UTC")
    if source.dtype == pl.Date:
        return source.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if source.dtype != pl.String:
        return pl.Series(source.name, [None] * len(source), dtype=pl.Datetime("us", "UTC"))
    fast = source.str.to_datetime(time_unit="us", time_zone="UTC", strict=False)
    pending = fast.is_null() & source.is_not_null()
    if not pending.any():
        return fast
    # Mixed layouts (naive and offset, space or 'T') defeat polars' single inferred format;
    # the few values it could not read go through the standard library's ISO parser.
    slow = [
        _parse_iso(value) if need else None
        for value, need in zip(source.to_list(), pending.to_list(), strict=True)
    ]
    return fast.zip_with(~pending, pl.Series(slow, dtype=pl.Datetime("us", "UTC")))


def _parse_iso(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _to_bool(source: pl.Series) -> pl.Series:
    lowered = source.str.strip_chars().str.to_lowercase()
    return (
        pl.select(
            pl.when(lowered.is_in(list(_TRUE)))
            .then(True)
            .when(lowered.is_in(list(_FALSE)))
            .then(False)
            .otherwise(None)
            .alias(source.name)
        )
        .to_series()
        .cast(pl.Boolean)
    )


def _first_row(mask: pl.Series) -> int | None:
    hits = mask.fill_null(False)
    return int(hits.arg_true()[0]) if hits.any() else None


def _check_values(df: pl.DataFrame, spec: TableSpec, column: Column) -> None:
    values = df.get_column(column.name)
    checks: list[tuple[pl.Series, str]] = []
    if column.required:
        checks.append((values.is_null(), "required value is empty"))
    if column.positive:
        checks.append((values <= 0, "expected an amount > 0 in minor units"))
        checks.append(
            (values > MAX_AMOUNT, f"expected an amount <= {MAX_AMOUNT:.0e} in minor units")
        )
    if column.choices is not None:
        allowed = sorted(column.choices)
        checks.append((~values.is_in(allowed) & values.is_not_null(), f"expected one of {allowed}"))
    if column.kind is Kind.STRING and column.name in PATTERNS:
        pattern, meaning = PATTERNS[column.name]
        checks.append((~values.str.contains(pattern), f"expected {meaning}"))
    for mask, problem in checks:
        row = _first_row(mask)
        if row is not None:
            raise SchemaError(spec.name, column.name, f"{problem}, got {values[row]!r}", row + 1)


def _check_unique(df: pl.DataFrame, table: str, key: str) -> None:
    row = _first_row(df.get_column(key).is_duplicated())
    if row is None:
        return
    value = df.get_column(key)[row]
    later = df.get_column(key).slice(row + 1).eq(value).arg_true()[0] + row + 2
    raise SchemaError(table, key, f"duplicate key {value!r} (again at row {later})", row + 1)


def _check_not_before(df: pl.DataFrame, table: str, late: str, early: str) -> None:
    row = _first_row(df.get_column(late) < df.get_column(early))
    if row is not None:
        raise SchemaError(
            table,
            late,
            f"{late} {df.get_column(late)[row]} is before {early} {df.get_column(early)[row]}",
            row + 1,
        )
