"""Build an engine the one way every entry point (serve, replay, benchmarks, tests) does."""

from __future__ import annotations

from pathlib import Path

from vigil.engine.pipeline import Engine
from vigil.features.replay import world_features
from vigil.models.bundle import ModelBundle
from vigil.rules.pack import PACKS_DIR, context_names
from vigil.rules.registry import Audit, RuleRegistry


def build_engine(
    data: Path | None,
    bundle: ModelBundle | None,
    packs: Path = PACKS_DIR,
    restore_state: bool = False,
    audit: Audit | None = None,
) -> Engine:
    """An engine on ``bundle`` (None: rules only) with the accounts of the world in ``data``.

    ``data`` supplies the ``accounts`` reference table (kind, age, KYC level); without it every
    account is scored as unknown, which the model has seen as new accounts. ``restore_state``
    starts warm from the bundle's end-of-training feature state, where it has one. ``audit``
    receives every rule-pack change (``vigil.audit.rules_audit`` writes them to a trail).
    """
    features = world_features(data, blocks=bundle.load_blocks() if bundle is not None else ())
    if restore_state and bundle is not None and bundle.state_path is not None:
        features.restore(bundle.state_path)
    return Engine(features, RuleRegistry(packs, context_names(), audit=audit), bundle)


def load_engine(
    models: Path, data: Path | None = None, packs: Path = PACKS_DIR, audit: Audit | None = None
) -> Engine:
    """A serving engine: the bundle in ``models``, warm from its end-of-training state."""
    return build_engine(data, ModelBundle.load(models), packs, restore_state=True, audit=audit)
