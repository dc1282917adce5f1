"""The graph layer's own voice in a decision (L3): ring signals an analyst can act on.

The GBDT reads the graph block's values beside every other feature, and its calibrated score is
the one the policy acts on; adding the graph's evidence on top would count it twice. What the
GBDT's attributions cannot give is the ring in words: "the payee shares a phone with two
accounts known to have received fraud" tells an analyst where to look, where a SHAP weight on
``graph_payee_fraud_receivers`` does not. So the layer speaks in two places:

* **reasons**: each signal that fires on a payment the policy did not approve becomes a
  ``Reason("graph", code, sentence, weight)``, whose weight is the fraud rate measured among
  the training payments it fired on (out of sample of the block's fit: see
  :func:`signal_rates`), so that analysts can rank the signals by what they have meant;
* **score parts when the model is skipped**: the engine's fallback score (base rate raised by
  each rule's weight, noisy-OR) is raised by the same measured rates, so a payment decided
  without the model still hears the ring.

The signals read the vector the features layer already computed: no store access, no model,
a few additions per decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vigil.engine.explain import describe
from vigil.schema.records import Reason


@dataclass(frozen=True)
class Signal:
    """Fires when the sum of ``features`` reaches ``at_least``; ``text`` formats that sum (by
    default the sentence :func:`describe` has for the one feature)."""

    code: str
    features: tuple[str, ...]
    at_least: float
    text: str | None = None

    def sentence(self, value: float) -> str:
        return describe(self.features[0], value) if self.text is None else self.text.format(v=value)


SIGNALS = (
    Signal(
        "payee_ring_fraud",
        ("graph_payee_fraud_receivers", "graph_payee_fraud_senders"),
        1,
        "the payee shares devices or addresses with accounts in confirmed fraud ({v:.0f} ties)",
    ),
    Signal(
        "payer_ring_fraud",
        ("graph_payer_fraud_receivers", "graph_payer_fraud_senders"),
        1,
        "this payer shares devices or addresses with accounts in confirmed fraud ({v:.0f} ties)",
    ),
    Signal("payee_link_fraud", ("graph_payee_link_fraud",), 1),
    Signal("payer_link_fraud", ("graph_payer_link_fraud",), 1),
    Signal("payer_received_fraud", ("graph_payer_received_fraud",), 1),
    Signal("payee_sent_fraud", ("graph_payee_sent_fraud",), 1),
    Signal("payee_geniepath", ("graph_payee_score",), 0.5),
    Signal("payer_geniepath", ("graph_payer_score",), 0.5),
)


class GraphSignals:
    """The signals of :data:`SIGNALS` whose features a vector of ``names`` holds."""

    def __init__(self, names: Sequence[str], rates: Mapping[str, Mapping[str, Any]]):
        self._signals = [
            (s, positions, float(rates.get(s.code, {}).get("rate", 0.0)))
            for s, positions in _present(names)
        ]

    @classmethod
    def of(
        cls, names: Sequence[str], rates: Mapping[str, Mapping[str, Any]]
    ) -> GraphSignals | None:
        """The layer for an engine computing ``names``; None when it has no graph features."""
        signals = cls(names, rates)
        return signals if signals._signals else None

    def reasons(self, vector: Sequence[float]) -> list[Reason]:
        """The signals that fire on ``vector``, strongest measured rate first."""
        fired = []
        for signal, positions, rate in self._signals:
            value = _total(vector, positions)
            if value >= signal.at_least:  # False for NaN: a missing value says nothing
                fired.append(Reason("graph", signal.code, signal.sentence(value), rate))
        fired.sort(key=lambda reason: -reason.weight)
        return fired


def signal_rates(
    names: Sequence[str], matrix: np.ndarray, labels: np.ndarray
) -> dict[str, dict[str, float | int]]:
    """Per signal: on how many of these payments it fired and the fraud rate among them.

    Called on the training rows the graph block was *not* fitted on, so that the rates are what
    the signals will mean live, not what they meant on the data that shaped them.
    """
    rates = {}
    for signal, positions in _present(names):
        total = matrix[:, list(positions)].sum(axis=1)
        fired = total >= signal.at_least  # NaN compares False
        count = int(fired.sum())
        rate = float(labels[fired].mean()) if count else 0.0
        rates[signal.code] = {"fired": count, "rate": round(rate, 4)}
    return rates


def _present(names: Sequence[str]) -> list[tuple[Signal, tuple[int, ...]]]:
    """The signals whose features all are among ``names``, with their positions there."""
    where = {name: i for i, name in enumerate(names)}
    return [
        (s, tuple(where[f] for f in s.features))
        for s in SIGNALS
        if all(f in where for f in s.features)
    ]


def _total(vector: Sequence[float], positions: tuple[int, ...]) -> float:
    total = 0.0
    for i in positions:
        total += vector[i]
    return total
