"""The synthetic payments world: contract, determinism, labels and each typology's shape.

One small world (1,000 accounts, 10 days) is built per session; every check reads it from disk
through the contract's reader, as the rest of Vigil would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from vigil.schema.io import read_table
from vigil.schema.tables import AML_TYPOLOGIES, CURRENCY_OF, TABLES, TYPOLOGIES
from vigil.world.config import COUNTRIES, WorldConfig
from vigil.world.sampling import Money
from vigil.world.simulate import WorldSummary, simulate_world

ACCOUNTS, DAYS, SEED = 1_000, 10, 7
START = datetime(2026, 1, 1, tzinfo=UTC)
CFG = WorldConfig()


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, WorldSummary]:
    out = tmp_path_factory.mktemp("world")
    return out, simulate_world(out, ACCOUNTS, DAYS, SEED, progress=False, start=START)


@pytest.fixture(scope="session")
def txns(world: tuple[Path, WorldSummary]) -> pl.DataFrame:
    return read_table(world[0], "transactions")


@pytest.fixture(scope="session")
def accounts(world: tuple[Path, WorldSummary]) -> pl.DataFrame:
    return read_table(world[0], "accounts")


def _rows(txns: pl.DataFrame, typology: str) -> pl.DataFrame:
    return txns.filter(pl.col("typology") == typology)


def _usd(frame: pl.DataFrame) -> np.ndarray:
    country = np.array([COUNTRIES.index(c) for c in frame["payer_country"]], dtype=np.int64)
    return Money(CFG).to_usd(frame["amount"].to_numpy(), country)


# --- the contract -------------------------------------------------------------------------


def test_every_table_is_written_and_readable(world: tuple[Path, WorldSummary]) -> None:
    out, summary = world
    for table in TABLES:
        frame = read_table(out, table)
        assert frame.height == summary.rows[table], table
    assert summary.rows["accounts"] == ACCOUNTS


def test_transactions_have_the_contract_dtypes(txns: pl.DataFrame) -> None:
    assert dict(txns.schema) == TABLES["transactions"].polars_schema()
    required = (*TABLES["transactions"].required, "is_fraud", "typology", "label_ts")
    assert txns.select(pl.col(required).null_count().sum()).row(0) == (0,) * len(required)


def test_ids_unique_times_sorted_and_inside_the_window(txns: pl.DataFrame) -> None:
    assert txns["txn_id"].n_unique() == txns.height
    assert txns["ts"].is_sorted()
    assert txns["ts"].min() >= START
    assert txns["ts"].max() < START + timedelta(days=DAYS)


def test_amounts_positive_and_currency_follows_payer(txns: pl.DataFrame) -> None:
    assert (txns["amount"] > 0).all()
    expected = txns["payer_country"].replace_strict(CURRENCY_OF)
    assert (txns["currency"] == expected).all()
    assert (txns["jurisdiction"] == txns["payer_country"]).all()


def test_every_party_is_an_account(txns: pl.DataFrame, accounts: pl.DataFrame) -> None:
    for side in ("payer_id", "payee_id"):
        unknown = txns.join(accounts, left_on=side, right_on="account_id", how="anti")
        assert unknown.height == 0, side
    country = dict(zip(accounts["account_id"], accounts["country"], strict=True))
    assert (txns["payer_country"] == txns["payer_id"].replace_strict(country)).all()


def test_nobody_pays_before_their_account_opens(txns: pl.DataFrame, accounts: pl.DataFrame) -> None:
    opened = accounts.select("account_id", "created_at")
    for side in ("payer_id", "payee_id"):
        joined = txns.join(opened, left_on=side, right_on="account_id")
        assert (joined["created_at"] <= joined["ts"]).all(), side


def test_mcc_only_where_a_merchant_is_party(txns: pl.DataFrame) -> None:
    merchant = pl.col("payee_id").str.starts_with("M") | pl.col("payer_id").str.starts_with("M")
    assert txns.filter(pl.col("mcc").is_not_null() & ~merchant).height == 0
    assert txns.filter(pl.col("mcc").is_not_null())["mcc"].str.contains(r"^\d{4}$").all()


def test_accounts_cover_every_country_kind_and_kyc(accounts: pl.DataFrame) -> None:
    assert set(accounts["country"]) == set(COUNTRIES)
    assert set(accounts["kind"]) == {"person", "merchant", "business"}
    assert set(accounts["kyc_level"]) == {0, 1, 2, 3}
    firms = accounts.filter(pl.col("kind") != "person")
    assert firms["sector"].null_count() == 0
    assert (
        accounts.filter(pl.col("kind") == "person")["sector"].null_count()
        == (accounts["kind"] == "person").sum()
    )
    assert accounts["name"].null_count() == 0


# --- determinism --------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_world(
    world: tuple[Path, WorldSummary], tmp_path: Path
) -> None:
    again, other = tmp_path / "again", tmp_path / "other"
    # Another process with another hash seed: nothing may depend on set or dict order.
    build = (
        "from datetime import datetime, UTC; from pathlib import Path; "
        "from vigil.world.simulate import simulate_world; "
        f"simulate_world(Path({str(again)!r}), {ACCOUNTS}, {DAYS}, {SEED}, progress=False, "
        "start=datetime(2026, 1, 1, tzinfo=UTC))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", build], check=True, env=env)
    simulate_world(other, ACCOUNTS, DAYS, SEED + 1, progress=False, start=START)
    files = sorted(p.name for p in world[0].iterdir())
    assert files == sorted(p.name for p in again.iterdir())
    for name in files:
        assert (world[0] / name).read_bytes() == (again / name).read_bytes(), name
    first = (world[0] / "transactions.parquet").read_bytes()
    assert first != (other / "transactions.parquet").read_bytes()


# --- labels and volume --------------------------------------------------------------------


def test_fraud_rate_in_the_configured_range(
    world: tuple[Path, WorldSummary], txns: pl.DataFrame
) -> None:
    lo, hi = CFG.fraud_rate_range
    rate = txns["is_fraud"].mean()
    assert lo <= rate <= hi
    assert world[1].fraud_rate == pytest.approx(rate)


def test_every_typology_present_and_labels_agree(txns: pl.DataFrame) -> None:
    # merchant collusion is off in the default world (the crew preset has it)
    assert set(txns["typology"]) == set(TYPOLOGIES) - {"merchant_collusion"}
    assert (txns["is_fraud"] == (txns["typology"] != "legit")).all()


def test_labels_arrive_after_the_payment(txns: pl.DataFrame) -> None:
    delay = (txns["label_ts"] - txns["ts"]).dt.total_hours() / 24
    legit = txns["typology"] == "legit"
    assert (delay.filter(legit) == CFG.legit_label_days).all()
    fraud = delay.filter(~legit)
    assert fraud.min() >= 2
    assert fraud.max() <= 45 + 20  # delay cap plus the longest incident (synthetic history)
    assert fraud.std() > 1  # late and spread out, not a constant offset


def test_volume_per_account(txns: pl.DataFrame) -> None:
    per_account_month = txns.height / ACCOUNTS * 30 / DAYS
    assert 15 <= per_account_month <= 30


def test_every_channel_used(txns: pl.DataFrame) -> None:
    assert set(txns["channel"]) == set(TABLES["transactions"].column("channel").choices)


# --- legit rhythms and look-alikes --------------------------------------------------------


def _local_hour(frame: pl.DataFrame) -> pl.Series:
    offset = {c: CFG.countries[c].utc_offset for c in COUNTRIES}
    return (frame["ts"].dt.hour() + frame["payer_country"].replace_strict(offset)) % 24


def test_daily_rhythm(txns: pl.DataFrame) -> None:
    legit = _rows(txns, "legit")
    hour = _local_hour(legit)
    assert ((hour < 6).mean()) < 0.06
    assert ((hour >= 11) & (hour < 14)).mean() > 0.15


def test_salaries_are_batches_from_businesses(txns: pl.DataFrame) -> None:
    salaries = _rows(txns, "legit").filter(
        pl.col("payer_id").str.starts_with("B") & pl.col("payee_id").str.starts_with("P")
    )
    per_employer_day = salaries.group_by("payer_id", pl.col("ts").dt.date()).len()
    assert per_employer_day["len"].max() >= 5


def test_travel_is_legit_and_cross_border(txns: pl.DataFrame) -> None:
    abroad = _rows(txns, "legit").filter(
        (pl.col("payee_country") != pl.col("payer_country")) & pl.col("mcc").is_not_null()
    )
    assert abroad.height > 20
    assert abroad["payer_id"].n_unique() > 5


def test_legit_new_devices_exist(txns: pl.DataFrame) -> None:
    legit = _rows(txns, "legit").filter(pl.col("payer_id").str.starts_with("P"))
    first_seen = legit.group_by("payer_id", "device_id").agg(pl.col("ts").min().alias("seen"))
    first_row = legit.group_by("payer_id").agg(pl.col("ts").min().alias("first"))
    late = first_seen.join(first_row, on="payer_id").filter(
        pl.col("seen") > pl.col("first") + timedelta(days=3)
    )
    assert late.height > 5


def test_legit_big_purchases_exist(txns: pl.DataFrame) -> None:
    legit = _rows(txns, "legit").filter(pl.col("mcc").is_in(["5732", "5944", "5712", "4722"]))
    assert (_usd(legit) > 500).sum() > 5


# --- fraud shapes -------------------------------------------------------------------------


def test_account_takeover_uses_a_device_the_victim_never_used(txns: pl.DataFrame) -> None:
    ato = _rows(txns, "account_takeover").filter(pl.col("channel") != "cash_out")
    own = _rows(txns, "legit").select("payer_id", "device_id").unique()
    assert ato.join(own, on=["payer_id", "device_id"]).height == 0


def test_card_testing_probes_small_then_buys_big(txns: pl.DataFrame) -> None:
    rows = _rows(txns, "card_testing")
    usd = _usd(rows)
    for _, incident in rows.with_columns(usd=usd).group_by("payer_id", "device_id"):
        ordered = incident.sort("ts")["usd"].to_numpy()
        assert ordered[:3].max() < 3
        assert ordered[-1] > 50


def test_mule_ring_accounts_are_new_thin_and_share_phones(
    txns: pl.DataFrame, accounts: pl.DataFrame
) -> None:
    rows = _rows(txns, "mule_ring")
    mules = set(rows.filter(pl.col("channel") != "cash_out")["payee_id"])
    info = accounts.filter(pl.col("account_id").is_in(mules))
    assert info["kyc_level"].max() <= 1
    assert info["created_at"].min() >= START - timedelta(days=15)
    forwards = rows.filter(pl.col("payer_id").is_in(mules) & (pl.col("channel") != "cash_out"))
    sharing = forwards.group_by("device_id").agg(pl.col("payer_id").n_unique().alias("accounts"))
    assert sharing["accounts"].max() >= 2


def test_synthetic_identities_build_history_then_bust_out(txns: pl.DataFrame) -> None:
    rows = _rows(txns, "synthetic_identity").filter(pl.col("channel") != "cash_in")
    rows = rows.with_columns(usd=_usd(rows))
    for _, account in rows.group_by("payer_id"):
        ordered = account.sort("ts")
        assert ordered["usd"].head(2).max() < ordered["usd"].tail(2).max()


def test_first_party_looks_like_a_normal_purchase(txns: pl.DataFrame) -> None:
    rows = _rows(txns, "first_party")
    own = _rows(txns, "legit").select("payer_id", "device_id").unique()
    # The customer's own phone; a short window has not always shown their second device yet.
    assert rows.join(own, on=["payer_id", "device_id"]).height >= 0.7 * rows.height
    assert set(rows["mcc"]) <= set(CFG.first_party.mccs)


# --- laundering shapes --------------------------------------------------------------------


def test_structuring_stays_just_under_each_threshold(txns: pl.DataFrame) -> None:
    deposits = _rows(txns, "structuring").filter(pl.col("channel") == "cash_in")
    threshold = deposits["jurisdiction"].replace_strict(CFG.structuring.thresholds)
    share = deposits["amount"] / threshold
    assert (share < 1).all()
    assert (share >= CFG.structuring.band[0] * 0.98).all()
    totals = (
        deposits.with_columns(threshold=threshold)
        .group_by("payee_id")
        .agg(pl.col("amount").sum(), pl.col("threshold").first())
    )
    assert (totals["amount"] > totals["threshold"]).all()


def _degrees(rows: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    out = rows.group_by("payer_id").agg(pl.col("payee_id").n_unique().alias("n"))
    into = rows.group_by("payee_id").agg(pl.col("payer_id").n_unique().alias("n"))
    return out, into


def test_fan_in_and_fan_out_have_many_counterparties(txns: pl.DataFrame) -> None:
    _, into = _degrees(_rows(txns, "fan_in"))
    assert into["n"].min() >= CFG.fan_in.senders[0]
    out, _ = _degrees(_rows(txns, "fan_out"))
    sources = out.filter(pl.col("n") > 1)
    assert sources.height >= CFG.fan_out.min_incidents
    assert sources["n"].min() >= CFG.fan_out.receivers[0]


def test_cycles_return_to_their_origin(txns: pl.DataFrame) -> None:
    rows = _rows(txns, "cycle")
    out, into = _degrees(rows)
    # Every account sends once and receives once: the edges are disjoint simple cycles.
    assert (out["n"] == 1).all() and (into["n"] == 1).all()
    assert set(out["payer_id"]) == set(into["payee_id"])
    step = dict(zip(rows["payer_id"], rows["payee_id"], strict=True))
    when = dict(zip(rows["payer_id"], rows["ts"], strict=True))
    seen: set[str] = set()
    for origin in step:
        if origin in seen:
            continue
        members, node = [origin], step[origin]
        while node != origin:
            members.append(node)
            node = step[node]
            assert len(members) <= CFG.cycle.length[1]
        assert len(members) >= CFG.cycle.length[0]
        took = max(when[m] for m in members) - min(when[m] for m in members)
        assert took <= timedelta(hours=CFG.cycle.length[1] * CFG.cycle.hop_hours[1] + 6)
        seen.update(members)


def test_pass_through_forwards_almost_everything_within_hours(txns: pl.DataFrame) -> None:
    rows = _rows(txns, "pass_through")
    rows = rows.with_columns(usd=_usd(rows))
    middles = set(rows["payer_id"]) & set(rows["payee_id"])
    assert len(middles) >= CFG.pass_through.min_incidents
    for middle in middles:
        into = rows.filter(pl.col("payee_id") == middle)
        out = rows.filter(pl.col("payer_id") == middle)
        assert 0.9 <= out["usd"].sum() / into["usd"].sum() <= 1.01
        held = out["ts"].max() - into["ts"].min()
        assert timedelta(0) < held <= timedelta(hours=CFG.pass_through.hold_hours[1] + 6)


def test_dormant_accounts_wake_up_with_large_sums(
    txns: pl.DataFrame, accounts: pl.DataFrame
) -> None:
    rows = _rows(txns, "dormant_reactivation")
    sleepers = set(rows["payer_id"]) & set(rows["payee_id"])
    assert len(sleepers) >= CFG.dormant_reactivation.min_incidents
    old = accounts.filter(pl.col("account_id").is_in(sleepers))["created_at"]
    assert old.max() <= START - timedelta(days=CFG.population.dormant_min_age_days)
    for sleeper in sleepers:
        involved = (pl.col("payer_id") == sleeper) | (pl.col("payee_id") == sleeper)
        everything = txns.filter(involved).sort("ts")
        assert everything["typology"][0] == "dormant_reactivation"
        assert (everything["typology"] == "dormant_reactivation").all()


def test_aml_rows_are_transfers_or_cash(txns: pl.DataFrame) -> None:
    aml = txns.filter(pl.col("typology").is_in(sorted(AML_TYPOLOGIES)))
    assert set(aml["channel"]) <= {"transfer", "wallet", "cash_in", "cash_out"}


def test_other_formats(tmp_path: Path) -> None:
    summary = simulate_world(tmp_path, 500, 3, SEED, fmt="csv", progress=False, start=START)
    frame = read_table(tmp_path, "transactions")
    assert frame.height == summary.rows["transactions"]
    assert dict(frame.schema) == TABLES["transactions"].polars_schema()
