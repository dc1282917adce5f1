"""The action that minimises expected cost, not a fixed score threshold.

A missed fraud costs the amount at risk; stopping a good customer costs friction that the
operator prices per segment (a declined payroll run costs more than a declined coffee). With a
calibrated probability ``p`` and an amount ``A`` in US dollars:

- approve: ``p * A * loss_share``
- review:  ``review_cost + p * A * loss_share * (1 - review_catch_rate) + (1 - p) * friction_review``
- decline: ``(1 - p) * (friction_decline + decline_margin_share * A)``

so the false-positive rate is a consequence of prices the operator sets. Rules can raise the
action to a floor (a sanctions hit is declined whatever the model says). A review budget caps
the share of traffic sent to analysts over a rolling window; past it, a review the rules did
not demand falls back to the cheaper of approve and decline.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import NamedTuple

SEVERITY = {"approve": 0, "review": 1, "decline": 2}
ACTIONS_BY_SEVERITY = ("approve", "review", "decline")


@dataclass(frozen=True)
class PolicyConfig:
    loss_share: float = 1.0
    review_cost_usd: float = 3.0
    review_catch_rate: float = 0.9
    friction_review_usd: dict[str, float] = field(
        default_factory=lambda: {"person": 4.0, "business": 8.0, "merchant": 8.0, "default": 4.0}
    )
    friction_decline_usd: dict[str, float] = field(
        default_factory=lambda: {
            "person": 25.0,
            "business": 60.0,
            "merchant": 60.0,
            "default": 25.0,
        }
    )
    decline_margin_share: float = 0.02
    review_budget: float | None = None
    budget_window: int = 10_000

    def __post_init__(self) -> None:
        for name in ("loss_share", "review_catch_rate", "decline_margin_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"policy.{name}: expected a share in [0, 1], got {value}")
        if self.review_budget is not None and not 0.0 <= self.review_budget <= 1.0:
            raise ValueError(
                f"policy.review_budget: expected a share in [0, 1], got {self.review_budget}"
            )


class PolicyOutcome(NamedTuple):
    """Immutable like a frozen dataclass, at a fifth of its cost to build on every payment."""

    action: str
    costs: tuple[float, float, float]  # approve, review, decline
    budget_limited: bool


class Policy:
    def __init__(self, config: PolicyConfig | None = None):
        self.config = config or PolicyConfig()
        self._recent: deque[bool] = deque(maxlen=self.config.budget_window)
        self._reviews = 0

    def costs(self, p: float, amount_usd: float, segment: str) -> tuple[float, float, float]:
        c = self.config
        at_risk = amount_usd * c.loss_share
        review_friction = c.friction_review_usd.get(segment, c.friction_review_usd["default"])
        decline_friction = c.friction_decline_usd.get(segment, c.friction_decline_usd["default"])
        return (
            p * at_risk,
            c.review_cost_usd
            + p * at_risk * (1.0 - c.review_catch_rate)
            + (1.0 - p) * review_friction,
            (1.0 - p) * (decline_friction + c.decline_margin_share * amount_usd),
        )

    def decide(
        self, p: float, amount_usd: float, segment: str, floor: str = "approve"
    ) -> PolicyOutcome:
        costs = self.costs(p, amount_usd, segment)
        best = 1 if costs[1] < costs[0] else 0  # the first cheapest, as min() would pick
        if costs[2] < costs[best]:
            best = 2
        action = ACTIONS_BY_SEVERITY[max(best, SEVERITY[floor])]
        limited = False
        if action == "review" and floor != "review" and self._over_budget():
            action = "approve" if costs[0] <= costs[2] else "decline"
            limited = True
        self._note(action == "review")
        return PolicyOutcome(action, costs, limited)

    def _over_budget(self) -> bool:
        budget = self.config.review_budget
        if budget is None or not self._recent:
            return False
        return (self._reviews + 1) / len(self._recent) > budget

    def _note(self, reviewed: bool) -> None:
        if len(self._recent) == self._recent.maxlen and self._recent[0]:
            self._reviews -= 1
        self._recent.append(reviewed)
        self._reviews += reviewed
