"""The synthetic payments world: honest traffic, fraud and laundering, labelled.

``simulate_world`` is the entry point; ``WorldConfig`` holds every parameter.
"""

from vigil.world.config import WorldConfig
from vigil.world.simulate import WorldSummary, simulate_world

__all__ = ["WorldConfig", "WorldSummary", "simulate_world"]
