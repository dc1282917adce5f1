"""`vigil inspect`: a readable profile of a world, and the problems in it, before any training.

The contract's readers stop at the first bad value, which is right for training and wrong for
a first look at someone's export: :func:`inspect_world` reads every table leniently (through
the column mapping when there is one), counts each kind of problem over the whole table
(duplicated ids, unparseable timestamps, amounts <= 0, values outside the contract, currencies
without a reference rate, labels known before the payment), and profiles what is there: rows,
time span, label rates per typology and per month, and each column's type, missing share and
cardinality, with what the model would make of each extra column.

The profile is a plain JSON-ready dict; :func:`render_profile` draws it with rich.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console
from rich.table import Table

from vigil.features.extras import ExtraFeatures
from vigil.money import USD_CENTS_PER_MINOR
from vigil.schema.io import _load_raw, find_table
from vigil.schema.mapping import ColumnMapping, ExtraColumns, Problem
from vigil.schema.tables import TABLES, Column, Kind, TableSpec
from vigil.schema.validate import EXPECTED, PATTERNS, SchemaError, _to_bool, _to_timestamp

#: The time column that spans each table.
TIME_COLUMN = {
    "transactions": "ts",
    "claims": "ts",
    "trade": "ts",
    "accounts": "created_at",
    "businesses": "founded_at",
    "loans": "issued_at",
}


def inspect_world(data_dir: Path, mapping: ColumnMapping | None = None) -> dict[str, Any]:
    """Profile every table found in ``data_dir``; never stops at a bad value."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"{data_dir}: no such folder")
    tables: list[dict[str, Any]] = []
    problems: list[Problem] = []
    frames: dict[str, pl.DataFrame] = {}
    for name, spec in TABLES.items():
        try:
            loaded = _load(data_dir, name, mapping)
        except (SchemaError, ValueError) as error:  # a whole table unreadable: say so, go on
            problems.append(_whole(name, error))
            continue
        if loaded is None:
            continue
        raw, path, mapped = loaded
        problems.extend(mapped)
        frame, found = _check(raw, spec)
        problems.extend(found)
        frames[name] = frame
        selection = mapping.features if mapping is not None else ExtraColumns()
        tables.append(
            _profile(name, path, frame, spec, selection if name == "transactions" else None)
        )
    if "transactions" not in frames and not any(p.table == "transactions" for p in problems):
        problems.append(Problem("transactions", "*", "the required table is missing", None))
    return {
        "data": str(data_dir),
        "mapping": mapping.describe() if mapping is not None else None,
        "tables": tables,
        "labels": _labels(frames.get("transactions")),
        "problems": [p.to_dict() for p in problems],
    }


def _whole(table: str, error: Exception) -> Problem:
    line = getattr(error, "line", None)
    column = getattr(error, "column", "*") or "*"
    row = getattr(error, "row", None)
    return Problem(table, column, str(error), None, row, None, line)


def _load(
    data_dir: Path, table: str, mapping: ColumnMapping | None
) -> tuple[pl.DataFrame, Path, list[Problem]] | None:
    if mapping is not None and table in mapping.tables:
        found = mapping.raw_table(data_dir, table)
        if found is None:
            return None
        raw, path = found
        frame, problems = mapping.tables[table].frame(raw, path.name, strict=False)
        return frame, path, problems
    path = find_table(data_dir, table)
    if path is None:
        return None
    return _load_raw(path, table), path, []


# ---- checks -------------------------------------------------------------------------------


def _check(raw: pl.DataFrame, spec: TableSpec) -> tuple[pl.DataFrame, list[Problem]]:
    """The frame with each contract column cast where it could be (else null), and every
    problem counted over the whole table."""
    problems: list[Problem] = []
    name = spec.name
    for column in spec.columns:
        if column.required and column.name not in raw.columns:
            problems.append(Problem(name, column.name, "required column is missing", None))
    frame = raw
    for column in spec.columns:
        if column.name not in raw.columns:
            continue
        source = raw.get_column(column.name)
        cast = _cast(source, column)
        failed = cast.is_null() & source.is_not_null()
        problems.extend(_count(name, column.name, failed, source, f"not {EXPECTED[column.kind]}"))
        frame = frame.with_columns(cast.alias(column.name))
        problems.extend(_value_checks(name, column, cast, source.is_null()))
    if spec.key and spec.key in frame.columns:
        key = frame.get_column(spec.key)
        dupes = key.is_duplicated() & key.is_not_null()
        problems.extend(_count(name, spec.key, dupes, key, f"duplicated {spec.key}"))
    if name == "transactions":
        if {"ts", "label_ts"} <= set(frame.columns):
            early = frame.get_column("label_ts") < frame.get_column("ts")
            problems.extend(
                _count(name, "label_ts", early, frame.get_column("label_ts"), "label_ts before ts")
            )
        if "currency" in frame.columns:
            currency = frame.get_column("currency")
            unknown = ~currency.is_in(list(USD_CENTS_PER_MINOR)) & currency.is_not_null()
            problems.extend(
                _count(
                    name,
                    "currency",
                    unknown,
                    currency,
                    "currency without a reference rate (the engine cannot compare its amounts)",
                )
            )
    return frame, problems


