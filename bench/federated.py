"""Federated vs centralised vs local-only, per jurisdiction, on the demo world's pools.

The world is split into one pool per jurisdiction (`vigil federated partition`); every pool's
features are computed in the pool by the engine's own feature code. Then, on the same rows and
the same features, per jurisdiction, the AUPRC on the held-out days (from --until on) of:

* (a) the centralised model, trained on all pools pooled in one place;
* (b) the federated model (Flower, in process: the real ServerApp and ClientApp), for the MLP
  with FedAvg, FedProx, FedAvg under SecAgg+ with record-level DP at the reported ε, and
  FedAvg with client-level DP; for the GBDT with FedLgbBagging;
* (c) each jurisdiction's local-only model, trained on its own pool alone.

Rounds, bytes per round and wall time come from the federated runs' own records.

    python bench/federated.py --data data/demo --until 2026-01-24
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from vigil.features.spec import CATEGORICAL_FEATURES
from vigil.federated.calibration import score_metrics
from vigil.federated.config import FederatedConfig
from vigil.federated.model import (
    LocalTraining,
    get_arrays,
    make_model,
    predict,
    prepare,
    set_arrays,
    train_local,
)
from vigil.federated.partition import partition_world, pool_dirs, pool_profile
from vigil.federated.pool import PoolData, load_pool
from vigil.federated.simulate import simulate
from vigil.models.gbdt import train_gbdt


def _mlp(cfg: FederatedConfig, fit, valid, epochs: int):
    """Epoch by epoch with one Adam throughout; the epoch with the best validation AUPRC is
    kept (a fair baseline: the strongest the same network gets from the same rows)."""
    x, y = prepare(fit[0]), fit[1]
    vx, vy = prepare(valid[0]), valid[1]
    model = make_model(x.shape[1], cfg.hidden_sizes, cfg.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    best, kept = -1.0, get_arrays(model)
    for epoch in range(epochs):
        plan = LocalTraining(
            epochs=1, batch_size=cfg.batch_size, learning_rate=cfg.learning_rate, seed=epoch
        )
        train_local(model, x, y, plan, optimizer)
        auprc = score_metrics(vy, predict(model, vx))["auprc"]
        if auprc > best:
            best, kept = auprc, get_arrays(model)
    set_arrays(model, kept)
    return lambda m: predict(model, prepare(m))


def _stack(parts):
    return np.vstack([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _gbdt(data: list[PoolData]):
    names = data[0].names
    fit = [d.part("fit") for d in data]
    valid = [d.part("valid") for d in data]
    # train_gbdt splits by row order: fit rows first, validation (later days) last
    x = np.vstack([f[0] for f in fit] + [v[0] for v in valid])
    y = np.concatenate([f[1] for f in fit] + [v[1] for v in valid])
    share = sum(len(v[1]) for v in valid) / len(y)
    model = train_gbdt(
        x, y, names, list(CATEGORICAL_FEATURES), validation_share=share, params={"num_threads": 1}
    )
    return lambda m: model.booster.predict(m, num_threads=1)


def _timings(fn, rows: np.ndarray, repeats: int = 3) -> dict[str, float]:
    """Median and 99th percentile of ``fn`` on each row alone, in microseconds: the best of
    ``repeats`` passes, since on a shared machine other work only ever adds time."""
    for row in rows[:200]:  # warm caches and lazy initialisation
        fn(row)
    best: dict[str, float] = {}
    for _ in range(repeats):
        spent = []
        for row in rows:
            began = time.perf_counter_ns()
            fn(row)
            spent.append((time.perf_counter_ns() - began) / 1_000)
        p50, p99 = float(np.median(spent)), float(np.percentile(spent, 99))
        if not best or p50 < best["p50_us"]:
            best = {"p50_us": p50, "p99_us": p99}
    return best


def serving_speed(mlp: Path, gbdt: Path, matrix: np.ndarray) -> dict[str, dict[str, float]]:
    """Single-row and batch scoring, and one row's reasons: the MLP bundle (numpy forward
    pass; and the same weights through torch, for comparison) against the compiled GBDT."""
    from vigil.models.bundle import ModelBundle

    out = {}
    rows = matrix[:3_000]
    batch = matrix[:8_192]
    for name, path in (("mlp bundle (numpy)", mlp), ("gbdt bundle (lleaves)", gbdt)):
        bundle = ModelBundle.load(path)
        reasons = bundle.attribution()
        row = _timings(lambda r, b=bundle: b.scores(r.reshape(1, -1)), rows)
        spent = []
        for _ in range(5):
            began = time.perf_counter_ns()
            bundle.scores(batch, threads=1)
            spent.append((time.perf_counter_ns() - began) / 1_000 / len(batch))
        out[name] = {
            "kind": bundle.model_kind,
            "compiled": bundle.compiled,
            "row_p50_us": row["p50_us"],
            "row_p99_us": row["p99_us"],
            "batch_us_per_row": float(min(spent)),
            "reasons_p50_us": _timings(reasons, rows[:1_000])["p50_us"],
        }
    bundle = ModelBundle.load(mlp)
    model = make_model(len(bundle.features), bundle.scorer.hidden)
    set_arrays(model, bundle.scorer.arrays())
    model.eval()

    def torch_row(r: np.ndarray) -> float:
        with torch.inference_mode():
            return float(torch.sigmoid(model(torch.from_numpy(prepare(r.reshape(1, -1))))))

    row = _timings(torch_row, rows)
    out["same MLP through torch"] = {"row_p50_us": row["p50_us"], "row_p99_us": row["p99_us"]}
    return out


def per_pool(data: list[PoolData], score) -> dict[str, float]:
    out = {}
    for d in data:
        x, y = d.part("test")
        out[d.jurisdiction] = score_metrics(y, score(x))["auprc"]
    return out


def markdown(report: dict) -> str:
    """The tables of docs/federated.md, from bench.json."""
    lines = ["| pool | payments | frauds | fraud rate | fit / valid / test rows | typology mix |"]
    lines.append("|---|---:|---:|---:|---|---|")
    for p in report.get("profiles", []):
        size = report["sizes"][p["jurisdiction"]]
        top = sorted(p["typologies"].items(), key=lambda kv: -kv[1])[:4]
        mix = ", ".join(f"{t} {n / p['frauds']:.0%}" for t, n in top)
        lines.append(
            f"| {p['jurisdiction']} | {p['transactions']:,} | {p['frauds']:,} | "
            f"{p['fraud_rate']:.2%} | {size['fit']:,} / {size['valid']:,} / {size['test']:,} | "
            f"{mix} |"
        )
    for model, runs in (
        ("MLP", ["mlp_central", "mlp_fedavg", "mlp_fedavg_reset", "mlp_fedprox", "mlp_fedavg_dp",
                 "mlp_fedavg_secagg_dp", "mlp_fedavg_client_dp", "mlp_local"]),
        ("GBDT", ["gbdt_central", "gbdt_fedcyclic", "gbdt_fedbagging", "gbdt_local"]),
    ):  # fmt: skip
        present = [r for r in runs if r in report]
        if not present:
            continue
        pools = sorted(report[present[0]]["auprc"])
        lines += ["", f"**{model}**: held-out AUPRC", ""]
        header = [_title(report, r) for r in present]
        lines.append("| pool | " + " | ".join(header) + " |")
        lines.append("|---|" + "---:|" * len(present))
        for pool in [*pools, "mean"]:
            cells = []
            for r in present:
                values = report[r]["auprc"]
                v = np.mean(list(values.values())) if pool == "mean" else values[pool]
                cells.append(f"{v:.3f}")
            lines.append(f"| {pool} | " + " | ".join(cells) + " |")
    lines += ["", *_curves(report)]
    lines += ["", "| run | rounds | bytes down / round | bytes up / round | s / round | wall s |"]
    lines.append("|---|---:|---:|---:|---:|---:|")
    for name, run in report.items():
        if isinstance(run, dict) and "rounds" in run:
            rounds = run["rounds"]
            down = np.mean([r["bytes_down"] for r in rounds])
            up = np.mean([r["bytes_up"] for r in rounds])
            sec = np.mean([r["seconds"] for r in rounds])
            lines.append(
                f"| {name} | {len(rounds)} | {down:,.0f} | {up:,.0f} | {sec:.1f} | "
                f"{run['seconds']:.0f} |"
            )
    return "\n".join(lines)


def _curves(report: dict, marks: tuple[int, ...] = (1, 5, 10, 15, 20, 25, 30)) -> list[str]:
    """Held-out AUPRC by round (rows-weighted over the pools, from the clients' evaluations),
    and ε spent so far where the run is private."""
    lines = ["| run | " + " | ".join(str(m) for m in marks) + " |"]
    lines.append("|---|" + "---:|" * len(marks))
    for name, run in report.items():
        if not (isinstance(run, dict) and "rounds" in run):
            continue
        rounds = {r["round"]: r for r in run["rounds"]}
        for key, label in (("test_auprc", name), ("epsilon", f"ε ({name})")):
            if not any(key in r for r in rounds.values()):
                continue
            cells = [f"{rounds[m][key]:.3f}" if key in rounds.get(m, {}) else "" for m in marks]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _title(report: dict, run: str) -> str:
    epsilon = report[run].get("epsilon")
    label = run.replace("mlp_", "").replace("gbdt_", "")
    return f"{label} (ε={epsilon:.1f})" if epsilon else label


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/demo"))
    parser.add_argument("--pools", type=Path, default=Path("runs/federated/pools"))
    parser.add_argument("--out", type=Path, default=Path("runs/federated"))
    parser.add_argument("--until", default="2026-01-24")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--local-epochs", type=int, default=4, help="MLP: epochs per round")
    parser.add_argument("--epochs", type=int, default=30, help="central and local MLP epochs")
    parser.add_argument("--tree-rounds", type=int, default=20, help="bagging rounds")
    parser.add_argument("--local-trees", type=int, default=12, help="bagging: trees a client grows")
    parser.add_argument("--tree-lr", type=float, default=0.2, help="bagging: learning rate")
    parser.add_argument("--leaves", type=int, default=15, help="bagging: leaves per tree")
    parser.add_argument("--cyclic-rounds", type=int, default=96)
    parser.add_argument("--noise", type=float, default=2.0, help="record-level DP noise multiplier")
    parser.add_argument("--dp-batch", type=int, default=2048, help="record-level DP batch size")
    parser.add_argument("--dp-lr", type=float, default=1e-2, help="record-level DP learning rate")
    parser.add_argument(
        "--parts",
        default="profiles,mlp,gbdt",
        help="comma list: profiles, mlp, gbdt, or single runs (mlp_central, mlp_fedavg, ...)",
    )
    parser.add_argument("--report", action="store_true", help="print the markdown tables only")
    parser.add_argument(
        "--gbdt-bundle", type=Path, default=Path("models/demo"), help="compiled GBDT to time"
    )
    args = parser.parse_args()
    if args.report:
        print(markdown(json.loads((args.out / "bench.json").read_text())))
        return
    torch.set_num_threads(1)
    parts = args.parts.split(",")
    until = datetime.fromisoformat(args.until).replace(tzinfo=UTC)
    if not args.pools.exists():
        partition_world(args.data, args.pools)
    folders = pool_dirs(args.pools)
    began = time.perf_counter()
    data = [load_pool(f, until) for f in folders]
    print(f"pools ready in {time.perf_counter() - began:.0f} s")
    report_path = args.out / "bench.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    report["sizes"] = {
        d.jurisdiction: {"fit": len(d.fit), "valid": len(d.valid), "test": len(d.test)}
        for d in data
    }
    if "profiles" in parts:
        report["profiles"] = [pool_profile(f).to_dict() for f in folders]
    base = FederatedConfig(
        rounds=args.rounds, until=until.isoformat(), local_epochs=args.local_epochs
    )

    def record(name: str, started: float, **values) -> None:
        values["seconds"] = time.perf_counter() - started
        report[name] = values
        args.out.mkdir(parents=True, exist_ok=True)
        report_path.write_text(json.dumps(report, indent=2, sort_keys=True))
        print(name, json.dumps({k: v for k, v in values.items() if k != "rounds"}, indent=None))

    def federated(name: str, cfg: FederatedConfig) -> None:
        started = time.perf_counter()
        run = simulate(folders, cfg, args.out / name).result
        record(
            name,
            started,
            auprc={j: row["auprc"] for j, row in run["final"].items()},
            rounds=run["rounds"],
            epsilon=run["epsilon"],
            delta=run["delta"],
            train_seconds=run["train_seconds"],
            config=run["config"],
        )

    runs = {
        "mlp_fedavg": base,
        # as measured before: Adam restarted every round, one local epoch
        "mlp_fedavg_reset": base.with_(keep_optimizer=False, local_epochs=1),
        "mlp_fedprox": base.with_(strategy="fedprox", proximal_mu=0.01),
        "mlp_fedavg_secagg_dp": base.with_(  # one epoch a round: every step spends ε
            local_epochs=1,
            secagg=True,
            dp="record",
            noise_multiplier=args.noise,
            clip_norm=1.0,
            batch_size=args.dp_batch,
            learning_rate=args.dp_lr,
        ),
        # the same DP-SGD without the masking: SecAgg+ changes what the server sees, not what
        # it obtains (the sum, to its quantisation), at about twice the traffic and time
        "mlp_fedavg_dp": base.with_(
            local_epochs=1,
            dp="record",
            noise_multiplier=args.noise,
            clip_norm=1.0,
            batch_size=args.dp_batch,
            learning_rate=args.dp_lr,
        ),
        "mlp_fedavg_client_dp": base.with_(
            dp="client", noise_multiplier=1.0, clip_norm=0.5, local_epochs=1
        ),
        "gbdt_fedbagging": base.with_(
            model="gbdt",
            rounds=args.tree_rounds,
            local_trees=args.local_trees,
            tree_learning_rate=args.tree_lr,
            num_leaves=args.leaves,
        ),
        "gbdt_fedcyclic": base.with_(
            model="gbdt",
            tree_strategy="cyclic",
            rounds=args.cyclic_rounds,
            local_trees=4,
            tree_learning_rate=0.1,
            num_leaves=31,
        ),
    }
    wanted = set()
    for part in parts:  # a family name stands for all its runs
        family = {"mlp": ("mlp_central", "mlp_local", *(r for r in runs if "mlp" in r)),
                  "gbdt": ("gbdt_central", "gbdt_local", "gbdt_fedbagging", "gbdt_fedcyclic")}  # fmt: skip
        wanted |= set(family.get(part, (part,)))
    if "mlp_central" in wanted:
        started = time.perf_counter()
        fit, valid = _stack([d.part("fit") for d in data]), _stack([d.part("valid") for d in data])
        record("mlp_central", started, auprc=per_pool(data, _mlp(base, fit, valid, args.epochs)))
    if "mlp_local" in wanted:
        started = time.perf_counter()
        local = {}
        for d in data:
            local.update(per_pool([d], _mlp(base, d.part("fit"), d.part("valid"), args.epochs)))
        record("mlp_local", started, auprc=local)
    if "gbdt_central" in wanted:
        started = time.perf_counter()
        record("gbdt_central", started, auprc=per_pool(data, _gbdt(data)))
    if "gbdt_local" in wanted:
        started = time.perf_counter()
        local = {}
        for d in data:
            local.update(per_pool([d], _gbdt([d])))
        record("gbdt_local", started, auprc=local)
    for name, cfg in runs.items():
        if name in wanted:
            federated(name, cfg)
    if "serving" in parts:
        started = time.perf_counter()
        matrix = np.vstack([d.part("test")[0] for d in data])
        speed = serving_speed(args.out / "mlp_fedavg" / "bundle", args.gbdt_bundle, matrix)
        record("serving", started, speed=speed)


if __name__ == "__main__":
    main()
