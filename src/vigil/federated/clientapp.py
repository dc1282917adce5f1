"""The ClientApp: one jurisdiction's side of federated training, run where its pool lives.

A node is told its pool's folder in its node config (``pool-dir``) and reads nothing else. It
answers four kinds of message:

* ``query.profile``: counts describing the pool (size, fraud rate, typology mix), its data
  and feature-spec fingerprints. No row.
* ``train`` / ``evaluate``: a round of local training, or evaluation on the pool's held-out
  rows, of the MLP (legacy message format, so that Flower's SecAgg+ and central-DP mods wrap it)
  or of the federated GBDT (new trees only, as LightGBM tree text).
* ``evaluate.pool``: the final model's metrics on the held-out rows and the score-bin counts
  the server calibrates with.

Privacy is composed around the business code as Flower mods: ``secaggplus_mod`` masks what the
MLP sends when the server runs SecAgg+, ``fixedclipping_mod`` clips it for client-level DP;
record-level DP-SGD lives in local training because it must touch every example's gradient.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Sequence

import lightgbm as lgb
import numpy as np
import torch
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.client import NumPyClient
from flwr.client.mod import fixedclipping_mod, secaggplus_mod
from flwr.clientapp import ClientApp
from flwr.clientapp.typing import ClientAppCallable, Mod
from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS

from vigil.features.spec import CATEGORICAL_FEATURES
from vigil.federated.calibration import calibration_counts, score_metrics
from vigil.federated.config import FederatedConfig
from vigil.federated.model import (
    LocalTraining,
    adam_state_arrays,
    get_arrays,
    make_model,
    predict,
    prepare,
    restore_adam,
    set_arrays,
    train_local,
)
from vigil.federated.partition import pool_profile
from vigil.federated.pool import PoolData, load_pool, split_counts
from vigil.federated.privacy import DpSgd, RdpAccountant
from vigil.federated.trees import assemble, leaf_counts, new_trees, tree_blocks

log = logging.getLogger(__name__)

#: node config key naming the pool folder this node (and only this node) reads
POOL_DIR = "pool-dir"
#: the client's own privacy ledger, in its Context state (never sent)
_LEDGER = "vigil.dp-ledger"
#: the client's Adam moments between rounds, in its Context state (never sent)
_ADAM = "vigil.adam"
#: the global model's raw scores on this pool's rows, per part, in its Context state
_SCORES = "vigil.gbdt-scores"


def only_when(applies: Callable[[Message, Context], bool], mod: Mod) -> Mod:
    """A mod that wraps the app only for the messages ``applies`` selects."""

    def conditional(msg: Message, ctxt: Context, call_next: ClientAppCallable) -> Message:
        return mod(msg, ctxt, call_next) if applies(msg, ctxt) else call_next(msg, ctxt)

    conditional.__name__ = f"only_when_{getattr(mod, '__name__', 'mod')}"
    return conditional


def _secure_aggregation(msg: Message, _: Context) -> bool:
    return RECORD_KEY_CONFIGS in msg.content.config_records


def _client_level_dp(_: Message, ctxt: Context) -> bool:
    return FederatedConfig.from_run_config(dict(ctxt.run_config)).dp == "client"


def _setup(context: Context) -> tuple[FederatedConfig, PoolData]:
    cfg = FederatedConfig.from_run_config(dict(context.run_config))
    torch.set_num_threads(cfg.threads)
    if POOL_DIR not in context.node_config:
        raise KeyError(f"node config has no '{POOL_DIR}': start the node with its pool folder")
    data = load_pool(str(context.node_config[POOL_DIR]), cfg.train_until, cfg.valid_share)
    return cfg, data


# ---------------------------------------------------------------------------------------- MLP
class PoolClient(NumPyClient):
    """The MLP's client: local rounds on this pool's fit rows, evaluation on its held-out rows."""

    def __init__(self, context: Context):
        self.context = context
        self.cfg, self.data = _setup(context)
        self.model = make_model(len(self.data.names), self.cfg.hidden_sizes, self.cfg.seed)

    def fit(self, parameters, config):
        set_arrays(self.model, parameters)
        x, y = self.data.part("fit")
        dp = (
            DpSgd(self.cfg.noise_multiplier, self.cfg.clip_norm)
            if self.cfg.dp == "record"
            else None
        )
        server_round = int(config.get("server_round", 0))
        plan = LocalTraining(
            epochs=self.cfg.local_epochs,
            batch_size=self.cfg.batch_size,
            learning_rate=self.cfg.learning_rate,
            proximal_mu=float(config.get("proximal_mu", 0.0)),
            dp=dp,
            seed=self.cfg.seed * 1_000_003
            + server_round * 101
            + _stable_hash(self.data.jurisdiction),
        )
        optimizer = torch.optim.Adam(self.model.parameters(), lr=self.cfg.learning_rate)
        saved = self.context.state.array_records.get(_ADAM)
        if self.cfg.keep_optimizer and saved is not None:
            restore_adam(optimizer, {key: saved[key].numpy() for key in saved})
        loss = train_local(self.model, prepare(x), y, plan, optimizer)
        if self.cfg.keep_optimizer:
            # Adam's moments are this client's running estimate of its own gradients' scale;
            # restarting them every round made each round's first steps large and noisy
            # (docs/federated.md, "Closing the gap"). They stay on the node.
            self.context.state.array_records[_ADAM] = ArrayRecord(
                {key: Array(value) for key, value in adam_state_arrays(optimizer).items()}
            )
        metrics: dict[str, float] = {"train_loss": loss}
        if dp is not None:
            steps = plan.steps(len(y))
            ledger = _spend(self.context, dp.noise_multiplier, plan.sample_rate(len(y)), steps)
            metrics["epsilon"] = ledger.epsilon(self.cfg.dp_delta)
        # client-level DP needs equal weights: its noise is calibrated to one client's share
        weight = 1 if self.cfg.dp == "client" else len(y)
        return get_arrays(self.model), weight, metrics

    def evaluate(self, parameters, config):
        set_arrays(self.model, parameters)
        x, y = self.data.part("test")
        scores = predict(self.model, prepare(x))
        loss = _log_loss(y, scores)
        return loss, len(y), score_metrics(y, scores)


def _spend(context: Context, noise_multiplier: float, q: float, steps: int) -> RdpAccountant:
    """Compose releases into this node's privacy ledger (kept in its Context, never sent)."""
    record = context.state.config_records.get(_LEDGER)
    ledger = RdpAccountant.from_list(list(record["rdp"])) if record else RdpAccountant()
    ledger.compose(noise_multiplier, q, steps)
    context.state.config_records[_LEDGER] = ConfigRecord({"rdp": ledger.to_list()})
    return ledger


