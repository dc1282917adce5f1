"""The rules a transaction is judged under: its jurisdiction's pack in force at its time.

Thresholds follow the live packs: a version published with a future effective time applies to
transactions from that instant on, and a replay of last month uses last month's thresholds,
because the pack is looked up by the transaction's own timestamp. A pack is immutable, so what
the detectors read from it is derived once per pack and cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vigil.aml.alerts import Evidence
from vigil.aml.detectors.params import AmlParams
from vigil.money import UnknownCurrencyError, to_usd_cents
from vigil.rules.pack import PACKS_DIR, CompiledPack, context_names
from vigil.rules.registry import RuleRegistry
from vigil.schema.tables import CURRENCY_OF

#: Used where a pack has no ``structuring_band``: the lower edge of "just under" the threshold.
DEFAULT_BAND = 0.8


@dataclass(frozen=True, slots=True)
class Regime:
    """What the detectors read from one compiled pack."""

    pack_version: str
    large_value: int | None  #: reporting threshold in minor units of ``currency``
    currency: str | None  #: the jurisdiction's currency; None: the booking currency
    large_value_usd_cents: int | None  #: the threshold for payments booked in another currency
    structuring_band: float
    params: AmlParams

    @classmethod
    def of(cls, pack: CompiledPack, defaults: AmlParams) -> Regime:
        values = {name: param.value for name, param in pack.params.items()}
        large = values.get("large_value")
        large = (
            int(large) if isinstance(large, int | float) and not isinstance(large, bool) else None
        )
        band = values.get("structuring_band", DEFAULT_BAND)
        band = float(band) if isinstance(band, int | float) and 0 < band < 1 else DEFAULT_BAND
        currency = CURRENCY_OF.get(pack.jurisdiction)
        try:
            large_usd = to_usd_cents(large, currency) if large and currency else None
        except UnknownCurrencyError:
            large_usd = None
        return cls(
            pack_version=pack.version,
            large_value=large,
            currency=currency,
            large_value_usd_cents=large_usd,
            structuring_band=band,
            params=defaults.overridden(values, f"pack {pack.version}"),
        )

    def threshold_share(self, leg: Evidence) -> float | None:
        """The payment as a share of the reporting threshold; None where there is none."""
        if self.large_value is None:
            return None
        if self.currency is None or leg.currency == self.currency:
            return leg.amount / self.large_value
        if self.large_value_usd_cents is None:
            return None
        return leg.usd_cents / self.large_value_usd_cents


class Regimes:
    """Regime lookup by jurisdiction and time, over a live :class:`RuleRegistry`.

    Without a registry the packs shipped with Vigil are loaded, as the engine does at start.
    """

    def __init__(self, registry: RuleRegistry | None = None, defaults: AmlParams | None = None):
        self.registry = registry or RuleRegistry(PACKS_DIR, context_names())
        self.defaults = defaults or AmlParams()
        self._cache: dict[int, tuple[CompiledPack, Regime]] = {}

    def at(self, jurisdiction: str, ts: datetime) -> Regime:
        pack = self.registry.active(jurisdiction, ts)
        hit = self._cache.get(id(pack))
        if hit is not None and hit[0] is pack:
            return hit[1]
        regime = Regime.of(pack, self.defaults)
        self._cache[id(pack)] = (pack, regime)  # the pack is kept, so its id is not reused
        return regime
