"""Split a world into one pool per jurisdiction: each pool holds only its own rows.

A pool is a folder in the world format of ``docs/schema.md`` that one Flower client (one
jurisdiction's SuperNode) reads and nothing else does: the transactions booked in that
jurisdiction and the ``accounts`` rows those transactions name. No other table is copied, and no
row of another jurisdiction is ever written into a pool. The pools are non-IID as the world made
them: sizes, fraud rates and typology mixes differ from one jurisdiction to the next, and
:func:`pool_profile` reports how.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl

from vigil.schema.io import read_table, write_table

#: The file in each pool folder that names its jurisdiction and what it holds.
POOL_MANIFEST = "pool.json"


@dataclass(frozen=True)
class PoolProfile:
    """What a pool holds, in counts only: the non-IID report and nothing row-level."""

    jurisdiction: str
    transactions: int
    accounts: int
    frauds: int
    fraud_rate: float
    #: typology -> fraudulent rows of that typology
    typologies: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> PoolProfile:
        return cls(**data)  # type: ignore[arg-type]


def partition_world(
    data_dir: Path, out: Path, jurisdictions: Sequence[str] | None = None
) -> list[PoolProfile]:
    """Write ``out/<JURISDICTION>/`` for each jurisdiction (default: every one in the world)."""
    data_dir, out = Path(data_dir), Path(out)
    transactions = read_table(data_dir, "transactions")
    accounts = read_table(data_dir, "accounts", required=False)
    present = sorted(transactions.get_column("jurisdiction").unique().to_list())
    chosen = list(jurisdictions) if jurisdictions else present
    unknown = sorted(set(chosen) - set(present))
    if unknown:
        raise ValueError(
            f"{data_dir}: no transactions booked in {unknown}; the world has {present}"
        )
    profiles = []
    for code in chosen:
        rows = transactions.filter(pl.col("jurisdiction") == code)
        folder = out / code
        folder.mkdir(parents=True, exist_ok=True)
        write_table(rows, folder, "transactions")
        named = pl.concat([rows.get_column("payer_id"), rows.get_column("payee_id")]).unique()
        if accounts is not None:
            write_table(
                accounts.filter(pl.col("account_id").is_in(named.implode())), folder, "accounts"
            )
        profile = profile_of(code, rows, named.len())
        (folder / POOL_MANIFEST).write_text(json.dumps(profile.to_dict(), indent=2, sort_keys=True))
        profiles.append(profile)
    return profiles


def profile_of(jurisdiction: str, rows: pl.DataFrame, accounts: int) -> PoolProfile:
    labelled = rows.get_column("is_fraud").fill_null(False) if "is_fraud" in rows.columns else None
    frauds = int(labelled.sum()) if labelled is not None else 0
    typologies: dict[str, int] = {}
    if labelled is not None and "typology" in rows.columns:
        counts = rows.filter(labelled).group_by("typology").len().sort("typology")
        typologies = dict(zip(counts["typology"].to_list(), counts["len"].to_list(), strict=True))
    return PoolProfile(
        jurisdiction=jurisdiction,
        transactions=rows.height,
        accounts=int(accounts),
        frauds=frauds,
        fraud_rate=frauds / rows.height if rows.height else 0.0,
        typologies=typologies,
    )


def pool_profile(pool_dir: Path) -> PoolProfile:
    """The profile a pool's own client computes from its own folder."""
    pool_dir = Path(pool_dir)
    rows = read_table(pool_dir, "transactions")
    named = pl.concat([rows.get_column("payer_id"), rows.get_column("payee_id")]).n_unique()
    return profile_of(pool_jurisdiction(pool_dir), rows, named)


def pool_jurisdiction(pool_dir: Path) -> str:
    """The jurisdiction a pool folder belongs to (its manifest, else the folder's name)."""
    manifest = Path(pool_dir) / POOL_MANIFEST
    if manifest.exists():
        return str(json.loads(manifest.read_text())["jurisdiction"])
    return Path(pool_dir).name


def pool_dirs(pools: Path) -> list[Path]:
    """Every pool folder under ``pools``, in a stable order."""
    found = sorted(p.parent for p in Path(pools).glob(f"*/{POOL_MANIFEST}"))
    if not found:
        raise FileNotFoundError(f"{pools}: no pools (run `vigil federated partition` first)")
    return found
