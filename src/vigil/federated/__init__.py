"""Federated learning across jurisdictions with Flower: no raw row leaves its pool.

Layout follows Flower's runtime roles: ``partition`` (pools), ``pool`` (a client's local data,
built by the engine's feature code), ``clientapp`` and ``serverapp`` (the Flower apps),
``strategy/`` (FedLgbBagging), ``privacy`` (the Rényi accountant, DP-SGD), ``model`` (the MLP),
``trees`` (LightGBM tree text), ``grid`` (metering and in-process grids), ``simulate`` and
``deploy`` (the two ways to run), ``export`` (the bundle), ``cli`` (`vigil federated`).

The names below that need Flower, torch or LightGBM are imported on first use, so importing
this package (or mounting its CLI) stays cheap. The two entry points are functions of their
modules: ``vigil.federated.simulate.simulate`` and ``vigil.federated.deploy.deploy``.
"""

from importlib import import_module
from typing import Any

from vigil.federated.config import FederatedConfig
from vigil.federated.partition import PoolProfile, partition_world, pool_dirs, pool_profile

_LAZY = {
    "Simulation": "vigil.federated.simulate",
    "Deployment": "vigil.federated.deploy",
    "load_pool": "vigil.federated.pool",
    "RdpAccountant": "vigil.federated.privacy",
    "FedLgbBagging": "vigil.federated.strategy",
    "federated_app": "vigil.federated.cli",
}

__all__ = [
    "Deployment",
    "FedLgbBagging",
    "FederatedConfig",
    "PoolProfile",
    "RdpAccountant",
    "Simulation",
    "federated_app",
    "load_pool",
    "partition_world",
    "pool_dirs",
    "pool_profile",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
