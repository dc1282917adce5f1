"""Streaming AML typology detectors: one per file, all behind :class:`AmlMonitor`.

monitor = AmlMonitor(registry)            # thresholds follow the packs in force
for txn in transactions:                  # time order
    for alert in monitor.observe(txn):
        ...                               # alert.typology, .subject, .evidence, .summary
"""

from vigil.aml.detectors.base import Detector
from vigil.aml.detectors.cycle import CycleDetector
from vigil.aml.detectors.dormant import DormantDetector
from vigil.aml.detectors.fan_in import FanInDetector
from vigil.aml.detectors.fan_out import FanOutDetector
from vigil.aml.detectors.monitor import AmlMonitor, default_detectors
from vigil.aml.detectors.params import (
    AmlParams,
    CycleParams,
    DormantParams,
    FanInParams,
    FanOutParams,
    PassThroughParams,
    StructuringParams,
    pack_param_names,
)
from vigil.aml.detectors.pass_through import PassThroughDetector
from vigil.aml.detectors.regime import Regime, Regimes
from vigil.aml.detectors.structuring import StructuringDetector

__all__ = [
    "AmlMonitor",
    "AmlParams",
    "CycleDetector",
    "CycleParams",
    "Detector",
    "DormantDetector",
    "DormantParams",
    "FanInDetector",
    "FanInParams",
    "FanOutDetector",
    "FanOutParams",
    "PassThroughDetector",
    "PassThroughParams",
    "Regime",
    "Regimes",
    "StructuringDetector",
    "StructuringParams",
    "default_detectors",
    "pack_param_names",
]
