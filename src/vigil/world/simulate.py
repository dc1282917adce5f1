"""``vigil simulate``: build a whole world and write every table of the contract.

Order matters: the population is drawn first, then fraud and laundering recruit their actors
from it (which changes some accounts' dates and roles), then the accounts table is written,
and only then is honest traffic generated, one day at a time, merged with the injected rows
of that day and appended to the transactions file. Memory therefore holds one day of honest
traffic plus the injected rows (a few percent of the total), whatever the world's length.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from time import perf_counter

import numpy as np
import polars as pl
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vigil.schema.io import TableWriter, write_table
from vigil.schema.tables import CURRENCY_OF, TYPOLOGIES
from vigil.world.aml import inject_aml
from vigil.world.claims import build_claims
from vigil.world.config import COUNTRIES, WorldConfig
from vigil.world.events import US_PER_DAY, Events, to_frame
from vigil.world.fraud import inject_fraud
from vigil.world.legit import LegitTraffic
from vigil.world.names import business_names, person_names
from vigil.world.population import PERSON, Population, build_population
from vigil.world.sampling import Toolkit, component_rng
from vigil.world.sme import build_sme
from vigil.world.watchlist import build_watchlist

# Component ids of the tables built outside this package's traffic generators.
NAMES, WATCHLIST, CLAIMS, SME = 2, 60, 61, 62
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class WorldSummary:
    """What a run produced, for the CLI to print and for tests to check."""

    out_dir: Path
    accounts: int
    days: int
    seed: int
    rows: dict[str, int]  #: rows written per table
    fraud_rate: float  #: non-legit share of transactions
    typology_counts: dict[str, int]  #: transactions per typology, 'legit' included
    typology_usd: dict[str, float]  #: amount per typology in US dollars (at config rates)
    seconds: float

    def render(self) -> Table:
        table = Table(
            title=f"world in {self.out_dir} — {self.accounts:,} accounts, {self.days} days, "
            f"seed {self.seed}, {self.seconds:.1f} s",
            caption=f"fraud rate {self.fraud_rate:.2%} · "
            + " · ".join(f"{name} {rows:,}" for name, rows in self.rows.items()),
        )
        table.add_column("typology")
        table.add_column("transactions", justify="right")
        table.add_column("share", justify="right")
        table.add_column("amount (USD)", justify="right")
        total = max(sum(self.typology_counts.values()), 1)
        for name, count in self.typology_counts.items():
            table.add_row(
                name, f"{count:,}", f"{count / total:.3%}", f"{self.typology_usd[name]:,.0f}"
            )
        return table


class _Tally:
    """Running counts and dollar amounts per typology over the days written."""

    def __init__(self, toolkit: Toolkit, country: np.ndarray):
        self.money = toolkit.money
        self.country = country
        self.count = np.zeros(len(TYPOLOGIES), dtype=np.int64)
        self.usd = np.zeros(len(TYPOLOGIES))

    def add(self, events: Events) -> None:
        self.count += np.bincount(events.typology, minlength=len(TYPOLOGIES))
        usd = self.money.to_usd(events.amount, self.country[events.payer])
        self.usd += np.bincount(events.typology, weights=usd, minlength=len(TYPOLOGIES))


def _microseconds(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _names(pop: Population, seed: int) -> list[str]:
    rng = component_rng(seed, NAMES)
    codes = np.asarray(COUNTRIES)[pop.country]
    person = pop.kind == PERSON
    names = np.empty(len(pop), dtype=object)
    names[person] = person_names(rng, codes[person])
    names[~person] = business_names(rng, codes[~person], pop.sector[~person].astype(str))
    return names.tolist()


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not enabled,
    )


def simulate_world(
    out_dir: Path,
    accounts: int = 20_000,
    days: int = 30,
    seed: int = 7,
    fmt: str = "parquet",
    progress: bool = True,
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC),
    config: WorldConfig | None = None,
) -> WorldSummary:
    """Write a labelled world to ``out_dir``; the same arguments give byte-identical files."""
    began = perf_counter()
    out_dir = Path(out_dir)
    cfg = config or WorldConfig()
    start_us = _microseconds(start)
    start = datetime.fromtimestamp(start_us / 1e6, tz=UTC)
    toolkit = Toolkit.of(cfg, start_us, days)
    rows: dict[str, int] = {}
    with _progress(progress) as bar:
        task = bar.add_task("population", total=days + 6)
        pop = build_population(cfg, accounts, start_us, days, seed)
        injected = Events.concat(
            [inject_fraud(cfg, pop, seed, toolkit), inject_aml(cfg, pop, seed, toolkit)]
        ).sorted()
        accounts_frame = pop.accounts_frame(_names(pop, seed))
        write_table(accounts_frame, out_dir, "accounts", fmt)
        rows["accounts"] = accounts_frame.height
        bar.update(task, advance=1, description="transactions")

        legit = LegitTraffic(cfg, pop, seed)
        tally = _Tally(toolkit, pop.country)
        ids = pop.account_ids()
        countries = pl.Series(COUNTRIES)
        currencies = pl.Series([CURRENCY_OF[c] for c in COUNTRIES])
        written = 0
        with TableWriter(out_dir, "transactions", fmt) as writer:
            for index in range(days):
                lo = start_us + index * US_PER_DAY
                today = Events.concat([legit.day(index), injected.window(lo, lo + US_PER_DAY)])
                today = today.sorted()
                writer.write(to_frame(today, written, ids, pop.country, countries, currencies))
                tally.add(today)
                written += len(today)
                bar.update(task, advance=1)
        rows["transactions"] = written

        bar.update(task, description="watchlist")
        watchlist = build_watchlist(component_rng(seed, WATCHLIST), accounts_frame)
        rows.update(_write(watchlist, out_dir, "watchlist", fmt))
        bar.update(task, advance=1, description="claims")
        claims = build_claims(component_rng(seed, CLAIMS), accounts_frame, start, days)
        rows.update(_write(claims, out_dir, "claims", fmt))
        bar.update(task, advance=1, description="businesses, trade, loans")
        sme = build_sme(component_rng(seed, SME), accounts_frame, start, days)
        for name in ("businesses", "trade", "loans"):
            rows.update(_write(sme[name], out_dir, name, fmt))
        bar.update(task, advance=3, description="done")

    counts = {name: int(n) for name, n in zip(TYPOLOGIES, tally.count, strict=True)}
    return WorldSummary(
        out_dir=out_dir,
        accounts=accounts,
        days=days,
        seed=seed,
        rows=rows,
        fraud_rate=(written - counts["legit"]) / written if written else 0.0,
        typology_counts=counts,
        typology_usd={name: float(usd) for name, usd in zip(TYPOLOGIES, tally.usd, strict=True)},
        seconds=perf_counter() - began,
    )


def _write(frame: pl.DataFrame, out_dir: Path, table: str, fmt: str) -> dict[str, int]:
    write_table(frame, out_dir, table, fmt)
    return {table: frame.height}