def _cast(source: pl.Series, column: Column) -> pl.Series:
    if source.dtype == pl.Null:
        return source.cast(pl.String if column.kind is Kind.STRING else pl.Float64)
    if column.kind is Kind.TIMESTAMP:
        return _to_timestamp(source)
    if column.kind is Kind.BOOL and source.dtype == pl.String:
        return _to_bool(source)
    if column.kind is Kind.INT and source.dtype.is_float():
        whole = source.is_null() | (source == source.floor())
        return source.cast(pl.Int64, strict=False).set(~whole, None)
    if column.kind is Kind.INT and source.dtype == pl.String:
        # "12.0" is a whole number too
        as_float = source.cast(pl.Float64, strict=False)
        return _cast(as_float, column).zip_with(
            as_float.is_not_null(), source.cast(pl.Int64, strict=False)
        )
    if column.kind is Kind.STRING:
        return source.cast(pl.String, strict=False)
    return source.cast(
        {Kind.INT: pl.Int64, Kind.BOOL: pl.Boolean, Kind.FLOAT: pl.Float64}[column.kind],
        strict=False,
    )


def _value_checks(table: str, column: Column, values: pl.Series, empty: pl.Series) -> list[Problem]:
    """Problems of the values that could be read (``empty``: no value in the file at all)."""
    found: list[Problem] = []
    if column.required:
        found += _count(table, column.name, empty, values, "empty required value")
    if column.positive:
        found += _count(table, column.name, values <= 0, values, "amount zero or negative")
    if column.choices is not None:
        outside = ~values.is_in(sorted(column.choices)) & values.is_not_null()
        found += _count(
            table, column.name, outside, values, f"not one of {', '.join(sorted(column.choices))}"
        )
    if column.kind is Kind.STRING and column.name in PATTERNS:
        pattern, meaning = PATTERNS[column.name]
        found += _count(table, column.name, ~values.str.contains(pattern), values, f"not {meaning}")
    return found


def _count(
    table: str, column: str, mask: pl.Series, values: pl.Series, problem: str
) -> list[Problem]:
    hits = mask.fill_null(False)
    n = int(hits.sum())
    if not n:
        return []
    first = int(hits.arg_true()[0])
    return [Problem(table, column, problem, n, first + 1, str(values[first]))]


# ---- profile ------------------------------------------------------------------------------


def _profile(
    name: str,
    path: Path,
    frame: pl.DataFrame,
    spec: TableSpec,
    selection: ExtraColumns | None,
) -> dict[str, Any]:
    uses = _extra_uses(frame, selection) if selection is not None else {}
    columns = []
    for column in frame.columns:
        series = frame.get_column(column)
        known = spec.column(column)
        role = "extra" if known is None else ("label" if known.label else "contract")
        entry = {
            "name": column,
            "role": role,
            "type": _type_name(series.dtype),
            "missing": round(series.null_count() / frame.height, 4) if frame.height else 0.0,
            "distinct": series.drop_nulls().n_unique() if frame.height else 0,
        }
        if column in uses:
            entry["use"] = uses[column]
        columns.append(entry)
    out: dict[str, Any] = {
        "name": name,
        "file": path.name,
        "rows": frame.height,
        "first": None,
        "last": None,
        "columns": columns,
    }
    time = TIME_COLUMN.get(name)
    if time in frame.columns and isinstance(frame.schema[time], pl.Datetime):
        series = frame.get_column(time)
        out["first"] = _iso(series.min())
        out["last"] = _iso(series.max())
    return out


def _extra_uses(frame: pl.DataFrame, selection: ExtraColumns) -> dict[str, str]:
    """What training would make of each extra column, as the trainer decides it."""
    try:
        block = ExtraFeatures.fit(frame, selection=selection)
    except ValueError as error:
        return {
            c: f"error: {error}" for c in frame.columns if TABLES["transactions"].column(c) is None
        }
    uses = {c.column: c.kind for c in block.columns}
    uses.update({c: f"ignored: {why}" for c, why in block.ignored.items()})
    for column in frame.columns:
        if TABLES["transactions"].column(column) is None and column not in uses:
            uses[column] = "excluded"
    return uses


