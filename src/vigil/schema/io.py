"""Read and write the tables of a world as Parquet, CSV or JSON lines.

Every reader returns a frame that has passed :func:`vigil.schema.validate.conform`, and every
writer conforms before it writes, so a world on disk always honours the contract. Writers go
through a temporary file renamed into place on success: a crash never leaves a half-written
table that a later run would take for a whole one.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType

import polars as pl
import pyarrow.parquet as pq

from vigil.schema.tables import TABLES, Kind, TableSpec
from vigil.schema.validate import SchemaError, conform

FORMATS = ("parquet", "csv", "jsonl")
_TS_FORMAT = "%Y-%m-%dT%H:%M:%S%.6fZ"


def spec_of(table: str) -> TableSpec:
    try:
        return TABLES[table]
    except KeyError:
        raise ValueError(f"unknown table {table!r}; the contract has {sorted(TABLES)}") from None


def find_table(data_dir: Path, table: str) -> Path | None:
    """The one file holding ``table`` in ``data_dir``, or None; two formats at once is an error."""
    found = [
        data_dir / f"{table}.{fmt}" for fmt in FORMATS if (data_dir / f"{table}.{fmt}").exists()
    ]
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise ValueError(f"{data_dir}: table '{table}' is stored twice ({names}); keep one")
    return found[0] if found else None


def read_table(data_dir: Path, table: str, required: bool = True) -> pl.DataFrame | None:
    """Load and validate a whole table; None when it is absent and not required."""
    data_dir = Path(data_dir)
    spec = spec_of(table)
    path = find_table(data_dir, table)
    if path is None:
        if required:
            raise FileNotFoundError(
                f"{data_dir}: table '{table}' not found (looked for "
                + ", ".join(f"{table}.{fmt}" for fmt in FORMATS)
                + ")"
            )
        return None
    return conform(_load_raw(path, table), spec)


def _load_raw(path: Path, table: str) -> pl.DataFrame:
    if path.suffix == ".parquet":
        return pl.read_parquet(path)
    if path.suffix == ".csv":
        # All strings first: the contract, not polars' guess, decides each column's type, and
        # a bad value is reported with its row instead of failing inside the CSV parser.
        raw = pl.read_csv(path, infer_schema=False, null_values=[""])
    else:
        raw = _read_jsonl(path, table)
    spec = spec_of(table)
    return raw.with_columns(
        _infer_extra(raw.get_column(name)) for name in raw.columns if spec.column(name) is None
    )


def _infer_extra(text: pl.Series) -> pl.Series:
    """Give a pass-through column read from text the narrowest type all its values fit."""
    present = text.is_not_null()
    for dtype in (pl.Int64, pl.Float64):
        parsed = text.cast(dtype, strict=False)
        if not (parsed.is_null() & present).any():
            return parsed
    lowered = text.str.to_lowercase()
    if lowered.drop_nulls().is_in(["true", "false"]).all():
        return lowered == "true"
    return text


def _read_jsonl(path: Path, table: str) -> pl.DataFrame:
    """Parse line by line so that malformed JSON is reported with its line number."""
    rows: list[dict[str, object]] = []
    columns: dict[str, None] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise SchemaError(
                    table, "*", f"line is not valid JSON ({error.msg})", number
                ) from None
            if not isinstance(record, dict):
                raise SchemaError(table, "*", "line is not a JSON object", number)
            rows.append(record)
            columns.update(dict.fromkeys(record))
    # Values are carried as text, like CSV cells, so one column may mix 12 and "12" and the
    # contract's cast still decides; booleans keep JSON's spelling.
    data = {
        name: [None if (v := r.get(name)) is None else _as_text(v) for r in rows]
        for name in columns
    }
    return pl.DataFrame(data, schema=dict.fromkeys(columns, pl.String))


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def write_table(df: pl.DataFrame, out_dir: Path, table: str, fmt: str = "parquet") -> Path:
    """Validate ``df`` against the contract and write it whole."""
    with TableWriter(out_dir, table, fmt) as writer:
        writer.write(df)
    return writer.path


class TableWriter:
    """Write one table in chunks, so worlds larger than memory can be produced.

    Each chunk is validated before it is written. The file appears under its final name only
    when the writer closes without an error.
    """

    def __init__(self, out_dir: Path, table: str, fmt: str = "parquet"):
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; choose one of {list(FORMATS)}")
        self.spec = spec_of(table)
        self.fmt = fmt
        self.path = Path(out_dir) / f"{table}.{fmt}"
        self._partial = self.path.with_name(self.path.name + ".partial")
        self._parquet: pq.ParquetWriter | None = None
        self._handle = None
        self._columns: list[str] | None = None
        self.rows = 0

    def __enter__(self) -> TableWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for other in FORMATS:
            stale = self.path.with_suffix(f".{other}")
            if other != self.fmt and stale.exists():
                stale.unlink()  # a world holds each table once; rewriting replaces any format
        return self

    def write(self, df: pl.DataFrame) -> None:
        frame = conform(df, self.spec)
        if self._columns is None:
            self._columns = frame.columns
        elif frame.columns != self._columns:
            raise ValueError(
                f"table '{self.spec.name}': chunk columns {frame.columns} differ from the first "
                f"chunk's {self._columns}"
            )
        if self.fmt == "parquet":
            arrow = frame.to_arrow()
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self._partial, arrow.schema, compression="zstd")
            self._parquet.write_table(arrow)
        else:
            self._write_text(frame)
        self.rows += frame.height

    def _write_text(self, frame: pl.DataFrame) -> None:
        as_text = frame.with_columns(
            pl.col(c.name).dt.strftime(_TS_FORMAT)
            for c in self.spec.columns
            if c.kind is Kind.TIMESTAMP and c.name in frame.columns
        )
        if self._handle is None:
            self._handle = self._partial.open("w", encoding="utf-8", newline="")
            if self.fmt == "csv":
                self._handle.write(",".join(as_text.columns) + "\n")
        if self.fmt == "csv":
            as_text.write_csv(self._handle, include_header=False)
        else:
            as_text.write_ndjson(self._handle)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None and self._columns is None:
            # Nothing was written: an empty table still carries its header and schema.
            self.write(pl.DataFrame(schema=self.spec.polars_schema()).select(self.spec.required))
        if self._parquet is not None:
            self._parquet.close()
        if self._handle is not None:
            self._handle.close()
        if exc_type is not None:
            self._partial.unlink(missing_ok=True)
            return
        self._partial.replace(self.path)
