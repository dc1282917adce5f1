"""The ServerApp: coordinates the jurisdictions' clients; sees counts, models and aggregates.

One run: wait for the nodes, ask each for its pool's profile (counts only), train (the MLP
with FedAvg or FedProx, optionally under SecAgg+ and DP; or the federated GBDT), evaluate the
final model in every pool, calibrate it from the pools' score-bin counts, and write the result
(``result.json``) and the model (a bundle the engine serves) to ``out_dir``.

The MLP runs on Flower's workflow API (``DefaultWorkflow``), because that is where SecAgg+
(``SecAggPlusWorkflow``) lives; the GBDT runs on the message API (``Strategy.start``), like
Flower's own ``FedXgbBagging``. The same function serves the in-process simulation and the
deployment: only the grid differs.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, RecordDict
from flwr.common import ndarrays_to_parameters
from flwr.server import LegacyContext, ServerConfig
from flwr.server.strategy import DifferentialPrivacyClientSideFixedClipping
from flwr.server.strategy import FedAvg as WorkflowFedAvg
from flwr.server.strategy import FedProx as WorkflowFedProx
from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
from flwr.serverapp import Grid, ServerApp

from vigil.features.replay import world_features
from vigil.features.spec import CATEGORICAL_FEATURES
from vigil.federated.calibration import calibrator_from_counts
from vigil.federated.config import FederatedConfig
from vigil.federated.export import export_gbdt_bundle, export_mlp_bundle
from vigil.federated.grid import MeteredGrid
from vigil.federated.model import get_arrays, make_model
from vigil.federated.privacy import RdpAccountant
from vigil.federated.strategy import FedLgbBagging, FedLgbCyclic

log = logging.getLogger(__name__)

RESULT = "result.json"

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    run_server(grid, context)


def run_server(grid: Grid, context: Context) -> dict[str, Any]:
    cfg = FederatedConfig.from_run_config(dict(context.run_config))
    began = time.perf_counter()
    metered = MeteredGrid(grid)
    nodes = _await_nodes(metered, cfg.min_nodes)
    engine = world_features(None)
    pools = _profiles(metered, nodes, engine.fingerprint)
    trained = time.perf_counter()
    if cfg.model == "mlp":
        arrays, rounds = _train_mlp(metered, context, cfg, pools, engine.names)
        final_arrays = ArrayRecord(arrays)
    else:
        strategy, rounds = _train_gbdt(metered, cfg, len(nodes), engine.names)
        final_arrays = strategy.model_arrays()
    train_seconds = time.perf_counter() - trained
    final = _evaluate_pools(metered, nodes, final_arrays, cfg)
    frauds = sum(f["frauds_hist"] for f in final.values())
    legit = sum(f["legit_hist"] for f in final.values())
    calibrator = calibrator_from_counts(frauds, legit)
    for node, row in final.items():
        row.pop("frauds_hist"), row.pop("legit_hist")
        row["jurisdiction"] = pools[node]["jurisdiction"]
    _label_rounds(rounds, metered)
    epsilon = max((r.get("epsilon", 0.0) for r in rounds), default=0.0)
    if cfg.dp == "record":  # the calibration counts were one more (noised) release
        epsilon = max([epsilon, *(row["epsilon"] for row in final.values())])
    result: dict[str, Any] = {
        "config": cfg.describe(),
        "pools": [pools[n] for n in nodes],
        "rounds": rounds,
        "setup_bytes": _bytes(metered, "setup", "query"),
        "final": {row["jurisdiction"]: row for row in final.values()},
        "final_bytes": _bytes(metered, "final", "evaluate"),
        "epsilon": epsilon if cfg.dp != "none" else None,
        "delta": cfg.dp_delta if cfg.dp != "none" else None,
        "train_seconds": train_seconds,
        "wall_seconds": time.perf_counter() - began,
    }
    federated = {
        "strategy": _strategy_name(cfg),
        "rounds": cfg.rounds,
        "pools": [pools[n]["jurisdiction"] for n in nodes],
        "secagg": cfg.secagg,
        "dp": cfg.dp,
        "epsilon": result["epsilon"],
        "delta": result["delta"],
    }
    out = Path(cfg.out_dir) if cfg.out_dir else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        metrics = _bundle_metrics(final)
        if cfg.model == "gbdt":
            booster = lgb.Booster(model_str=strategy.model_text())
            export_gbdt_bundle(
                booster,
                calibrator,
                engine.names,
                engine.fingerprint,
                [p["data_fingerprint"] for p in pools.values()],
                metrics,
                cfg.train_until,
                federated,
                out / "bundle",
                compile=False,
            )
        else:
            export_mlp_bundle(
                arrays,
                calibrator,
                engine.names,
                engine.fingerprint,
                [p["data_fingerprint"] for p in pools.values()],
                metrics,
                cfg.train_until,
                federated,
                out / "bundle",
            )
        result["bundle"] = str(out / "bundle")
        (out / RESULT).write_text(json.dumps(result, indent=2, sort_keys=True, default=_plain))
    return result


# ------------------------------------------------------------------------------------ set-up
def _await_nodes(grid: Grid, wanted: int, timeout: float = 300.0) -> list[int]:
    end = time.time() + timeout
    while True:
        nodes = sorted(grid.get_node_ids())
        if nodes and len(nodes) >= wanted:
            return nodes
        if time.time() > end:
            raise TimeoutError(f"{len(nodes)} of {wanted} nodes connected after {timeout:.0f} s")
        time.sleep(0.5)


def _profiles(grid: Grid, nodes: list[int], fingerprint: str) -> dict[int, dict[str, Any]]:
    messages = [
        Message(RecordDict({"config": ConfigRecord({})}), n, "query.profile", group_id="setup")
        for n in nodes
    ]
    pools = {}
    for reply in grid.send_and_receive(messages):
        _raise_on_error(reply)
        profile, counts = reply.content["profile"], reply.content["counts"]
        if profile["spec_fingerprint"] != fingerprint:
            raise ValueError(
                f"{profile['jurisdiction']} computes features with spec "
                f"{profile['spec_fingerprint']}, this server's is {fingerprint}: one feature code"
            )
        row = {
            "node_id": reply.metadata.src_node_id,
            "jurisdiction": str(profile["jurisdiction"]),
            "data_fingerprint": str(profile["data_fingerprint"]),
            **{k: int(v) for k, v in counts.items()},
            "typologies": dict(zip(profile["typologies"], profile["typology_counts"], strict=True)),
        }
        row["fraud_rate"] = row["frauds"] / row["transactions"] if row["transactions"] else 0.0
        pools[reply.metadata.src_node_id] = row
    return pools


# ------------------------------------------------------------------------------------ the MLP
def _train_mlp(
    grid: MeteredGrid,
    context: Context,
    cfg: FederatedConfig,
    pools: dict[int, dict[str, Any]],
    names: list[str],
) -> tuple[list[np.ndarray], list[dict[str, Any]]]:
    n = len(pools)
    initial = get_arrays(make_model(len(names), cfg.hidden_sizes, cfg.seed))
    common = dict(
        fraction_fit=1.0,
        fraction_evaluate=1.0,
        min_fit_clients=n,
        min_evaluate_clients=n,
        min_available_clients=n,
        initial_parameters=ndarrays_to_parameters(initial),
        on_fit_config_fn=lambda r: {"server_round": r},
        fit_metrics_aggregation_fn=_fit_metrics,
        evaluate_metrics_aggregation_fn=_evaluate_metrics,
    )
    strategy = (
        WorkflowFedProx(proximal_mu=cfg.proximal_mu, **common)
        if cfg.strategy == "fedprox"
        else WorkflowFedAvg(**common)
    )
    if cfg.dp == "client":
        # Flower's central DP with client-side clipping (the clients run fixedclipping_mod)
        strategy = DifferentialPrivacyClientSideFixedClipping(
            strategy, cfg.noise_multiplier, cfg.clip_norm, num_sampled_clients=n
        )
    legacy = LegacyContext(
        context=context, config=ServerConfig(num_rounds=cfg.rounds), strategy=strategy
    )
    fit_workflow = None
    if cfg.secagg:
        shares = max(2, round(cfg.secagg_shares * n))
        fit_workflow = SecAggPlusWorkflow(
            num_shares=shares,
            reconstruction_threshold=max(2, math.ceil(cfg.secagg_threshold * shares)),
            max_weight=1.0
            if cfg.dp == "client"
            else float(max(p["fit_rows"] for p in pools.values())),
            clipping_range=cfg.secagg_clip,
        )
    DefaultWorkflow(fit_workflow=fit_workflow)(grid, legacy)
    final = legacy.state.array_records["parameters"].to_numpy_ndarrays()
    history = legacy.history
    rounds = []
    accountant = RdpAccountant()
    for r in range(1, cfg.rounds + 1):
        row: dict[str, Any] = {"round": r}
        for key, series in history.metrics_distributed_fit.items():
            row.update((key, v) for rr, v in series if rr == r)
        for key, series in history.metrics_distributed.items():
            row.update((f"test_{key}", v) for rr, v in series if rr == r)
        if cfg.dp == "client":
            accountant.compose(cfg.noise_multiplier, 1.0, 1)
            row["epsilon"] = accountant.epsilon(cfg.dp_delta)
        rounds.append(row)
    return [np.asarray(a, dtype=np.float32) for a in final], rounds


def _fit_metrics(results: list[tuple[int, dict[str, float]]]) -> dict[str, float]:
    weights = np.array([n for n, _ in results], dtype=np.float64)
    out = {"train_loss": float(np.average([m["train_loss"] for _, m in results], weights=weights))}
    eps = [m["epsilon"] for _, m in results if "epsilon" in m]
    if eps:  # each pool's own guarantee; the run's is the weakest of them
        out["epsilon"] = float(max(eps))
    return out


def _evaluate_metrics(results: list[tuple[int, dict[str, float]]]) -> dict[str, float]:
    return _weighted([(m.get("rows", n), m) for n, m in results], ("auprc", "roc_auc"))


def _weighted(results, keys) -> dict[str, float]:
    out = {}
    for key in keys:
        pairs = [(w, m[key]) for w, m in results if key in m and not math.isnan(m[key])]
        if pairs:
            w = np.array([p[0] for p in pairs], dtype=np.float64)
            out[key] = float(np.average([p[1] for p in pairs], weights=w))
    return out


# ----------------------------------------------------------------------------------- the GBDT
def _train_gbdt(
    grid: MeteredGrid, cfg: FederatedConfig, n: int, names: list[str]
) -> tuple[FedLgbBagging, list[dict[str, Any]]]:
    kind = FedLgbCyclic if cfg.tree_strategy == "cyclic" else FedLgbBagging
    strategy = kind(
        names,
        CATEGORICAL_FEATURES,
        min_train_nodes=n,
        min_evaluate_nodes=n,
        min_available_nodes=n,
        evaluate_metrics_aggr_fn=lambda contents, key: _record_weighted(contents),
    )
    result = strategy.start(grid=grid, initial_arrays=ArrayRecord(), num_rounds=cfg.rounds)
    rounds = []
    for r in range(1, cfg.rounds + 1):
        row: dict[str, Any] = {"round": r, "trees_added": strategy.appended.get(r, 0)}
        evaluated = result.evaluate_metrics_clientapp.get(r)
        if evaluated is not None:
            row.update({f"test_{k}": float(v) for k, v in evaluated.items()})
        rounds.append(row)
    return strategy, rounds


def _strategy_name(cfg: FederatedConfig) -> str:
    if cfg.model == "mlp":
        return cfg.strategy
    return "FedLgbCyclic" if cfg.tree_strategy == "cyclic" else "FedLgbBagging"


def _record_weighted(contents: list[RecordDict]):
    from flwr.app import MetricRecord

    rows = [dict(c["metrics"]) for c in contents]
    return MetricRecord(_weighted([(m["rows"], m) for m in rows], ("auprc", "roc_auc")))


# ---------------------------------------------------------------------------------- the end
def _evaluate_pools(
    grid: Grid, nodes: list[int], arrays: ArrayRecord, cfg: FederatedConfig
) -> dict[int, dict[str, Any]]:
    messages = [
        Message(
            RecordDict({"arrays": arrays, "config": ConfigRecord({"model": cfg.model})}),
            n,
            "evaluate.pool",
            group_id="final",
        )
        for n in nodes
    ]
    final = {}
    for reply in grid.send_and_receive(messages):
        _raise_on_error(reply)
        row: dict[str, Any] = {k: float(v) for k, v in reply.content["metrics"].items()}
        row["frauds_hist"] = reply.content["calibration"]["frauds"].numpy()
        row["legit_hist"] = reply.content["calibration"]["legit"].numpy()
        final[reply.metadata.src_node_id] = row
    return final


def _label_rounds(rounds: list[dict[str, Any]], grid: MeteredGrid) -> None:
    for row in rounds:
        train = grid.traffic(str(row["round"]), "train")
        evaluate = grid.traffic(str(row["round"]), "evaluate")
        row["bytes_down"], row["bytes_up"] = train.bytes_down, train.bytes_up
        row["eval_bytes"] = evaluate.bytes_down + evaluate.bytes_up
        row["seconds"] = train.seconds


def _bytes(grid: MeteredGrid, label: str, kind: str) -> int:
    traffic = grid.traffic(label, kind)
    return traffic.bytes_down + traffic.bytes_up


def _bundle_metrics(final: dict[int, dict[str, Any]]) -> dict[str, float]:
    metrics = {}
    for row in final.values():
        for key in ("auprc", "roc_auc", "rows", "frauds"):
            metrics[f"test_{key}_{row['jurisdiction']}"] = row[key]
    weighted = _weighted([(r["rows"], r) for r in final.values()], ("auprc", "roc_auc"))
    metrics.update({f"test_{k}_mean": v for k, v in weighted.items()})
    return metrics


def _raise_on_error(reply: Message) -> None:
    if reply.has_error():
        raise RuntimeError(f"node {reply.metadata.src_node_id} failed: {reply.error.reason}")


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")