def _mlp_client(context: Context):
    return PoolClient(context).to_client()


def mlp_client_app(inner_mods: Sequence[Mod] = ()) -> ClientApp:
    """The MLP's client with its privacy mods: SecAgg+ masking outermost (it sees only what is
    about to leave), then ``inner_mods``, then client-level DP clipping next to the training."""
    return ClientApp(
        client_fn=_mlp_client,
        mods=[
            only_when(_secure_aggregation, secaggplus_mod),
            *inner_mods,
            only_when(_client_level_dp, fixedclipping_mod),
        ],
    )


# --------------------------------------------------------------------------------------- GBDT
def _gbdt_params(cfg: FederatedConfig) -> dict[str, object]:
    return {
        "objective": "binary",
        "learning_rate": cfg.tree_learning_rate,
        "num_leaves": cfg.num_leaves,
        "min_data_in_leaf": cfg.min_data_in_leaf,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "cat_smooth": 10,
        "max_cat_to_onehot": 8,
        "verbose": -1,
        "num_threads": cfg.threads,
        "seed": cfg.seed,
        "deterministic": True,
        "force_row_wise": True,
    }


def _model_text(arrays: ArrayRecord | None) -> str:
    if arrays is None or "model" not in arrays:
        return ""
    return arrays["model"].numpy().tobytes().decode()


def _global_booster(arrays: ArrayRecord | None) -> lgb.Booster | None:
    text = _model_text(arrays)
    return lgb.Booster(model_str=text) if text else None


def _text_array(text: str) -> np.ndarray:
    return np.frombuffer(text.encode(), dtype=np.uint8).copy()


