"""The federated MLP's levers, one at a time, in a plain FedAvg loop (no Flower, no bytes).

`bench/federated.py` runs the real ServerApp and ClientApps, which is what the figures of
docs/federated.md are; this loop does the same arithmetic (each pool trains locally from the
global weights, the server averages the results weighted by rows) in a few lines, so that one
lever can be switched at a time and its effect measured in minutes: Adam's moments kept across
rounds (``--keep-opt``), local epochs per round, a server-side optimizer (FedAvgM, FedAdam), a
standardisation of the inputs computed from the pools' sums and counts (``--std``). ``--central``
trains the same network on all pools' rows pooled, with one Adam, as the baseline.

``--gbdt bagging|cyclic`` runs the federated GBDT's schemes the same way, with the ClientApp's own
``grow_trees`` (its leaf-size check included) and the strategies' tree merging: every pool's
trees scaled by its share of the rows each round, or one pool a round in turn, trees whole.

Each round prints the mean over the pools of the validation and held-out AUPRC; the result line
gives the last round's held-out AUPRC and the held-out AUPRC at the round with the best
validation AUPRC. Results are appended to ``--out`` (JSON lines).

    python bench/federated_levers.py --name keepopt_e4 --keep-opt --epochs 4 --rounds 20
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vigil.federated.calibration import score_metrics
from vigil.federated.model import get_arrays, make_model, predict, prepare, set_arrays
from vigil.federated.partition import pool_dirs
from vigil.federated.pool import load_pool


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", required=True)
    p.add_argument("--pools", type=Path, default=Path("runs/federated/pools"))
    p.add_argument("--until", default="2026-01-24")
    p.add_argument("--out", type=Path, default=Path("runs/federated/levers.jsonl"))
    p.add_argument("--rounds", type=int, default=30, help="rounds (or epochs with --central)")
    p.add_argument("--epochs", type=int, default=1, help="local epochs per round")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--keep-opt", action="store_true", help="clients keep Adam across rounds")
    p.add_argument("--std", action="store_true", help="standardise from pooled sums and counts")
    p.add_argument("--server", default="avg", choices=("avg", "avgm", "adam"))
    p.add_argument("--slr", type=float, default=1.0, help="server learning rate")
    p.add_argument("--central", action="store_true", help="all rows pooled, one Adam")
    p.add_argument("--gbdt", choices=("bagging", "cyclic"), help="the tree schemes instead")
    p.add_argument("--trees", type=int, default=3, help="GBDT: trees per client and round")
    p.add_argument("--tree-lr", type=float, default=0.2)
    p.add_argument("--leaves", type=int, default=15)
    p.add_argument("--every", type=int, default=5, help="GBDT: evaluate every this many rounds")
    a = p.parse_args()
    torch.set_num_threads(1)
    until = datetime.fromisoformat(a.until).replace(tzinfo=UTC)
    data = [load_pool(f, until) for f in pool_dirs(a.pools)]
    if a.gbdt:
        _trees(a, data)
        return
    fit = [d.part("fit") for d in data]
    valid = [d.part("valid") for d in data]
    test = [d.part("test") for d in data]
    xs = [prepare(x) for x, _ in fit]
    if a.std:  # what each pool would send: row count, sum and sum of squares per feature
        n = sum(len(x) for x in xs)
        mu = sum(x.astype(np.float64).sum(0) for x in xs) / n
        sq = sum((x.astype(np.float64) ** 2).sum(0) for x in xs) / n
        sd = np.sqrt(np.maximum(sq - mu**2, 0))
        sd[sd < 1e-6] = 1.0
        xs = [((x - mu) / sd).astype(np.float32) for x in xs]

        def transform(m):
            return ((prepare(m) - mu) / sd).astype(np.float32)
    else:
        transform = prepare
    vxs, txs = [transform(x) for x, _ in valid], [transform(x) for x, _ in test]
    ys = [y.astype(np.float32) for _, y in fit]
    features = xs[0].shape[1]
    loss_fn = nn.BCEWithLogitsLoss()

    def evaluate(model):
        v = [score_metrics(valid[i][1], predict(model, vxs[i]))["auprc"] for i in range(len(data))]
        t = [score_metrics(test[i][1], predict(model, txs[i]))["auprc"] for i in range(len(data))]
        return float(np.nanmean(v)), float(np.mean(t))

    def train(model, optimizer, x, y, rng, epochs):
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        model.train()
        for _ in range(epochs):
            order = rng.permutation(len(y))
            for s in range(0, len(y), a.batch):
                idx = torch.from_numpy(order[s : s + a.batch])
                optimizer.zero_grad()
                loss_fn(model(xt[idx]), yt[idx]).backward()
                optimizer.step()

    history, best, began = [], (-1.0, None, None), time.time()

    def log(r, model):
        nonlocal best
        v, t = evaluate(model)
        history.append((r, v, t))
        if v > best[0]:
            best = (v, t, r)
        print(r, f"valid {v:.4f} test {t:.4f}", f"{time.time() - began:.0f}s", flush=True)

    if a.central:
        x, y = np.vstack(xs), np.concatenate(ys)
        model = make_model(features, (64, 32), 0)
        optimizer = torch.optim.Adam(model.parameters(), lr=a.lr)
        for r in range(a.rounds):
            train(model, optimizer, x, y, np.random.default_rng(r), 1)
            log(r + 1, model)
    else:
        glob = make_model(features, (64, 32), 0)
        w = get_arrays(glob)
        clients = [make_model(features, (64, 32), 0) for _ in data]
        optimizers = [torch.optim.Adam(c.parameters(), lr=a.lr) for c in clients]
        sizes = np.array([len(y) for y in ys], dtype=np.float64)
        share = sizes / sizes.sum()
        m1 = [np.zeros_like(u) for u in w]
        m2 = [np.full_like(u, 1e-6) for u in w]
        for r in range(a.rounds):
            updates = []
            for i, client in enumerate(clients):
                set_arrays(client, w)
                if not a.keep_opt:
                    optimizers[i] = torch.optim.Adam(client.parameters(), lr=a.lr)
                train(
                    client,
                    optimizers[i],
                    xs[i],
                    ys[i],
                    np.random.default_rng(r * 101 + i),
                    a.epochs,
                )
                updates.append(get_arrays(client))
            mean = [sum(share[i] * updates[i][k] for i in range(len(data))) for k in range(len(w))]
            delta = [mean[k] - w[k] for k in range(len(w))]
            if a.server == "avg":  # FedAvg (server learning rate 1: the weighted mean)
                w = [w[k] + a.slr * delta[k] for k in range(len(w))]
            elif a.server == "avgm":  # FedAvgM: momentum 0.9 on the server's step
                m1 = [0.9 * m1[k] + delta[k] for k in range(len(w))]
                w = [w[k] + a.slr * m1[k] for k in range(len(w))]
            else:  # FedAdam (Reddi et al. 2021): beta1 0.9, beta2 0.99, tau 1e-3
                m1 = [0.9 * m1[k] + 0.1 * delta[k] for k in range(len(w))]
                m2 = [0.99 * m2[k] + 0.01 * delta[k] ** 2 for k in range(len(w))]
                w = [w[k] + a.slr * m1[k] / (np.sqrt(m2[k]) + 1e-3) for k in range(len(w))]
            w = [u.astype(np.float32) for u in w]
            set_arrays(glob, w)
            log(r + 1, glob)
    _report(a, history, history[-1][2], best, began)


def _trees(a: argparse.Namespace, data: list) -> None:
    import lightgbm as lgb

    from vigil.features.spec import CATEGORICAL_FEATURES
    from vigil.federated.clientapp import grow_trees
    from vigil.federated.config import FederatedConfig
    from vigil.federated.strategy.lgb_bagging import _as_model
    from vigil.federated.trees import assemble, scale_tree, tree_blocks

    names = data[0].names
    cats = [c for c in CATEGORICAL_FEATURES if c in names]
    cfg = FederatedConfig(
        model="gbdt", local_trees=a.trees, tree_learning_rate=a.tree_lr, num_leaves=a.leaves
    )
    sizes = np.array([len(d.fit) for d in data], dtype=np.float64)
    share = sizes / sizes.sum()
    # the global model's raw scores on every part of every pool, updated with each round's
    # trees only (as each ClientApp keeps them)
    raw = {part: [np.zeros(len(getattr(d, part))) for d in data] for part in PARTS}
    trees = 0
    history, best, began = [], (-1.0, None, None), time.time()
    for r in range(1, a.rounds + 1):
        chosen = range(len(data)) if a.gbdt == "bagging" else [(r - 1) % len(data)]
        added: list[str] = []
        for i in chosen:  # seeds as the ClientApp's: cfg.seed (0) + round
            init = raw["fit"][i] if trees else None
            grown = tree_blocks(_as_model("\n".join(grow_trees(data[i], init, cfg, seed=r))))
            weight = share[i] if a.gbdt == "bagging" else 1.0
            added.extend(scale_tree(b, float(weight)) for b in grown)
        step = lgb.Booster(model_str=assemble(names, cats, added))
        for part in PARTS:
            for i, d in enumerate(data):
                raw[part][i] += step.predict(d.part(part)[0], raw_score=True, num_threads=1)
        trees += len(added)
        if r % a.every and r != a.rounds:
            continue
        v, t = (
            float(np.mean([score_metrics(d.part(part)[1], raw[part][i])["auprc"]
                           for i, d in enumerate(data)]))
            for part in ("valid", "test")
        )  # fmt: skip
        history.append((r, trees, v, t))
        if v > best[0]:
            best = (v, t, r)
        print(r, trees, f"valid {v:.4f} test {t:.4f}", f"{time.time() - began:.0f}s", flush=True)
    _report(a, history, history[-1][3], best, began)


PARTS = ("fit", "valid", "test")


def _report(a: argparse.Namespace, history: list, final_test: float, best: tuple, began: float):
    """Print the result line and append the whole run to ``--out`` (JSON lines)."""
    result = {
        "name": a.name,
        "args": {k: str(v) for k, v in vars(a).items()},
        "final_test": final_test,
        "best_valid_round": best[2],
        "test_at_best": best[1],
        "history": history,
        "seconds": time.time() - began,
    }
    print("RESULT", json.dumps({k: v for k, v in result.items() if k not in ("history", "args")}))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with a.out.open("a") as handle:
        handle.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
