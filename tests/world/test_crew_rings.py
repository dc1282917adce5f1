"""The crew-rings preset: ring members look like ordinary customers one at a time, and the
ring shows only through its phones. If a change gave mules back an empty or brand-new life,
the graph ablation (``bench/graph_ablation.py --world crews``) would silently measure nothing.

One small world (2,000 accounts, 20 days) is built per module.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from vigil.schema.io import read_table
from vigil.world.config import WorldConfig
from vigil.world.presets import crew_rings
from vigil.world.simulate import simulate_world

START = datetime(2026, 1, 1, tzinfo=UTC)
RINGS = ("mule_ring", "account_takeover")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("crews")
    simulate_world(out, 2_000, 20, 5, progress=False, start=START, config=crew_rings())
    return out


@pytest.fixture(scope="module")
def txns(world: Path) -> pl.DataFrame:
    return read_table(world, "transactions")


@pytest.fixture(scope="module")
def members(txns: pl.DataFrame) -> pl.DataFrame:
    """Rented accounts: every account that receives a ring's transfer (mules, collectors)."""
    fraud = txns.filter(pl.col("typology").is_in(RINGS))
    transfers = fraud.filter(pl.col("mcc").is_null() & (pl.col("channel") != "cash_out"))
    return (
        transfers.group_by(pl.col("payee_id").alias("account_id"))
        .agg(pl.col("ts").min().alias("first_fraud"), pl.col("typology").first())
        .sort("account_id")
    )


def test_the_default_world_has_no_crews() -> None:
    cfg = WorldConfig()
    assert cfg.mule_ring.crew is None and cfg.account_takeover.crew is None
    assert cfg.legit.marketplace_per_day == 0.0
    assert cfg.merchant_collusion is None


def test_members_are_aged_ordinarily_verified_customers(world: Path, members: pl.DataFrame):
    assert set(members.get_column("typology")) == set(RINGS)
    accounts = read_table(world, "accounts").join(members, on="account_id")
    assert accounts.height == members.height > 20
    age_days = (pl.lit(START) - pl.col("created_at")).dt.total_days()
    assert accounts.select(age_days.min()).item() >= 60
    # the population's KYC mix (85% at levels 2-3), not the 0-1 of accounts opened for fraud
    assert accounts.select((pl.col("kyc_level") >= 2).mean()).item() > 0.6


def test_members_keep_an_honest_life_before_and_during(txns: pl.DataFrame, members):
    legit = txns.filter(pl.col("typology") == "legit")
    own = pl.concat(
        [
            legit.select(pl.col("payer_id").alias("account_id"), "ts"),
            legit.select(pl.col("payee_id").alias("account_id"), "ts"),
        ]
    ).join(members, on="account_id")
    per = own.group_by("account_id").agg(
        (pl.col("ts") < pl.col("first_fraud")).sum().alias("before"),
        (pl.col("ts") >= pl.col("first_fraud")).sum().alias("after"),
    )
    assert per.height == members.height  # everyone has honest rows
    late = members.filter(pl.col("first_fraud") > pl.lit(START) + pl.duration(days=5))
    history = per.join(late, on="account_id")
    assert history.select((pl.col("before") >= 3).mean()).item() > 0.9
    assert per.select((pl.col("after") >= 1).mean()).item() > 0.9


def test_crew_phones_tie_incidents_together(txns: pl.DataFrame, members: pl.DataFrame):
    """Check purchases and forwards of rented accounts run on a few crew phones, each used by
    accounts of several incidents; no honest row ever uses one."""
    ring = txns.filter(pl.col("typology") == "mule_ring")
    operated = ring.filter(pl.col("payer_id").is_in(members.get_column("account_id").implode()))
    operated = operated.filter(pl.col("channel") != "cash_out")
    per_phone = operated.group_by("device_id").agg(pl.col("payer_id").n_unique().alias("n"))
    assert per_phone.get_column("n").max() >= 6  # one ring has at most five accounts
    legit = txns.filter(pl.col("typology") == "legit")
    assert not legit.filter(
        pl.col("device_id").is_in(per_phone.get_column("device_id").implode())
    ).height


def test_honest_strangers_pay_sellers(txns: pl.DataFrame):
    """The look-alike of a victim paying a mule: persons receiving transfers from many people
    outside any circle."""
    legit = txns.filter(
        (pl.col("typology") == "legit")
        & pl.col("mcc").is_null()
        & pl.col("payer_id").str.starts_with("P")
        & pl.col("payee_id").str.starts_with("P")
    )
    payers = legit.group_by("payee_id").agg(pl.col("payer_id").n_unique().alias("n"))
    assert payers.filter(pl.col("n") >= 12).height >= 20  # circles hold at most ten


# -- collusive merchants -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def collusion(txns: pl.DataFrame) -> dict[str, pl.DataFrame]:
    rows = txns.filter(pl.col("typology") == "merchant_collusion")
    sales = rows.filter(pl.col("mcc").is_not_null() & (pl.col("channel") != "cash_out"))
    paid = sales.get_column("payee_id").implode()
    purchases = sales.filter(~pl.col("payer_id").is_in(paid))
    shops = purchases.get_column("payee_id").unique()
    return {
        "purchases": purchases,
        "checks": sales.filter(pl.col("payer_id").is_in(paid)),
        "payouts": rows.filter(pl.col("mcc").is_null() & pl.col("payer_id").is_in(shops.implode())),
        "shops": pl.DataFrame({"account_id": shops}),
    }


def test_rented_shops_are_old_online_merchants_with_honest_sales(world: Path, txns, collusion):
    shops = read_table(world, "accounts").join(collusion["shops"], on="account_id")
    assert shops.height == collusion["shops"].height >= 3
    assert set(shops.get_column("kind")) == {"merchant"}
    assert shops.select((pl.lit(START) - pl.col("created_at")).dt.total_days().min()).item() >= 60
    honest = txns.filter(
        (pl.col("typology") == "legit")
        & pl.col("payee_id").is_in(collusion["shops"].get_column("account_id").implode())
    )
    assert honest.get_column("payee_id").n_unique() == shops.height
    assert honest.height > 5 * collusion["purchases"].height  # the scam is a sliver of sales


def test_victims_buy_from_their_own_phone_and_home(txns: pl.DataFrame, collusion):
    """Nothing of the crew is on a victim's purchase: its device and address are the ones the
    victim uses for honest payments."""
    purchases = collusion["purchases"]
    honest = txns.filter(pl.col("typology") == "legit").select(
        pl.col("payer_id"), pl.col("device_id"), pl.col("ip")
    )
    own = purchases.join(honest.unique(), on=["payer_id", "device_id", "ip"], how="semi")
    assert own.height == purchases.height


def test_a_crews_shops_share_its_phones_and_nothing_honest_uses_them(txns, collusion):
    operated = pl.concat([collusion["checks"], collusion["payouts"]])
    per_phone = operated.group_by("device_id").agg(pl.col("payer_id").n_unique().alias("shops"))
    assert per_phone.get_column("shops").max() >= 2
    legit = txns.filter(pl.col("typology") == "legit")
    assert not legit.filter(
        pl.col("device_id").is_in(per_phone.get_column("device_id").implode())
    ).height
    # each shop is checked before its first victim pays
    first_check = collusion["checks"].group_by("payer_id").agg(pl.col("ts").min().alias("check"))
    first_sale = collusion["purchases"].group_by("payee_id").agg(pl.col("ts").min().alias("sale"))
    both = first_check.join(first_sale, left_on="payer_id", right_on="payee_id")
    assert both.height == collusion["shops"].height
    assert (both.get_column("check") < both.get_column("sale")).all()