def global_scores(context: Context, data: PoolData, part: str, model_text: str) -> np.ndarray:
    """Raw scores of the global model on one part of this pool's rows, kept between rounds.

    The global model only grows by appended trees, so the client keeps the scores of the trees
    it has already seen in its own Context state (never sent) and scores only the new ones.
    Without this every round re-scored the whole model on every row, and a round's cost grew
    with the model: the run's cost went as the square of its rounds. The cached prefix is
    checked by a digest of its tree blocks, so a model that is not an extension (another run,
    another order) is scored from scratch.
    """
    x, _ = data.part(part)
    blocks = tree_blocks(model_text) if model_text else []
    key = f"{_SCORES}.{part}"
    saved = context.state.array_records.get(key)
    start, scores = 0, np.zeros(len(x))
    if saved is not None:
        seen = int(saved["trees"].numpy()[0])
        if seen <= len(blocks) and int(saved["digest"].numpy()[0]) == _digest(blocks[:seen]):
            start, scores = seen, saved["scores"].numpy().copy()
    if len(blocks) > start:
        new = lgb.Booster(model_str=assemble(data.names, _categorical(data), blocks[start:]))
        scores += new.predict(x, raw_score=True, num_threads=1)
    context.state.array_records[key] = ArrayRecord(
        {
            "scores": Array(scores),
            "trees": Array(np.array([len(blocks)], dtype=np.int64)),
            "digest": Array(np.array([_digest(blocks)], dtype=np.int64)),
        }
    )
    return scores


def _digest(blocks: Sequence[str]) -> int:
    crc = 0
    for block in blocks:
        crc = zlib.crc32(block.encode(), crc)
    return crc


def _categorical(data: PoolData) -> list[str]:
    return [c for c in CATEGORICAL_FEATURES if c in data.names]


def _train_gbdt(msg: Message, context: Context) -> Message:
    cfg, data = _setup(context)
    text = _model_text(msg.content.array_records.get("arrays"))
    init = global_scores(context, data, "fit", text) if text else None
    server_round = int(msg.content.config_records["config"].get("server-round", 1))
    blocks = grow_trees(data, init, cfg, seed=cfg.seed + server_round)
    content = RecordDict(
        {
            "arrays": ArrayRecord({"trees": Array(_text_array("\n".join(blocks)))}),
            "metrics": MetricRecord({"num-examples": len(data.fit), "trees": len(blocks)}),
        }
    )
    return Message(content, reply_to=msg)


def grow_trees(
    data: PoolData, init: np.ndarray | None, cfg: FederatedConfig, seed: int
) -> list[str]:
    """Up to ``cfg.local_trees`` new trees on the pool's fit rows, boosting from ``init``, the
    global model's raw scores on those rows (None before the first round).

    Every leaf of a tree that leaves the pool covers at least ``cfg.min_data_in_leaf`` of its
    rows. LightGBM's own ``min_data_in_leaf`` is checked on counts it estimates from hessians,
    which a skewed binary problem makes loose, so each tree is checked on the real rows and
    regrown (with a doubled minimum, boosting from the trees kept so far) until it holds, or
    not sent at all.
    """
    x, y = data.part("fit")
    blocks: list[str] = []
    offset, minimum = init, cfg.min_data_in_leaf
    for attempt in range(8):
        if len(blocks) == cfg.local_trees:
            break
        params = {**_gbdt_params(cfg), "seed": seed * 31 + attempt, "min_data_in_leaf": minimum}
        dataset = lgb.Dataset(
            x, y, feature_name=data.names, categorical_feature=_categorical(data), init_score=offset
        )
        booster = lgb.train(params, dataset, num_boost_round=cfg.local_trees - len(blocks))
        grown = new_trees(booster, 0)
        if not grown:  # no split satisfies the minimum: this pool has no more to add
            break
        leaves = booster.predict(x, pred_leaf=True).reshape(len(x), -1)
        kept = 0
        for i, block in enumerate(grown):
            counts = np.bincount(leaves[:, i].astype(np.int64), minlength=len(leaf_counts(block)))
            if counts.min() < cfg.min_data_in_leaf:
                break
            kept += 1
        blocks.extend(grown[:kept])
        if kept < len(grown):  # keep the good prefix, regrow the rest with a doubled minimum
            if kept:
                step = booster.predict(x, raw_score=True, num_iteration=kept)
                offset = step if offset is None else offset + step
            minimum *= 2
    return blocks


