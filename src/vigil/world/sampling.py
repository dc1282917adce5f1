"""Random draws every generator shares: local times, money, devices and addresses.

Keeping these in one place is what makes legit traffic and injected fraud indistinguishable
where they should be: a mule's transfer is priced, rounded and timed by the same code as a
salary, so a model can only separate them by behaviour, never by an artefact of the generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vigil.world.config import COUNTRIES, PROXY_OCTETS, LabelDelay, WorldConfig
from vigil.world.events import US_PER_DAY, US_PER_HOUR

#: Device fingerprints are random in [0, DEVICE_SPACE): collisions are negligible and a fresh
#: fingerprint looks like any other, so "new device" can only be learnt from history.
DEVICE_SPACE = 10**15


def component_rng(seed: int, component: int, *extra: int) -> np.random.Generator:
    """One generator per component (and day), so adding a component never shifts the others."""
    return np.random.default_rng([seed, component, *extra])


def lognormal(
    rng: np.random.Generator,
    median: np.ndarray | float,
    sigma: np.ndarray | float,
    size: int,
) -> np.ndarray:
    return np.asarray(median) * np.exp(np.asarray(sigma) * rng.standard_normal(size))


def between(rng: np.random.Generator, bounds: tuple[float, float], size: int) -> np.ndarray:
    return rng.uniform(bounds[0], bounds[1], size)


def counts(rng: np.random.Generator, bounds: tuple[int, int], size: int) -> np.ndarray:
    """Integers in [lo, hi], inclusive, as the config's ranges read."""
    return rng.integers(bounds[0], bounds[1] + 1, size)


