"""The neural fraud scorer: an MLP over the engine's feature vector, and its local training.

Inputs are the online features as the engine computes them, passed through a fixed,
data-independent transform (missing as 0, then a signed ``log1p``), so no client has to share
statistics of its data for normalisation. Local training is Adam on binary cross-entropy, with
FedProx's proximal term when asked and DP-SGD (per-example clipping plus Gaussian noise on a
Poisson sample) when the run is private at record level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from vigil.federated.privacy import DpSgd


def prepare(matrix: np.ndarray) -> np.ndarray:
    """The engine's feature matrix as the MLP reads it (float32)."""
    x = np.nan_to_num(np.asarray(matrix, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    return (np.sign(x) * np.log1p(np.abs(x))).astype(np.float32)


class FraudMLP(nn.Module):
    def __init__(self, n_features: int, hidden: tuple[int, ...] = (64, 32)):
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        self.n_features = n_features
        self.hidden = tuple(hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


def make_model(n_features: int, hidden: tuple[int, ...], seed: int = 0) -> FraudMLP:
    """The same initial weights for the same seed, on every node."""
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    model = FraudMLP(n_features, hidden)
    torch.random.set_rng_state(generator_state)
    return model


def get_arrays(model: nn.Module) -> list[np.ndarray]:
    return [p.detach().cpu().numpy().astype(np.float32).copy() for p in model.parameters()]


def set_arrays(model: nn.Module, arrays: list[np.ndarray]) -> None:
    params = list(model.parameters())
    if len(params) != len(arrays):
        raise ValueError(f"model has {len(params)} tensors, got {len(arrays)} arrays")
    with torch.no_grad():
        for p, a in zip(params, arrays, strict=True):
            if tuple(p.shape) != tuple(a.shape):
                raise ValueError(f"array of shape {a.shape} for a tensor of shape {tuple(p.shape)}")
            p.copy_(torch.as_tensor(np.asarray(a), dtype=p.dtype))


def predict(model: FraudMLP, x: np.ndarray, batch: int = 8192) -> np.ndarray:
    """Probabilities of fraud for rows already through :func:`prepare`."""
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch):
            out.append(torch.sigmoid(model(torch.from_numpy(x[start : start + batch]))).numpy())
    return np.concatenate(out) if out else np.empty(0, dtype=np.float32)


@dataclass(frozen=True)
class LocalTraining:
    epochs: int = 1
    batch_size: int = 512
    learning_rate: float = 2e-3
    proximal_mu: float = 0.0
    dp: DpSgd | None = None
    seed: int = 0

    def sample_rate(self, rows: int) -> float:
        return min(1.0, self.batch_size / max(rows, 1))

    def steps(self, rows: int) -> int:
        return max(1, self.epochs * math.ceil(rows / self.batch_size))


def train_local(
    model: FraudMLP,
    x: np.ndarray,
    y: np.ndarray,
    plan: LocalTraining,
    optimizer: torch.optim.Optimizer | None = None,
) -> float:
    """Train in place on prepared rows ``x`` and labels ``y``; the mean training loss.

    ``optimizer`` (over ``model``'s parameters) carries Adam's moments from an earlier round;
    without one, Adam starts from zero moments."""
    if len(y) == 0:
        return float("nan")
    rng = np.random.default_rng(plan.seed)
    anchor = [p.detach().clone() for p in model.parameters()] if plan.proximal_mu > 0 else None
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=plan.learning_rate)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.float32))
    loss_fn = nn.BCEWithLogitsLoss()
    model.train()
    losses = []
    rows = len(y)
    if plan.dp is None:
        for _ in range(plan.epochs):
            order = rng.permutation(rows)
            for start in range(0, rows, plan.batch_size):
                idx = torch.from_numpy(order[start : start + plan.batch_size])
                optimizer.zero_grad()
                loss = loss_fn(model(xt[idx]), yt[idx])
                losses.append(loss.item())
                if anchor is not None:
                    loss = loss + _proximal(model, anchor, plan.proximal_mu)
                loss.backward()
                optimizer.step()
        return float(np.mean(losses))
    # DP-SGD: Poisson sampling at rate q, per-example clipping, noise on the clipped sum
    q = plan.sample_rate(rows)
    generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
    expected = q * rows
    for _ in range(plan.steps(rows)):
        idx = torch.from_numpy(np.flatnonzero(rng.random(rows) < q))
        optimizer.zero_grad()
        if len(idx):
            with torch.no_grad():
                losses.append(float(loss_fn(model(xt[idx]), yt[idx])))
        noisy = private_gradient_sum(model, xt[idx], yt[idx], plan.dp, generator)
        for p, total in zip(model.parameters(), noisy, strict=True):
            p.grad = total / expected
        if anchor is not None:  # data-independent: outside the clipped, noised sum
            with torch.no_grad():
                for p, a in zip(model.parameters(), anchor, strict=True):
                    p.grad += plan.proximal_mu * (p - a)
        optimizer.step()
    return float(np.mean(losses)) if losses else float("nan")