def _evaluate_gbdt(msg: Message, context: Context) -> Message:
    _, data = _setup(context)
    text = _model_text(msg.content.array_records.get("arrays"))
    _, y = data.part("test")
    # AUPRC and ROC AUC depend on the order of the scores only: raw scores serve
    metrics = score_metrics(y, global_scores(context, data, "test", text))
    return Message(
        RecordDict({"metrics": MetricRecord({**metrics, "num-examples": len(y)})}),
        reply_to=msg,
    )


# ------------------------------------------------------------------------------- the ClientApp
def build_client_app(mlp_mods: Sequence[Mod] = ()) -> ClientApp:
    """The ClientApp every node runs; ``mlp_mods`` are extra mods around the MLP's training,
    inside SecAgg+ masking (tests use one to see what a client is about to send)."""
    mlp = mlp_client_app(mlp_mods)
    client = ClientApp()

    @client.query("profile")
    def profile(msg: Message, context: Context) -> Message:
        return _profile(msg, context)

    @client.train()
    def train(msg: Message, context: Context) -> Message:
        if FederatedConfig.from_run_config(dict(context.run_config)).model == "mlp":
            return mlp(msg, context)
        return _train_gbdt(msg, context)

    @client.evaluate()
    def evaluate(msg: Message, context: Context) -> Message:
        if FederatedConfig.from_run_config(dict(context.run_config)).model == "mlp":
            return mlp(msg, context)
        return _evaluate_gbdt(msg, context)

    @client.evaluate("pool")
    def evaluate_pool(msg: Message, context: Context) -> Message:
        return _evaluate_pool(msg, context)

    return client


def _profile(msg: Message, context: Context) -> Message:
    _, data = _setup(context)
    pool = pool_profile(context.node_config[POOL_DIR])
    counts = {**split_counts(data), "transactions": pool.transactions, "frauds": pool.frauds}
    typologies = sorted(pool.typologies)
    content = RecordDict(
        {
            "profile": ConfigRecord(
                {
                    "jurisdiction": data.jurisdiction,
                    "spec_fingerprint": data.spec_fingerprint,
                    "data_fingerprint": data.data_fingerprint,
                    "typologies": typologies,
                    "typology_counts": [pool.typologies[t] for t in typologies],
                }
            ),
            "counts": MetricRecord({k: int(v) for k, v in counts.items()}),
        }
    )
    return Message(content, reply_to=msg)


def _evaluate_pool(msg: Message, context: Context) -> Message:
    """The final model on the held-out rows, and score-bin counts of the validation rows."""
    cfg, data = _setup(context)
    arrays = msg.content.array_records["arrays"]
    if cfg.model == "mlp":
        model = make_model(len(data.names), cfg.hidden_sizes, cfg.seed)
        set_arrays(model, [arrays[k].numpy() for k in arrays])
        score = lambda m: predict(model, prepare(m))  # noqa: E731
    else:
        booster = _global_booster(arrays)
        score = lambda m: booster.predict(m, num_threads=1)  # noqa: E731
    test_x, test_y = data.part("test")
    valid_x, valid_y = data.part("valid")
    frauds, legit = calibration_counts(valid_y, score(valid_x))
    epsilon = 0.0
    if cfg.dp == "record":
        # the counts are a release about training rows too: noised (one row moves one count
        # by one) and accounted like any other release
        rng = np.random.default_rng(cfg.seed + _stable_hash(data.jurisdiction))
        frauds = frauds + rng.normal(0.0, cfg.calibration_noise, frauds.shape)
        legit = legit + rng.normal(0.0, cfg.calibration_noise, legit.shape)
        epsilon = _spend(context, cfg.calibration_noise, 1.0, 1).epsilon(cfg.dp_delta)
    metrics = score_metrics(test_y, score(test_x))
    content = RecordDict(
        {
            "metrics": MetricRecord({**metrics, "epsilon": epsilon}),
            "calibration": ArrayRecord({"frauds": Array(frauds), "legit": Array(legit)}),
        }
    )
    return Message(content, reply_to=msg)


app = build_client_app()


def _stable_hash(text: str) -> int:
    return zlib.crc32(text.encode())


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    if len(y) == 0:
        return 0.0
    p = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


__all__ = ["POOL_DIR", "PoolClient", "app", "build_client_app", "mlp_client_app", "only_when"]
