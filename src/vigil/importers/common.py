"""What the importers share: reading a published CSV layout in chunks, typed with row numbers,
and the summary each import reports."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from vigil.schema.validate import SchemaError

#: The 1-based data row (the header is not counted) of each record, carried through a chunk.
ROW = "__row"


@dataclass
class ImportSummary:
    """What an import read and wrote, for the command line to print and tests to check."""

    dataset: str
    source: Path
    out_dir: Path
    rows_read: int = 0
    rows_written: int = 0
    fraud: int = 0
    first: datetime | None = None
    last: datetime | None = None
    skipped: dict[str, int] = field(default_factory=dict)
    adjusted: dict[str, int] = field(default_factory=dict)
    typologies: dict[str, int] = field(default_factory=dict)

    def add(self, frame: pl.DataFrame) -> None:
        """Count a chunk as written."""
        self.rows_written += frame.height
        self.fraud += int(frame.get_column("is_fraud").sum())
        ts = frame.get_column("ts")
        if frame.height:
            low, high = ts.min(), ts.max()
            self.first = low if self.first is None else min(self.first, low)
            self.last = high if self.last is None else max(self.last, high)
        for name, count in frame.get_column("typology").value_counts().iter_rows():
            self.typologies[name] = self.typologies.get(name, 0) + count

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "source": str(self.source),
            "out_dir": str(self.out_dir),
            "rows_read": self.rows_read,
            "rows_written": self.rows_written,
            "fraud": self.fraud,
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "skipped": self.skipped,
            "adjusted": self.adjusted,
            "typologies": dict(sorted(self.typologies.items())),
        }


def check_header(path: Path, published: Sequence[str], dataset: str) -> None:
    """Refuse a file whose header is not the data set's published layout, naming the first
    column that differs."""
    with path.open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle), None)
    if header is None:
        raise SchemaError(dataset, "*", f"{path.name} is empty")
    header = [h.strip().lstrip("\ufeff") for h in header]
    for i, expected in enumerate(published):
        got = header[i] if i < len(header) else None
        if got != expected:
            raise SchemaError(
                dataset,
                expected,
                f"{path.name} is not in the published {dataset} layout: column {i + 1} is "
                f"{got!r}, expected {expected!r} (header: {', '.join(published)})",
            )
    if len(header) > len(published):
        raise SchemaError(
            dataset, header[len(published)], f"{path.name} has more columns than {dataset}'s"
        )


def read_chunks(path: Path, names: Sequence[str], chunk: int) -> Iterator[pl.DataFrame]:
    """The file's data rows as text, ``chunk`` rows at a time, each with its row number."""
    frame = pl.scan_csv(
        path,
        has_header=False,
        skip_rows=1,
        schema=dict.fromkeys(names, pl.String),
        null_values=[""],
        row_index_name=ROW,
        row_index_offset=1,
    )
    yield from frame.collect_batches(chunk_size=chunk)


def typed(
    frame: pl.DataFrame, column: str, dtype: pl.DataType, dataset: str, label: str
) -> pl.Series:
    """``column`` cast to ``dtype``; a value that does not fit stops the import, naming the
    published column name and the row."""
    text = frame.get_column(column)
    result = text.cast(dtype, strict=False)
    failed = result.is_null() & text.is_not_null()
    if failed.any():
        i = int(failed.arg_true()[0])
        raise SchemaError(
            dataset, label, f"expected {dtype}, got {text[i]!r}", int(frame.get_column(ROW)[i])
        )
    missing = text.is_null()
    if missing.any():
        i = int(missing.arg_true()[0])
        raise SchemaError(dataset, label, "value is empty", int(frame.get_column(ROW)[i]))
    return result


def lookup(
    frame: pl.DataFrame, column: str, table: dict[str, str], dataset: str, label: str
) -> pl.Series:
    """Values translated through ``table``; one it lacks stops the import with its row."""
    text = frame.get_column(column)
    unknown = ~text.is_in(list(table))
    if unknown.any():
        i = int(unknown.arg_true()[0])
        raise SchemaError(
            dataset,
            label,
            f"unknown value {text[i]!r}; known: {', '.join(sorted(table))}",
            int(frame.get_column(ROW)[i]),
        )
    return text.replace_strict(table, return_dtype=pl.String)
