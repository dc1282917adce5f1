"""Local training's state between rounds: Adam's moments survive a save and restore exactly."""

import numpy as np
import torch

from vigil.federated.model import (
    LocalTraining,
    adam_state_arrays,
    get_arrays,
    make_model,
    prepare,
    restore_adam,
    set_arrays,
    train_local,
)


def _data(rows=2_000, n=6, seed=0):
    rng = np.random.default_rng(seed)
    raw = rng.lognormal(0.0, 2.0, size=(rows, n))
    return prepare(raw), (raw[:, 0] > 20).astype(np.int8)


def test_a_round_resumed_from_saved_moments_equals_one_uninterrupted_run():
    x, y = _data()
    plans = [LocalTraining(batch_size=256, learning_rate=1e-2, seed=s) for s in (1, 2)]
    straight = make_model(x.shape[1], (8,), seed=0)
    optimizer = torch.optim.Adam(straight.parameters(), lr=1e-2)
    for plan in plans:
        train_local(straight, x, y, plan, optimizer)
    # the same two rounds, the optimizer rebuilt between them from its saved arrays
    resumed = make_model(x.shape[1], (8,), seed=0)
    first = torch.optim.Adam(resumed.parameters(), lr=1e-2)
    train_local(resumed, x, y, plans[0], first)
    saved, weights = adam_state_arrays(first), get_arrays(resumed)
    again = make_model(x.shape[1], (8,), seed=9)  # a fresh model object, as a new message gets
    set_arrays(again, weights)
    second = torch.optim.Adam(again.parameters(), lr=1e-2)
    restore_adam(second, saved)
    train_local(again, x, y, plans[1], second)
    for a, b in zip(get_arrays(straight), get_arrays(again), strict=True):
        np.testing.assert_array_equal(a, b)
    # ...and a fresh Adam (the old behaviour) takes another path
    fresh = make_model(x.shape[1], (8,), seed=9)
    set_arrays(fresh, weights)
    train_local(fresh, x, y, plans[1])
    assert not np.array_equal(get_arrays(fresh)[0], get_arrays(straight)[0])
    assert set(saved) == {f"{i}.{k}" for i in range(4) for k in ("exp_avg", "exp_avg_sq", "step")}
