"""The detectors' tunable values, and how a jurisdiction's rule pack overrides them.

Regulatory values (the reporting threshold ``large_value``, the near-threshold band
``structuring_band``) are not here: they belong to each jurisdiction's pack and are read by
:mod:`vigil.aml.detectors.regime`. What is here is detection policy — windows, counts, amount
floors — with defaults tuned on the demo world (docs/aml-detectors.md). A pack may override any
of them with a param named ``aml_<detector>_<field>``, e.g. ``aml_structuring_window_hours:
120``, so a regulator's or a compliance team's directive changes detection the same day, by
publishing a pack, without a release.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

log = logging.getLogger(__name__)

HOUR = 3600.0
DAY = 86400.0

#: Account kinds of the accounts table. Kinds are KYC data: a detector may watch only some
#: (a shop collecting from many customers is its business, a person doing so is not). An
#: account of unknown kind is always watched.
ALL_KINDS = frozenset({"person", "business", "merchant"})


@dataclass(frozen=True, slots=True)
class StructuringParams:
    """Several deposits (or payments) just under the reporting threshold within a window."""

    window_hours: float = 168.0  #: smurfs spread deposits over days, not minutes
    min_count: int = 3  #: near-threshold transactions of one subject within the window
    cash_only: bool = True  #: the packs' thresholds are cash-transaction reporting thresholds

    @property
    def window_s(self) -> float:
        return self.window_hours * HOUR


@dataclass(frozen=True, slots=True)
class FanInParams:
    """Many distinct payers sending sizeable sums to one account within a window."""

    window_hours: float = 72.0
    min_payers: int = 4  #: distinct payers, each counted once
    min_usd: float = 500.0  #: a payment smaller than this is shopping, not collection
    min_total_usd: float = 5_000.0
    #: whose payments count: funnel accounts collect from individuals, a supplier from firms
    payer_kinds: frozenset[str] = frozenset({"person"})
    #: who is watched: merchants are paid by many customers by design
    subject_kinds: frozenset[str] = frozenset({"person", "business"})

    @property
    def window_s(self) -> float:
        return self.window_hours * HOUR


@dataclass(frozen=True, slots=True)
class FanOutParams:
    """A recent inflow split across many distinct payees within a window."""

    window_hours: float = 72.0
    min_payees: int = 4
    min_usd: float = 500.0  #: per outgoing payment
    min_total_usd: float = 5_000.0
    #: the largest inflow of the window must come to at least this share of the outflows, and
    #: the outflows to at least this share of it: one lump in, the same money out to many. A
    #: payroll paid from a company's turnover has no such lump.
    funded_share: float = 0.9
    subject_kinds: frozenset[str] = ALL_KINDS

    @property
    def window_s(self) -> float:
        return self.window_hours * HOUR


@dataclass(frozen=True, slots=True)
class CycleParams:
    """Money that returns to where it started within a window, through at most a few hops."""

    window_hours: float = 240.0  #: first hop to closing hop
    max_length: int = 6  #: accounts in the cycle (2 = A pays B, B pays A back)
    min_usd: float = 1_000.0  #: smaller edges are not kept (P2P circles repaying lunch)
    max_hop_loss: float = 0.1  #: each hop passes on at least 90% of what it received ...
    max_hop_gain: float = 0.02  #: ... and at most 2% more (rounding, exchange)
    max_branching: int = 32  #: newest in-edges followed per account, which bounds the search
    max_expansions: int = 256  #: edges visited per closing edge, a hard bound on cost

    @property
    def window_s(self) -> float:
        return self.window_hours * HOUR


@dataclass(frozen=True, slots=True)
class PassThroughParams:
    """Money out ≈ money in within hours of its arrival."""

    window_hours: float = 24.0
    min_usd: float = 1_000.0  #: inflows within the window at least this
    min_leg_usd: float = 200.0  #: smaller payments, either way, are everyday life
    tolerance: float = 0.2  #: outflows within ±20% of inflows
    #: a firm's takings paid on to its suppliers are working capital, not a conduit
    subject_kinds: frozenset[str] = frozenset({"person"})

    @property
    def window_s(self) -> float:
        return self.window_hours * HOUR


@dataclass(frozen=True, slots=True)
class DormantParams:
    """An account silent for long that suddenly moves large sums."""

    silent_days: float = 90.0
    wake_hours: float = 72.0  #: flows counted from the first transaction after the silence
    min_usd: float = 3_000.0  #: money in plus money out within ``wake_hours``

    @property
    def window_s(self) -> float:
        return self.wake_hours * HOUR


@dataclass(frozen=True, slots=True)
class AmlParams:
    """Every detector's parameters; the defaults a pack's ``aml_*`` params start from."""

    structuring: StructuringParams = field(default_factory=StructuringParams)
    fan_in: FanInParams = field(default_factory=FanInParams)
    fan_out: FanOutParams = field(default_factory=FanOutParams)
    cycle: CycleParams = field(default_factory=CycleParams)
    pass_through: PassThroughParams = field(default_factory=PassThroughParams)
    dormant: DormantParams = field(default_factory=DormantParams)

    def overridden(self, pack_params: Mapping[str, Any], source: str = "pack") -> AmlParams:
        """These defaults with every ``aml_<detector>_<field>`` of a pack applied.

        A value of the wrong type is logged and ignored (the default stays): a detector must
        keep running on a pack that the rule compiler accepted.
        """
        return replace(
            self,
            **{
                f.name: _override(getattr(self, f.name), f.name, pack_params, source)
                for f in fields(self)
            },
        )


def pack_param_names() -> list[str]:
    """Every pack param name the detectors read besides the regulatory ones."""
    defaults = AmlParams()
    return [
        f"aml_{group.name}_{f.name}"
        for group in fields(defaults)
        for f in fields(getattr(defaults, group.name))
    ]


P = TypeVar("P")


def _override(defaults: P, prefix: str, pack_params: Mapping[str, Any], source: str) -> P:
    changes = {}
    for f in fields(defaults):  # type: ignore[arg-type]
        name = f"aml_{prefix}_{f.name}"
        if name not in pack_params:
            continue
        raw = pack_params[name]
        value = _coerce(raw, type(getattr(defaults, f.name)))
        if value is None:
            log.error("%s: param %s=%r has the wrong type; default kept", source, name, raw)
            continue
        changes[f.name] = value
    return replace(defaults, **changes) if changes else defaults  # type: ignore[type-var]


def _coerce(value: Any, kind: type) -> Any:
    """``value`` as ``kind`` (bool, int, float, or a set of kinds written ``"person,business"``),
    or None when it is not one."""
    if kind is frozenset:
        if not isinstance(value, str):
            return None
        return frozenset(part.strip() for part in value.split(",") if part.strip())
    if kind is bool:
        return value if isinstance(value, bool) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if kind is int:
        return int(value) if float(value).is_integer() else None
    return float(value)
