"""Differential privacy: the Rényi accountant and the record-level mechanism (DP-SGD).

Two units of privacy are on offer, and the accountant below prices both:

* **record level** (``dp="record"``): inside each client every training step clips each
  example's gradient to ``clip_norm`` and adds Gaussian noise of ``noise_multiplier * clip_norm``
  to their sum, on a Poisson sample of the pool (DP-SGD). The guarantee protects one training
  row of a pool against everything that leaves it: the updates, the aggregate, the final model.
* **client level** (``dp="client"``): Flower's central DP wrapper with client-side clipping
  (``fixedclipping_mod``): each client's whole update is clipped and the server adds noise to
  the aggregate. It protects a whole jurisdiction's participation, which with eight known
  jurisdictions costs far more accuracy than it buys (see docs/federated.md).

The accountant is the standard Rényi DP one (Mironov 2017; Mironov, Talwar & Zhang 2019 for the
Poisson-subsampled Gaussian at integer orders) with the conversion to (ε, δ) of Balle et al.
2020. It is written here rather than taken from ``flwr[dp]`` because that extra pins
``attrs<24``, which would downgrade a package the rest of Vigil shares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Rényi orders searched for the tightest ε (integers: exact for the subsampled Gaussian).
ORDERS: tuple[int, ...] = (*range(2, 64), 80, 96, 128, 160, 192, 256, 384, 512, 1024)


def gaussian_rdp(q: float, noise_multiplier: float, order: int) -> float:
    """RDP at integer ``order`` of one Gaussian release of noise ``noise_multiplier`` (std over
    sensitivity) on a Poisson sample of rate ``q`` (1: no sampling)."""
    if noise_multiplier <= 0:
        return math.inf
    if q >= 1.0:
        return order / (2.0 * noise_multiplier**2)
    if q <= 0.0:
        return 0.0
    # log A = log sum_k C(a, k) (1-q)^(a-k) q^k exp((k^2 - k) / (2 sigma^2))
    terms = [
        math.lgamma(order + 1)
        - math.lgamma(k + 1)
        - math.lgamma(order - k + 1)
        + (order - k) * math.log1p(-q)
        + k * math.log(q)
        + (k * k - k) / (2.0 * noise_multiplier**2)
        for k in range(order + 1)
    ]
    top = max(terms)
    log_a = top + math.log(sum(math.exp(t - top) for t in terms))
    return log_a / (order - 1)


def epsilon_from_rdp(rdp: np.ndarray, orders: tuple[int, ...], delta: float) -> tuple[float, int]:
    """The tightest (ε, order) at ``delta`` (Balle et al. 2020, Proposition 12)."""
    a = np.asarray(orders, dtype=np.float64)
    eps = rdp + np.log1p(-1.0 / a) - (math.log(delta) + np.log(a)) / (a - 1.0)
    best = int(np.nanargmin(eps))
    return max(float(eps[best]), 0.0), int(orders[best])


@dataclass
class RdpAccountant:
    """Composes Gaussian releases; :meth:`epsilon` is the (ε, δ) spent so far."""

    orders: tuple[int, ...] = ORDERS
    rdp: np.ndarray = field(default_factory=lambda: np.zeros(len(ORDERS)))
    releases: int = 0

    def compose(self, noise_multiplier: float, q: float = 1.0, steps: int = 1) -> None:
        if steps <= 0:
            return
        self.rdp = self.rdp + steps * np.array(
            [gaussian_rdp(q, noise_multiplier, a) for a in self.orders]
        )
        self.releases += steps

    def epsilon(self, delta: float) -> float:
        if self.releases == 0:
            return 0.0
        return epsilon_from_rdp(self.rdp, self.orders, delta)[0]

    def to_list(self) -> list[float]:
        return [float(self.releases), *map(float, self.rdp)]

    @classmethod
    def from_list(cls, values: list[float]) -> RdpAccountant:
        if not values:
            return cls()
        return cls(rdp=np.asarray(values[1:], dtype=np.float64), releases=int(values[0]))


@dataclass(frozen=True)
class DpSgd:
    """Record-level DP for local training: per-example clipping and Gaussian noise."""

    noise_multiplier: float
    clip_norm: float

    def __post_init__(self) -> None:
        if self.noise_multiplier <= 0 or self.clip_norm <= 0:
            raise ValueError("DP-SGD needs a positive noise multiplier and clipping norm")
