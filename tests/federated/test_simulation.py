"""Federated runs on tiny pools, in process: what the server receives, and what it exports.

Every message a client sends crosses :class:`LoopbackGrid` serialized; its transcript is exactly
what the server receives, so the privacy claims are checked on those bytes.
"""

import re
from datetime import datetime

import numpy as np
import pytest
from flwr.common import bytes_to_ndarray, parameters_to_ndarrays
from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS, Key
from flwr.common.serde import message_from_proto
from flwr.compat.common import recorddict_compat as compat
from flwr.proto.message_pb2 import Message as ProtoMessage

from vigil.engine.factory import build_engine
from vigil.features.replay import transactions_of, world_features
from vigil.features.spec import CATEGORICAL_FEATURES
from vigil.federated.clientapp import POOL_DIR, build_client_app
from vigil.federated.config import FederatedConfig
from vigil.federated.model import get_arrays, make_model
from vigil.federated.partition import pool_dirs
from vigil.federated.pool import load_pool
from vigil.federated.simulate import simulate
from vigil.federated.trees import booster_from, leaf_counts
from vigil.models.bundle import ModelBundle
from vigil.schema.io import read_table

#: the tiny world's training cut (tests/conftest.py: TRAIN_UNTIL)
UNTIL = "2026-01-09T00:00:00+00:00"
# identifiers of the world's rows: payments, accounts and merchants, devices
IDENTIFIER = re.compile(rb"T\d{12}|[PMB]\d{8}|dv\d{15}")


def _up(grid, message_type=None):
    """Every message the server received, decoded, with its node."""
    for delivery in grid.transcript:
        if delivery.direction == "up" and (message_type in (None, delivery.message_type)):
            yield delivery, message_from_proto(ProtoMessage.FromString(delivery.payload))


def _no_identifier_or_address(grid, pools):
    addresses = set()
    for folder in pool_dirs(pools):
        addresses |= {a.encode() for a in read_table(folder, "transactions")["ip"].drop_nulls()}
    for delivery in grid.transcript:
        if delivery.direction != "up":
            continue
        assert IDENTIFIER.search(delivery.payload) is None, delivery.message_type
        found = set(re.findall(rb"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}", delivery.payload))
        assert not found & addresses, delivery.message_type


@pytest.fixture(scope="module")
def fedavg(pools, tmp_path_factory):
    cfg = FederatedConfig(rounds=2, until=UNTIL)
    return simulate(pools, cfg, tmp_path_factory.mktemp("fedavg"), keep_transcript=True)


def test_fedavg_reports_rounds_bytes_and_every_pool(fedavg, pools):
    result = fedavg.result
    assert [r["round"] for r in result["rounds"]] == [1, 2]
    for row in result["rounds"]:
        assert row["bytes_down"] > 0 and row["bytes_up"] > 0 and row["seconds"] > 0
        assert 0.0 <= row["test_auprc"] <= 1.0
    assert sorted(result["final"]) == sorted(p.name for p in pool_dirs(pools))
    assert {p["jurisdiction"] for p in result["pools"]} == set(result["final"])
    assert ModelBundle.load(fedavg.out / "bundle").model_kind == "mlp"


def test_the_server_receives_no_raw_row(fedavg, pools):
    """Model-shaped arrays, per-pool counts and score-bin counts; no identifier, no row."""
    _no_identifier_or_address(fedavg.grid, pools)
    shapes = {a.shape for a in get_arrays(make_model(104, (64, 32)))}
    kinds = set()
    for delivery, message in _up(fedavg.grid):
        kinds.add(delivery.message_type)
        for record in message.content.array_records.values():
            for key in record:
                array = record[key].numpy()
                if delivery.message_type == "evaluate.pool":
                    assert key in {"frauds", "legit"} and array.ndim == 1
                else:
                    assert array.shape in shapes, (delivery.message_type, array.shape)
        for record in message.content.config_records.values():
            for value in record.values():
                assert not isinstance(value, list) or len(value) < 64
    assert kinds == {"query.profile", "train", "evaluate", "evaluate.pool"}