def _labels(frame: pl.DataFrame | None) -> dict[str, Any] | None:
    if frame is None or "is_fraud" not in frame.columns or frame.height == 0:
        return None
    labelled = frame.filter(pl.col("is_fraud").is_not_null())
    if "typology" not in labelled.columns:
        labelled = labelled.with_columns(typology=pl.lit(None, dtype=pl.String))
    by_typology = (
        labelled.group_by("typology")
        .agg(rows=pl.len(), fraud=pl.col("is_fraud").sum())
        .with_columns(share=(pl.col("rows") / max(labelled.height, 1)).round(6))
        .sort("rows", descending=True)
    )
    by_month: list[dict[str, Any]] = []
    if isinstance(labelled.schema.get("ts"), pl.Datetime):
        months = (
            labelled.filter(pl.col("ts").is_not_null())
            .group_by(pl.col("ts").dt.strftime("%Y-%m").alias("month"))
            .agg(rows=pl.len(), fraud=pl.col("is_fraud").sum())
            .with_columns(rate=(pl.col("fraud") / pl.col("rows")).round(6))
            .sort("month")
        )
        by_month = months.to_dicts()
    fraud = int(labelled.get_column("is_fraud").sum())
    return {
        "labelled_rows": labelled.height,
        "unlabelled_rows": frame.height - labelled.height,
        "fraud_rows": fraud,
        "rate": round(fraud / labelled.height, 6) if labelled.height else None,
        "by_typology": by_typology.to_dicts(),
        "by_month": by_month,
    }


def _type_name(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "timestamp" if dtype.time_zone else "timestamp (naive)"
    if dtype.is_integer():
        return "int"
    if dtype.is_float():
        return "float"
    return {pl.String: "string", pl.Boolean: "bool", pl.Null: "empty"}.get(dtype, str(dtype))


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


# ---- rendering ----------------------------------------------------------------------------


def render_profile(profile: dict[str, Any], console: Console) -> None:
    """The profile as rich tables: summary, labels, columns per table, problems."""
    summary = Table(title=f"world {profile['data']}", title_justify="left")
    for header in ("table", "file", "rows", "first", "last"):
        summary.add_column(header, justify="right" if header == "rows" else "left")
    for t in profile["tables"]:
        summary.add_row(t["name"], t["file"], f"{t['rows']:,}", t["first"] or "", t["last"] or "")
    console.print(summary)
    labels = profile["labels"]
    if labels is not None:
        rate = labels["rate"]
        typologies = Table(
            title=f"labels: {labels['fraud_rows']:,} positive of {labels['labelled_rows']:,} "
            f"({rate:.3%})"
            if rate is not None
            else "labels",
            title_justify="left",
        )
        for header in ("typology", "rows", "share", "positive"):
            typologies.add_column(header, justify="left" if header == "typology" else "right")
        for row in labels["by_typology"]:
            typologies.add_row(
                str(row["typology"]), f"{row['rows']:,}", f"{row['share']:.2%}", f"{row['fraud']:,}"
            )
        console.print(typologies)
        if labels["by_month"]:
            months = Table(title="label rate per month", title_justify="left")
            for header in ("month", "rows", "positive", "rate"):
                months.add_column(header, justify="left" if header == "month" else "right")
            for row in labels["by_month"]:
                months.add_row(
                    row["month"], f"{row['rows']:,}", f"{row['fraud']:,}", f"{row['rate']:.3%}"
                )
            console.print(months)
    for t in profile["tables"]:
        columns = Table(title=f"{t['name']}: columns", title_justify="left")
        for header in ("column", "role", "type", "missing", "distinct", "model use"):
            columns.add_column(
                header, justify="right" if header in ("missing", "distinct") else "left"
            )
        for c in t["columns"]:
            columns.add_row(
                c["name"],
                c["role"],
                c["type"],
                f"{c['missing']:.1%}",
                f"{c['distinct']:,}",
                c.get("use", ""),
            )
        console.print(columns)
    problems = profile["problems"]
    if not problems:
        console.print("[green]no problems found[/green]")
        return
    table = Table(title=f"[red]{len(problems)} problems[/red]", title_justify="left")
    for header in ("table", "column", "problem", "rows", "first row", "example"):
        table.add_column(header, justify="right" if header in ("rows", "first row") else "left")
    for p in problems:
        problem = p["problem"] + (
            f" (mapping line {p['mapping_line']})" if p["mapping_line"] else ""
        )
        table.add_row(
            p["table"],
            p["column"],
            problem,
            "" if p["rows"] is None else f"{p['rows']:,}",
            "" if p["first_row"] is None else str(p["first_row"]),
            p["example"] or "",
        )
    console.print(table)