_MOMENTS = ("exp_avg", "exp_avg_sq")


def adam_state_arrays(optimizer: torch.optim.Adam) -> dict[str, np.ndarray]:
    """Adam's per-parameter moments and step counts as named arrays (to keep between rounds)."""
    out = {}
    for index, state in optimizer.state_dict()["state"].items():
        for key in _MOMENTS:
            out[f"{index}.{key}"] = state[key].detach().cpu().numpy().copy()
        out[f"{index}.step"] = np.asarray([float(state["step"])], dtype=np.float64)
    return out


def restore_adam(optimizer: torch.optim.Adam, arrays: dict[str, np.ndarray]) -> None:
    """Load moments saved by :func:`adam_state_arrays` into a fresh Adam over the same model."""
    saved = optimizer.state_dict()
    params = saved["param_groups"][0]["params"]
    state = {}
    for index in params:
        if f"{index}.step" not in arrays:
            return  # saved for another model: start from zero moments
        state[index] = {
            key: torch.from_numpy(np.array(arrays[f"{index}.{key}"])) for key in _MOMENTS
        }
        state[index]["step"] = torch.tensor(float(arrays[f"{index}.step"][0]))
    optimizer.load_state_dict({"state": state, "param_groups": saved["param_groups"]})


def private_gradient_sum(
    model: FraudMLP,
    x: torch.Tensor,
    y: torch.Tensor,
    dp: DpSgd,
    generator: torch.Generator,
) -> list[torch.Tensor]:
    """The sum over examples of each example's gradient clipped to ``dp.clip_norm``, plus
    Gaussian noise of std ``noise_multiplier * clip_norm``: one DP-SGD release."""
    names = [name for name, _ in model.named_parameters()]
    params = {name: p.detach() for name, p in model.named_parameters()}
    loss_fn = nn.BCEWithLogitsLoss()

    def example_loss(theta: dict[str, torch.Tensor], xi: torch.Tensor, yi: torch.Tensor):
        return loss_fn(functional_call(model, theta, (xi.unsqueeze(0),)), yi.unsqueeze(0))

    sums = [torch.zeros_like(params[name]) for name in names]
    if len(y):
        grads = vmap(grad(example_loss), in_dims=(None, 0, 0))(params, x, y)
        norms = torch.sqrt(sum(g.flatten(1).pow(2).sum(1) for g in grads.values()))
        factor = torch.clamp(dp.clip_norm / (norms + 1e-12), max=1.0)
        sums = [torch.einsum("b,b...->...", factor, grads[name]) for name in names]
    std = dp.noise_multiplier * dp.clip_norm
    return [s + torch.normal(0.0, std, s.shape, generator=generator) for s in sums]


def _proximal(model: nn.Module, anchor: list[torch.Tensor], mu: float) -> torch.Tensor:
    return (
        0.5
        * mu
        * sum((p - a).pow(2).sum() for p, a in zip(model.parameters(), anchor, strict=True))
    )
