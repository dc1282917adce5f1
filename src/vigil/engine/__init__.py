"""The real-time engine: the decision pipeline, the cost-based policy and reasons in words."""

from vigil.engine.pipeline import Budgets, Engine
from vigil.engine.policy import Policy, PolicyConfig

__all__ = ["Budgets", "Engine", "Policy", "PolicyConfig"]
