"""The Rényi accountant agrees with Google's dp-accounting; DP-SGD trains under its bound."""

import numpy as np
import pytest
import torch

from vigil.federated.model import (
    LocalTraining,
    make_model,
    prepare,
    private_gradient_sum,
    train_local,
)
from vigil.federated.privacy import DpSgd, RdpAccountant, gaussian_rdp

# (sample rate, noise multiplier, steps) -> epsilon at delta 1e-5, from dp-accounting 0.6.0's
# RdpAccountant over the same orders (computed once; dp-accounting itself is not a dependency).
REFERENCE = [
    (1.0, 1.0, 10, 19.801691480042894),
    (0.01, 1.1, 1000, 1.7252908180449444),
    (0.0176, 1.0, 570, 2.928399109794939),
    (0.004, 0.8, 5000, 2.9319706350816617),
    (1.0, 2.0, 1, 2.1680106367839715),
]


@pytest.mark.parametrize(("q", "sigma", "steps", "expected"), REFERENCE)
def test_epsilon_matches_dp_accounting(q, sigma, steps, expected):
    accountant = RdpAccountant()
    accountant.compose(sigma, q, steps)
    assert accountant.epsilon(1e-5) == pytest.approx(expected, rel=1e-9)


def test_full_batch_is_the_plain_gaussian_and_spending_accumulates():
    assert gaussian_rdp(1.0, 2.0, 8) == pytest.approx(8 / (2 * 4.0))
    assert gaussian_rdp(0.999999, 2.0, 8) == pytest.approx(1.0, rel=1e-4)
    ledger = RdpAccountant()
    epsilons = []
    for _ in range(3):
        ledger.compose(1.0, 0.05, 20)
        epsilons.append(ledger.epsilon(1e-5))
        ledger = RdpAccountant.from_list(ledger.to_list())  # as a client's Context keeps it
    assert epsilons == sorted(epsilons) and epsilons[0] > 0


def test_each_example_moves_a_dp_sgd_step_by_at_most_the_clipping_norm():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(prepare(rng.normal(size=(64, 6)) * 1e6))  # large grads: all clipped
    y = torch.from_numpy((rng.random(64) < 0.5).astype(np.float32))
    model = make_model(6, (8,), seed=1)
    quiet = DpSgd(noise_multiplier=1e-12, clip_norm=0.5)
    generator = torch.Generator().manual_seed(0)
    for i in range(8):
        one = private_gradient_sum(model, x[i : i + 1], y[i : i + 1], quiet, generator)
        assert torch.sqrt(sum(g.pow(2).sum() for g in one)) <= 0.5 + 1e-6
    total = private_gradient_sum(model, x, y, quiet, generator)
    assert torch.sqrt(sum(g.pow(2).sum() for g in total)) <= 0.5 * 64 + 1e-4
    wide = make_model(6, (256,), seed=1)
    noisy = private_gradient_sum(wide, x[:0], y[:0], DpSgd(2.0, 0.5), generator)
    spread = torch.cat([g.flatten() for g in noisy]).std().item()
    assert 0.9 < spread < 1.1  # an empty sample still releases noise of std sigma * C


def test_local_training_under_dp_sgd_runs_and_learns_something():
    rng = np.random.default_rng(1)
    raw = rng.normal(size=(3000, 4))
    y = (raw[:, 0] > 1.2).astype(np.int8)
    model = make_model(4, (8,), seed=0)
    plan = LocalTraining(epochs=10, batch_size=300, learning_rate=3e-2, dp=DpSgd(0.8, 1.0))
    train_local(model, prepare(raw), y, plan)
    from sklearn.metrics import roc_auc_score

    from vigil.federated.model import predict

    assert roc_auc_score(y, predict(model, prepare(raw))) > 0.8