def test_under_secagg_the_server_sees_only_masked_vectors_and_their_sum(pools, tmp_path):
    plain = []  # what each client is about to send, seen inside the SecAgg+ mod

    def spy(msg, ctxt, call_next):
        reply = call_next(msg, ctxt)
        if msg.metadata.message_type != "train":
            return reply
        fitres = compat.recorddict_to_fitres(reply.content, keep_input=True)
        plain.append((ctxt.node_id, fitres.num_examples, parameters_to_ndarrays(fitres.parameters)))
        return reply

    cfg = FederatedConfig(rounds=2, until=UNTIL, secagg=True, dp="record", noise_multiplier=1.0)
    run = simulate(pools, cfg, tmp_path, keep_transcript=True, client_app=build_client_app([spy]))
    n = len(pool_dirs(pools))
    assert len(plain) == 2 * n
    masked = {}
    for delivery, message in _up(run.grid, "train"):
        for record in message.content.array_records.values():
            assert len(record) == 0  # the mod cleared the plain parameters
        configs = message.content.config_records.get(RECORD_KEY_CONFIGS)
        if configs is not None and Key.MASKED_PARAMETERS in configs:
            vectors = [bytes_to_ndarray(b) for b in configs[Key.MASKED_PARAMETERS]]
            masked.setdefault(delivery.node_id, []).append(
                np.concatenate([v.ravel() for v in vectors])
            )
    assert len(masked) == n
    for node, _, params in plain[-n:]:
        vector = masked[node][-1].astype(np.float64)
        flat = np.concatenate([p.ravel() for p in params])
        assert abs(vector.mean() / 2**32 - 0.5) < 0.02  # uniform over the modulus
        assert abs(np.corrcoef(vector[1 : len(flat) + 1], flat)[0, 1]) < 0.1
    # ...and yet their sum is the weighted mean of the clients' plain parameters
    weights = np.array([sent for _, sent, _ in plain[-n:]], dtype=np.float64)
    expected = [
        sum(w * p[i] for w, (_, _, p) in zip(weights, plain[-n:], strict=True)) / weights.sum()
        for i in range(len(plain[-1][2]))
    ]
    aggregate = ModelBundle.load(tmp_path / "bundle").scorer.arrays()
    for got, want in zip(aggregate, expected, strict=True):
        np.testing.assert_allclose(got, want, atol=2e-4)
    # record-level DP: the spent epsilon is reported every round and only grows
    epsilons = [r["epsilon"] for r in run.result["rounds"]]
    assert 0 < epsilons[0] < epsilons[1] <= run.result["epsilon"]
    assert run.result["delta"] == cfg.dp_delta


def test_fedprox_with_client_level_dp_accounts_each_round(pools, tmp_path):
    cfg = FederatedConfig(
        rounds=2, until=UNTIL, strategy="fedprox", proximal_mu=0.1, dp="client", clip_norm=0.5
    )
    result = simulate(pools, cfg, tmp_path).result
    epsilons = [r["epsilon"] for r in result["rounds"]]
    assert 0 < epsilons[0] < epsilons[1] == result["epsilon"]


@pytest.fixture(scope="module")
def gbdt(pools, tmp_path_factory):
    cfg = FederatedConfig(model="gbdt", rounds=3, until=UNTIL)
    return simulate(pools, cfg, tmp_path_factory.mktemp("gbdt"), keep_transcript=True)


def test_federated_trees_arrive_as_trees_whose_leaves_cover_many_rows(gbdt, pools):
    _no_identifier_or_address(gbdt.grid, pools)
    names = world_features(None).names
    trees = 0
    for delivery, message in _up(gbdt.grid, "train"):
        text = message.content["arrays"]["trees"].numpy().tobytes().decode()
        assert "feature_infos" not in text and "feature_names" not in text  # no header
        blocks = [b for b in text.split("\n\n") if b.strip()]
        trees += len(blocks)
        # each tree alone, on the rows of the pool that grew it: no leaf holds fewer than 40
        pool = gbdt.grid.contexts[delivery.node_id].node_config[POOL_DIR]
        x, _ = load_pool(pool, datetime.fromisoformat(UNTIL)).part("fit")
        for block in blocks:
            leaves = booster_from(names, CATEGORICAL_FEATURES, [block]).predict(x, pred_leaf=True)
            counts = np.bincount(leaves.ravel().astype(int), minlength=len(leaf_counts(block)))
            assert counts.min() >= 40
    assert trees == sum(r["trees_added"] for r in gbdt.result["rounds"]) > 0


def test_the_federated_gbdt_is_a_bundle_the_engine_serves(gbdt, tiny_world):
    bundle = ModelBundle.load(gbdt.out / "bundle")
    assert bundle.extra["federated"]["strategy"] == "FedLgbBagging"
    assert bundle.booster.num_trees() == sum(r["trees_added"] for r in gbdt.result["rounds"])
    engine = build_engine(tiny_world, bundle)
    frame = read_table(tiny_world, "transactions").sort("ts").head(200)
    decisions = [engine.decide(txn) for txn in transactions_of(frame)]
    assert {d.action for d in decisions} <= {"approve", "review", "decline"}
    assert all(0.0 <= d.score <= 1.0 for d in decisions)
    assert all(d.model_bundle_version == bundle.version for d in decisions)
    assert gbdt.result["final"]["CN"]["auprc"] > 0.1


