"""Each pool holds only its own jurisdiction's rows, and the pools differ."""

import json

import polars as pl

from vigil.federated.partition import POOL_MANIFEST, pool_dirs, pool_profile
from vigil.schema.io import read_table


def test_each_pool_holds_its_own_rows_and_nothing_else(pools, tiny_world):
    world = read_table(tiny_world, "transactions")
    folders = pool_dirs(pools)
    assert sorted(f.name for f in folders) == sorted(world["jurisdiction"].unique().to_list())
    total = 0
    for folder in folders:
        assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [
            "accounts.parquet",
            POOL_MANIFEST,
            "transactions.parquet",
        ]
        rows = read_table(folder, "transactions")
        assert rows["jurisdiction"].unique().to_list() == [folder.name]
        named = set(rows["payer_id"]) | set(rows["payee_id"])
        assert set(read_table(folder, "accounts")["account_id"]) <= named
        total += rows.height
    assert total == world.height


def test_pools_are_non_iid_and_profiles_are_counts(pools):
    profiles = [pool_profile(f) for f in pool_dirs(pools)]
    assert len({p.transactions for p in profiles}) == len(profiles)  # sizes differ
    assert max(p.fraud_rate for p in profiles) > 2 * min(p.fraud_rate for p in profiles)
    mixes = {tuple(sorted(p.typologies)) for p in profiles}
    assert len(mixes) > 1  # typology mixes differ
    for folder, profile in zip(pool_dirs(pools), profiles, strict=True):
        written = json.loads((folder / POOL_MANIFEST).read_text())
        assert written["transactions"] == profile.transactions
        assert written["frauds"] == profile.frauds
        frauds = read_table(folder, "transactions").filter(pl.col("is_fraud")).height
        assert sum(profile.typologies.values()) == frauds