class Clock:
    """Draws UTC timestamps that follow local hour-of-day rhythms.

    Each country's profile is rotated by its UTC offset once, so a draw is one ``searchsorted``
    over a flattened table rather than a per-row conversion.
    """

    def __init__(self, cfg: WorldConfig):
        offsets = np.array([cfg.countries[c].utc_offset for c in COUNTRIES])
        self.offset_us = offsets * US_PER_HOUR
        profiles = {
            name: np.asarray(getattr(cfg.rhythm, name), dtype=float)
            for name in ("weekday", "weekend", "business")
        }
        self._tables = {name: self._utc_cdfs(w, offsets) for name, w in profiles.items()}
        self._local = {name: np.cumsum(w) / w.sum() for name, w in profiles.items()}

    @staticmethod
    def _utc_cdfs(local: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        # UTC hour h is local hour (h + offset) % 24; row c + cumulative share makes one
        # increasing array across countries.
        hours = (np.arange(24)[None, :] + offsets[:, None]) % 24
        weights = local[hours]
        cdf = np.cumsum(weights, axis=1) / weights.sum(axis=1, keepdims=True)
        return (cdf + np.arange(len(offsets))[:, None]).ravel()

    def times(
        self,
        rng: np.random.Generator,
        day_start_us: int | np.ndarray,
        country: np.ndarray,
        profile: str,
    ) -> np.ndarray:
        """One timestamp per row inside the UTC day starting at ``day_start_us``."""
        n = len(country)
        flat = self._tables[profile]
        slot = np.searchsorted(flat, rng.random(n) + country, side="right") - country * 24
        slot = np.minimum(slot, 23)
        return day_start_us + slot * US_PER_HOUR + (rng.random(n) * US_PER_HOUR).astype(np.int64)

    def local_hour_start(self, day_start_us: int, country: np.ndarray, hour: np.ndarray | int):
        """UTC instant of ``hour`` local time on the local date of this UTC day."""
        return day_start_us + hour * US_PER_HOUR - self.offset_us[country]

    def redraw_hour(
        self, rng: np.random.Generator, ts: np.ndarray, country: np.ndarray, profile: str
    ) -> np.ndarray:
        """Keep each timestamp's local date but draw its hour from a rhythm, so injected rows
        that have no reason to happen at night do not."""
        midnight = self._midnight(ts, country)
        hour = np.minimum(np.searchsorted(self._local[profile], rng.random(len(ts))), 23)
        return midnight + hour * US_PER_HOUR + (rng.random(len(ts)) * US_PER_HOUR).astype(np.int64)

    def at_night(self, rng: np.random.Generator, ts: np.ndarray, country: np.ndarray):
        """Move timestamps to 00:00-05:59 local time of their local date."""
        midnight = self._midnight(ts, country)
        return midnight + (rng.random(len(ts)) * 6 * US_PER_HOUR).astype(np.int64)

    def waking(self, ts: np.ndarray, country: np.ndarray) -> np.ndarray:
        """Squeeze each local day into 06:00-24:00 so chains of transfers sleep at night.

        The map is monotone and only ever moves a time later (by at most six hours), so a
        chain keeps its order and stays causal.
        """
        midnight = self._midnight(ts, country)
        return midnight + 6 * US_PER_HOUR + (ts - midnight) * 3 // 4

    def next_open(
        self, rng: np.random.Generator, ts: np.ndarray, country: np.ndarray
    ) -> np.ndarray:
        """The first moment at or after ``ts`` that a cash agent is open (07:00-20:00 local)."""
        midnight = self._midnight(ts, country)
        opens, closes = midnight + 7 * US_PER_HOUR, midnight + 20 * US_PER_HOUR
        wait = (rng.random(len(ts)) * 2 * US_PER_HOUR).astype(np.int64)
        return np.where(
            ts < opens,
            opens + wait,
            np.where(ts >= closes, opens + US_PER_DAY + wait, ts),
        )

    def _midnight(self, ts: np.ndarray, country: np.ndarray) -> np.ndarray:
        offset = self.offset_us[country]
        return (ts + offset) // US_PER_DAY * US_PER_DAY - offset


class Money:
    """Converts dollar-denominated behaviour into each country's integer minor units."""

    def __init__(self, cfg: WorldConfig):
        profiles = [cfg.countries[c] for c in COUNTRIES]
        self.usd_rate = np.array([p.usd_rate for p in profiles])
        self.scale = np.array([10.0**p.minor_exp for p in profiles])
        self.quantum = np.array([p.quantum for p in profiles], dtype=np.int64)
        self.note = np.array([p.note for p in profiles], dtype=np.int64)
        self.price_level = np.array([p.price_level for p in profiles])

    def minor_units(self, usd: np.ndarray, country: np.ndarray) -> np.ndarray:
        """Retail rounding: to the country's price quantum, never below one quantum."""
        return self._round(usd, country, self.quantum[country])

    def whole_units(self, usd: np.ndarray, country: np.ndarray, units: float = 1.0):
        """Transfers between people and firms: whole (or ``units``-multiples of) currency."""
        step = np.maximum((self.scale[country] * units).astype(np.int64), 1)
        return self._round(usd, country, step)

    def cash(self, usd: np.ndarray, country: np.ndarray) -> np.ndarray:
        """Cash moves in banknotes."""
        return self._round(usd, country, self.note[country])

    def in_notes(self, minor: np.ndarray, country: np.ndarray) -> np.ndarray:
        """A withdrawal of (at most) a balance already in minor units: whole notes, at least one."""
        note = self.note[country]
        return np.maximum(np.asarray(minor) // note, 1) * note

    def _round(self, usd: np.ndarray, country: np.ndarray, step: np.ndarray) -> np.ndarray:
        minor = np.asarray(usd) * self.usd_rate[country] * self.scale[country]
        return np.maximum(np.rint(minor / step).astype(np.int64), 1) * step

    def to_usd(self, amount: np.ndarray, country: np.ndarray) -> np.ndarray:
        return amount / self.scale[country] / self.usd_rate[country]


def new_devices(rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.integers(0, DEVICE_SPACE, size, dtype=np.int64)


class IpBlocks:
    """IPv4 addresses (as integers) inside each country's consumer blocks."""

    def __init__(self, cfg: WorldConfig):
        octets = [cfg.countries[c].ip_octets for c in COUNTRIES]
        self._sizes = np.array([len(o) for o in octets])
        self._table = np.zeros((len(octets), self._sizes.max()), dtype=np.int64)
        for c, o in enumerate(octets):
            self._table[c, : len(o)] = o

    def draw(self, rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
        pick = (rng.random(len(country)) * self._sizes[country]).astype(np.int64)
        first = self._table[country, pick]
        return (first << 24) | rng.integers(1 << 8, 1 << 24, len(country), dtype=np.int64)


def proxy_ips(rng: np.random.Generator, size: int) -> np.ndarray:
    """Addresses at hosting providers and VPN exits."""
    first = np.asarray(PROXY_OCTETS, dtype=np.int64)[rng.integers(0, len(PROXY_OCTETS), size)]
    return (first << 24) | rng.integers(1 << 8, 1 << 24, size, dtype=np.int64)


def origins(
    rng: np.random.Generator,
    size: int,
    start_us: int,
    days: int,
    span_us: float,
    lead_us: float = 0.0,
) -> np.ndarray:
    """Incident start times that leave room for the whole incident inside the window.

    ``lead_us`` keeps incidents off the first hours so victims have some history first; both
    margins shrink when the window is too short for them.
    """
    window = days * US_PER_DAY
    lead = min(lead_us, max(window - span_us, 0) / 2)
    room = max(window - span_us - lead, 0.0)
    return start_us + (lead + rng.random(size) * room).astype(np.int64)


def label_delays(rng: np.random.Generator, delay: LabelDelay, size: int) -> np.ndarray:
    """Microseconds until a fraud label arrives (chargebacks and investigations are slow)."""
    days = np.clip(lognormal(rng, delay.median_days, delay.sigma, size), delay.lo, delay.hi)
    return (days * US_PER_DAY).astype(np.int64)


@dataclass(frozen=True, slots=True)
class Toolkit:
    """What every injected typology draws with: the world's window, clock, money, addresses."""

    cfg: WorldConfig
    start_us: int
    days: int
    clock: Clock
    money: Money
    ips: IpBlocks

    @classmethod
    def of(cls, cfg: WorldConfig, start_us: int, days: int) -> Toolkit:
        return cls(cfg, start_us, days, Clock(cfg), Money(cfg), IpBlocks(cfg))

    @property
    def end_us(self) -> int:
        return self.start_us + self.days * US_PER_DAY

    def starts(
        self,
        rng: np.random.Generator,
        size: int,
        span_us: float,
        country: np.ndarray,
        lead_us: float = 0.0,
        night_share: float = 0.0,
    ) -> np.ndarray:
        """Incident start times at plausible local hours, a share of them in the small hours.

        The extra margin covers moving a start within its local date and
        :meth:`Clock.waking`, so an incident that fits its span still ends inside the window.
        """
        margin = US_PER_DAY + 6 * US_PER_HOUR
        start = origins(rng, size, self.start_us, self.days, span_us + margin, lead_us)
        start = self.clock.redraw_hour(rng, start, country, "weekday")
        night = rng.random(size) < night_share
        start = np.where(night, self.clock.at_night(rng, start, country), start)
        return np.maximum(start, self.start_us)

    def inside(self, ts: np.ndarray) -> np.ndarray:
        """Clamp redrawn timestamps back into the window."""
        return np.clip(ts, self.start_us, self.end_us - 1)

    def country_weights(self) -> np.ndarray:
        shares = np.array([self.cfg.countries[c].share for c in COUNTRIES])
        return shares / shares.sum()