def test_cyclic_trees_come_from_one_pool_a_round_in_turn_and_are_appended_whole(pools, tmp_path):
    cfg = FederatedConfig(model="gbdt", tree_strategy="cyclic", rounds=3, until=UNTIL)
    run = simulate(pools, cfg, tmp_path, keep_transcript=True)
    senders = [d.node_id for d, _ in _up(run.grid, "train")]
    assert senders == sorted(run.grid.contexts)[:3]  # one node a round, in node-id order
    bundle = ModelBundle.load(tmp_path / "bundle")
    assert bundle.extra["federated"]["strategy"] == "FedLgbCyclic"
    names = world_features(None).names
    first = next(m for _, m in _up(run.grid, "train"))
    sent = [b for b in first.content["arrays"]["trees"].numpy().tobytes().decode().split("\n\n")]
    sent = [b for b in sent if b.strip()]
    x, _ = load_pool(pool_dirs(pools)[0], datetime.fromisoformat(UNTIL)).part("test")
    alone = booster_from(names, CATEGORICAL_FEATURES, sent).predict(x, raw_score=True)
    merged = bundle.booster.predict(x, raw_score=True, num_iteration=len(sent))
    np.testing.assert_allclose(merged, alone, rtol=0, atol=1e-9)  # unscaled: weight 1


def test_the_exported_mlp_scores_without_torch_as_it_did_in_training(fedavg, pools):
    from vigil.federated.model import predict, prepare, set_arrays

    bundle = ModelBundle.load(fedavg.out / "bundle")
    assert bundle.model_kind == "mlp" and bundle.version.startswith("mlp-")
    assert bundle.booster is None and not bundle.compiled
    assert bundle.extra["federated"]["strategy"] == "fedavg"
    x, _ = load_pool(pool_dirs(pools)[0], datetime.fromisoformat(UNTIL)).part("test")
    model = make_model(len(bundle.features), (64, 32))
    set_arrays(model, bundle.scorer.arrays())
    np.testing.assert_allclose(bundle.raw_scores(x), predict(model, prepare(x)), atol=1e-5)
    reasons = bundle.contributions(x[0])
    assert reasons.shape == (len(bundle.features) + 1,) and np.isfinite(reasons).all()
    assert np.all((bundle.scores(x) >= 0) & (bundle.scores(x) <= 1))


def test_the_federated_mlp_bundle_replays_with_its_version_and_reasons(
    fedavg, tiny_world, tmp_path
):
    import polars as pl

    from vigil.engine.replay import replay

    bundle = ModelBundle.load(fedavg.out / "bundle")
    summary = replay(
        tiny_world, fedavg.out / "bundle", tmp_path, start=datetime.fromisoformat("2026-01-11T00:00:00+00:00"),
        progress=False, workers=1,
    )  # fmt: skip
    decisions = pl.read_parquet(tmp_path / "decisions.parquet")
    assert summary.decided == len(decisions) > 0
    assert decisions["model_bundle_version"].unique().to_list() == [bundle.version]
    assert decisions["score"].is_between(0.0, 1.0).all()
    flagged = decisions.filter(pl.col("action") != "approve")
    assert len(flagged) > 0
    model_reasons = [
        r for reasons in flagged["reasons"].to_list() for r in reasons if r["layer"] == "model"
    ]
    assert model_reasons and all(r["weight"] > 0 for r in model_reasons)
    assert {r["code"] for r in model_reasons} <= set(bundle.features)


def test_the_federated_mlp_bundle_decides_over_http(fedavg, tiny_world):
    from fastapi.testclient import TestClient

    from vigil.api import ApiKey, ApiSettings, KeyRing, Scope, create_app
    from vigil.api.auth import digest

    bundle = ModelBundle.load(fedavg.out / "bundle")
    engine = build_engine(tiny_world, bundle)
    keys = KeyRing([ApiKey("decider", digest("s-decide"), frozenset({Scope.DECIDE}))])
    txn = {  # a payment just after training ended, from an account the tiny world knows
        "txn_id": "fed-mlp-1", "ts": "2026-01-09T09:30:00+08:00", "payer_id": "P00000487",
        "payee_id": "M00000905", "amount": 12_500, "currency": "SGD", "channel": "card",
        "jurisdiction": "SG", "device_id": "D-api",
    }  # fmt: skip
    with TestClient(create_app(engine, ApiSettings(keys=keys))) as client:
        response = client.post(
            "/v1/decisions", json=txn, headers={"Authorization": "Bearer s-decide"}
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_bundle_version"] == bundle.version
    assert 0.0 <= body["score"] <= 1.0
