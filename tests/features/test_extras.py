"""Extra columns as features: kinds, values, entity windows, persistence, one path, and lift.

The lift test relabels a generated world so that only two extra columns (a device score and
an address-check result) say which payments are fraud; a model that reads them must beat,
by far, the same model without them.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from vigil.features.extras import ExtraFeatures, feature_name
from vigil.features.online import OnlineFeatures
from vigil.features.replay import compute_features, merged_stream
from vigil.features.stores.memory import SnapshotError
from vigil.schema.mapping import ColumnMapping, ExtraColumns
from vigil.schema.records import FieldError, Transaction

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def frame(**extras) -> pl.DataFrame:
    n = len(next(iter(extras.values())))
    return pl.DataFrame(
        {
            "txn_id": [f"T{i}" for i in range(n)],
            "ts": [T0 + timedelta(minutes=10 * i) for i in range(n)],
            "payer_id": ["P1"] * n,
            "payee_id": ["M1"] * n,
            "amount": [1_000] * n,
            "currency": ["USD"] * n,
            "channel": ["card"] * n,
            "jurisdiction": ["SG"] * n,
            **extras,
        }
    )


def txn(i: int = 0, minutes: int = 0, **extra) -> Transaction:
    return Transaction(f"X{i}", T0 + timedelta(minutes=minutes), "P1", "M1", 1_000, "USD",
                       "card", "SG", extra=extra)  # fmt: skip


def selection(text: str) -> ExtraColumns:
    return ColumnMapping.parse(f"transactions:\n  features:\n{text}", "m.yaml").features


def test_kinds_are_inferred_and_overridden():
    data = frame(
        score=[0.1, 0.5, None, 0.9],
        avs=["Y", "N", "Y", None],
        ref=["a", "b", "c", "d"],
        flag=[True, False, True, True],
        empty=[None, None, None, None],
    )
    block = ExtraFeatures.fit(data, selection=ExtraColumns(max_categories=3))
    kinds = {c.column: c.kind for c in block.columns}
    assert kinds == {"score": "numeric", "avs": "categorical", "flag": "numeric"}
    assert "high cardinality" in block.ignored["ref"] and block.ignored["empty"] == "always missing"
    chosen = ExtraFeatures.fit(
        data, selection=selection("    entities: {ref: [1h]}\n    exclude: [flag]\n")
    )
    assert {c.column: c.kind for c in chosen.columns} == {
        "score": "numeric", "avs": "categorical", "ref": "entity"}  # fmt: skip
    assert chosen.names[-3:] == (
        "extra_ref_count_1h",
        "extra_ref_sum_1h",
        "extra_ref_days_since_first",
    )


def test_selection_mistakes_name_the_mapping_line():
    data = frame(score=[0.1, 0.2])
    with pytest.raises(ValueError, match=r"m.yaml, line 4 \(features.categorical\).*'avs'"):
        ExtraFeatures.fit(
            data, selection=selection("    include: [score]\n    categorical: [avs]\n")
        )
    with pytest.raises(ValueError, match=r"line 3 \(features.entities\).*'2w'"):
        ExtraFeatures.fit(data, selection=selection("    entities: {score: [2w]}\n"))
    with pytest.raises(ValueError, match="under both numeric and categorical"):
        selection("    numeric: [a]\n    categorical: [a]\n")


def test_values_read_the_same_from_any_source():
    data = frame(bank=["010", "020", "010", "030"], score=["1.5", "2", None, "x"])
    block = ExtraFeatures.fit(data, selection=selection("    categorical: [bank]\n"))
    codes = {c.column: c for c in block.columns}
    assert codes["bank"].categories == ("10", "20", "30")  # most frequent first; "010" is 10
    names = list(block.names)
    for value in ("010", 10, 10.0, " 10 "):
        assert block.process(txn(bank=value))[names.index("extra_bank")] == 0.0
    assert block.process(txn(bank="999"))[names.index("extra_bank")] == 3.0  # unseen: "other"
    assert math.isnan(block.process(txn())[names.index("extra_bank")])


def test_numeric_values_and_required_columns():
    block = ExtraFeatures.fit(
        frame(score=[0.5, 1.0]), selection=selection("    required: [score]\n")
    )
    assert block.process(txn(score="0.25")) == [0.25]
    assert block.process(txn(score=True)) == [1.0]
    assert math.isnan(block.process(txn(score="n/a"))[0])
    block.check(txn(score=0))
    with pytest.raises(FieldError) as caught:
        block.check(txn())
    assert caught.value.field == "score"


def test_entity_windows_count_before_each_payment_and_survive_a_snapshot(tmp_path):
    block = ExtraFeatures.fit(frame(card=["a", "b"]), selection=selection("    entities: {card: [1h, 24h]}\n"))  # fmt: skip
    first = block.process(txn(0, 0, card="c1"))
    assert first[:4] == [0.0, 0.0, 0.0, 0.0] and math.isnan(first[4])
    block.process(txn(1, 10, card="c1"))
    later = block.process(txn(2, 90, card="c1"))  # 90 min: the first two left the 1h window
    assert later[0] == 0.0 and later[2] == 2.0 and later[3] == 20.0
    assert later[4] == pytest.approx(90 / 1440)
    block.snapshot(tmp_path / "extras.snapshot")
    block.save(tmp_path / "config")
    again = ExtraFeatures.load(tmp_path / "config")
    assert again.names == block.names and again.fingerprint == block.fingerprint
    again.restore(tmp_path / "extras.snapshot")
    assert again.process(txn(3, 95, card="c1")) == block.process(txn(3, 95, card="c1"))


def test_an_unreadable_snapshot_is_refused_with_the_remedy(tmp_path):
    block = ExtraFeatures.fit(frame(card=["a", "b"]), selection=selection("    entities: {card: [1h]}\n"))  # fmt: skip
    (tmp_path / "extras.snapshot").write_bytes(b"not a pickle")
    with pytest.raises(SnapshotError, match=r"(?i)retrain"):
        block.restore(tmp_path / "extras.snapshot")


def test_online_equals_offline_with_extra_columns():
    n = 300
    rng = np.random.default_rng(5)
    data = frame(
        score=rng.random(n).round(3).tolist(),
        avs=rng.choice(["Y", "N", "Z"], n).tolist(),
        card=[f"c{i}" for i in rng.integers(0, 20, n)],
        is_fraud=(rng.random(n) < 0.1).tolist(),
    ).with_columns(label_ts=pl.col("ts") + timedelta(hours=2))
    chosen = selection("    entities: [card]\n")
    block = ExtraFeatures.fit(data, selection=chosen)
    offline = compute_features(data, OnlineFeatures(blocks=[block]))
    online_features = OnlineFeatures(blocks=[ExtraFeatures.fit(data, selection=chosen)])
    rows = []
    for record, label in merged_stream(data):
        if record is None:
            online_features.observe_label(*label)
            continue
        payload = json.loads(json.dumps(record.to_dict()))  # as it would arrive over HTTP
        rows.append(online_features.process(Transaction.from_mapping(payload)))
    np.testing.assert_array_equal(np.asarray(rows), offline)
    extra = [i for i, name in enumerate(online_features.names) if name.startswith("extra_")]
    assert len(extra) == 2 + 7 and np.isfinite(offline[:, extra[:3]]).all()


def test_feature_names_are_safe_for_lightgbm():
    assert feature_name("Payment Format") == "extra_Payment_Format"
    assert feature_name("score[0]:raw") == "extra_score_0_raw"


# ---- lift on a world where only the extra columns carry the signal ------------------------------


@pytest.fixture(scope="module")
def signal_world(tmp_path_factory) -> Path:
    """A generated world relabelled from two extra columns alone (labels mature after the
    world ends, so not even label feedback helps the contract features)."""
    from vigil.schema.io import write_table
    from vigil.world.simulate import simulate_world

    out = tmp_path_factory.mktemp("signal")
    simulate_world(out, accounts=500, days=6, seed=9, progress=False, start=T0)
    txns = pl.read_parquet(out / "transactions.parquet")
    rng = np.random.default_rng(9)
    score = rng.random(txns.height)
    avs = rng.choice(["Y", "N", "A", "Z", "U"], txns.height)
    fraud = ((score > 0.8) & np.isin(avs, ["N", "Z"])) | (rng.random(txns.height) < 0.01)
    relabelled = txns.drop("label_ts").with_columns(
        is_fraud=pl.Series(fraud),
        typology=pl.Series(np.where(fraud, "account_takeover", "legit")),
        device_score=pl.Series(score.round(4)),
        avs_result=pl.Series(avs),
        note=pl.Series([f"n{i}" for i in range(txns.height)]),
        card_ref=pl.Series([f"c{i}" for i in rng.integers(0, 60, txns.height)]),
    )
    write_table(relabelled, out, "transactions")
    return out


UNTIL = T0 + timedelta(days=5)
WITH = "    entities: {card_ref: [1h, 24h]}\n    required: [device_score]\n"


@pytest.fixture(scope="module")
def extras_bundle(tmp_path_factory, signal_world) -> Path:
    from vigil.models.train import train_bundle

    out = tmp_path_factory.mktemp("with-extras")
    train_bundle(signal_world, out, until=UNTIL, progress=False, compile=False,
                 extra_columns=selection(WITH))  # fmt: skip
    return out


@pytest.mark.slow
def test_extra_columns_that_carry_the_signal_lift_the_model(tmp_path, signal_world, extras_bundle):
    from vigil.models.bundle import ModelBundle
    from vigil.models.train import train_bundle

    with_extras = ModelBundle.load(extras_bundle)
    without = train_bundle(
        signal_world, tmp_path / "without", until=UNTIL, progress=False, compile=False,
        extra_columns=selection("    exclude: [device_score, avs_result, note, card_ref]\n"),
    )  # fmt: skip
    lifted, base = with_extras.metrics["validation_auprc"], without.metrics["validation_auprc"]
    assert lifted > 0.6 and lifted > 2 * base, (lifted, base)
    assert {"extra_device_score", "extra_avs_result"} <= set(with_extras.features)
    assert "extra_avs_result" in with_extras.categorical
    manifest = json.loads((extras_bundle / "manifest.json").read_text())
    used = {u["column"]: u["as"] for u in manifest["extra_columns"]["used"]}
    assert used == {"device_score": "numeric", "avs_result": "categorical", "card_ref": "entity"}
    assert [u["required"] for u in manifest["extra_columns"]["used"]] == [True, False, False]
    assert "high cardinality" in manifest["extra_columns"]["ignored"]["note"]
    assert (
        manifest["blocks"] == ["extras"]
        and "m.yaml (sha256" in manifest["extra_columns"]["selection"]
    )
    excluded = json.loads((tmp_path / "without" / "manifest.json").read_text())
    assert "extras" not in excluded["blocks"] and not excluded["extra_columns"]["used"]
    assert excluded["extra_columns"]["ignored"]["device_score"] == "excluded by the mapping"


@pytest.mark.slow
def test_replays_in_one_and_two_processes_agree_with_extra_columns(
    tmp_path, signal_world, extras_bundle
):
    from vigil.engine.replay import replay

    one = replay(signal_world, extras_bundle, tmp_path / "one", progress=False, workers=1)
    two = replay(signal_world, extras_bundle, tmp_path / "two", progress=False, workers=2)
    assert one.decided == two.decided > 100
    columns = ["txn_id", "action", "score", "reasons"]
    a = pl.read_parquet(tmp_path / "one" / "decisions.parquet").select(columns)
    b = pl.read_parquet(tmp_path / "two" / "decisions.parquet").select(columns)
    assert a.equals(b)
    metrics = json.loads((tmp_path / "one" / "metrics.json").read_text())
    assert metrics["overall"]["auprc"] > 0.5
