"""Legitimate traffic, one UTC day at a time, vectorised over accounts.

Each kind of honest payment is a small function that turns per-account rates into events for
the day. The few things that change over time (who is abroad, who has a new phone) live in
:class:`LegitTraffic` and are advanced day by day, so a world of any length is generated in
constant memory. Several honest behaviours are deliberately suspicious-looking: travel (foreign
merchants, a new IP), new phones (a new device id), payday bursts, one-off big purchases,
salary batches (one business paying many) and remittances (regular cross-border transfers).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from vigil.world.config import COUNTRIES, WorldConfig
from vigil.world.events import (
    CARD,
    CASH_IN,
    CASH_OUT,
    NONE,
    QR,
    TRANSFER,
    US_PER_DAY,
    US_PER_HOUR,
    US_PER_SECOND,
    WALLET,
    Events,
)
from vigil.world.population import (
    DORMANT,
    MERCHANT,
    NORMAL,
    PERSON,
    AccountSampler,
    Population,
)
from vigil.world.sampling import (
    Clock,
    IpBlocks,
    Money,
    component_rng,
    counts,
    lognormal,
    new_devices,
)

# Component ids for the per-day generators; fixed so that adding one never shifts another.
LIFECYCLE, SPEND, P2P, BILLS, SALARY, REMITTANCE, B2B, CASH, MARKETPLACE = range(10, 19)


@dataclass(frozen=True, slots=True)
class Day:
    """Calendar facts of one UTC day, read at noon UTC (the same local date in every
    country of the world, all of which are UTC+7 or UTC+8)."""

    index: int
    start_us: int
    day_of_month: int
    days_in_month: int
    weekend: bool

    @classmethod
    def of(cls, start_us: int, index: int) -> Day:
        day_start = start_us + index * US_PER_DAY
        noon = datetime.fromtimestamp((day_start + 12 * US_PER_HOUR) / 1e6, tz=UTC)
        return cls(
            index=index,
            start_us=day_start,
            day_of_month=noon.day,
            days_in_month=calendar.monthrange(noon.year, noon.month)[1],
            weekend=noon.weekday() >= 5,
        )

    @property
    def rhythm(self) -> str:
        return "weekend" if self.weekend else "weekday"


def _pick(rng: np.random.Generator, options: tuple[int, ...], weights: np.ndarray, size: int):
    cum = np.cumsum(weights, axis=-1)
    cum = cum / cum[..., -1:]
    if cum.ndim == 1:
        return np.asarray(options, dtype=np.int8)[np.searchsorted(cum, rng.random(size))]
    chosen = (rng.random(size)[:, None] > cum).sum(axis=1)
    return np.asarray(options, dtype=np.int8)[np.minimum(chosen, len(options) - 1)]


class LegitTraffic:
    """The honest world, advanced one day per call to :meth:`day`."""

    def __init__(self, cfg: WorldConfig, population: Population, seed: int):
        self.cfg = cfg
        self.pop = population
        self.seed = seed
        self.clock = Clock(cfg)
        self.money = Money(cfg)
        self.ips = IpBlocks(cfg)
        pop = population
        self.persons = np.flatnonzero(pop.kind == PERSON)
        codes = [m.code for m in cfg.mccs]
        agent = codes.index("6011")
        self.firms = np.flatnonzero((pop.kind != PERSON) & (pop.mcc != agent))
        self.shops = np.flatnonzero((pop.kind == MERCHANT) & (pop.mcc != agent))
        self.everyday = pop.merchants(pop.codes_of_group("shop", "online", "big"))
        self.big = pop.merchants(pop.codes_of_group("big"))
        self.hotels = pop.merchants(("7011",))
        self.agents = pop.merchants(("6011",))
        self.channel_mix = np.array([cfg.countries[c].channel_mix for c in COUNTRIES])
        self.location = pop.country.copy()
        self.trip_until = np.full(len(pop), NONE, dtype=np.int64)
        self.trip_ip = np.full(len(pop), NONE, dtype=np.int64)
        self.device = pop.device1.copy()
        self.checked_in = np.empty(0, dtype=np.int64)
        destinations = cfg.legit.destinations
        self.destination_codes = np.array([COUNTRIES.index(c) for c, _ in destinations])
        self.destination_weights = np.array([w for _, w in destinations])
        self.sellers = None
        if cfg.legit.marketplace_per_day > 0:
            rng = component_rng(seed, MARKETPLACE)
            sellers = self.persons[rng.random(len(self.persons)) < cfg.legit.marketplace_sellers]
            self.sellers = AccountSampler(sellers, np.ones(len(sellers)), pop.country)

    def day(self, index: int) -> Events:
        day = Day.of(self.pop.start_us, index)
        self._advance_lives(day)
        events = Events.concat(
            [
                self._spend(day),
                self._p2p(day),
                self._bills(day),
                self._salaries(day),
                self._remittances(day),
                self._b2b(day),
                self._cash(day),
                *([] if self.sellers is None else [self._marketplace(day)]),
            ]
        )
        # Nobody pays before their account exists or while it lies dormant.
        active = self.pop.active_from
        alive = (active[events.payer] <= events.ts) & (active[events.payee] <= events.ts)
        events = events.take(np.flatnonzero(alive))
        events.label_ts = events.ts + int(self.cfg.legit_label_days * US_PER_DAY)
        return events

    def _rng(self, component: int, day: Day) -> np.random.Generator:
        return component_rng(self.seed, component, day.index)

    def _living(self, day: Day) -> np.ndarray:
        """Persons whose account is open and awake at some point today."""
        return self.persons[self.pop.active_from[self.persons] < day.start_us + US_PER_DAY]

    # --- state that changes over time -------------------------------------------------------

    def _advance_lives(self, day: Day) -> None:
        """Trips end and begin, phones get replaced."""
        rng = self._rng(LIFECYCLE, day)
        lc = self.cfg.legit
        pop = self.pop
        back = self.persons[
            (self.trip_until[self.persons] >= 0) & (self.trip_until[self.persons] <= day.index)
        ]
        self.location[back] = pop.country[back]
        self.trip_until[back] = NONE
        # People playing a part in an injected typology stay home on their usual phone, so
        # their own rows there never contradict their honest ones.
        settled = self.persons[np.isin(pop.role[self.persons], (NORMAL, DORMANT))]
        home = settled[self.trip_until[settled] < 0]
        leaving = home[rng.random(len(home)) < lc.trip_start_per_day]
        pick = rng.choice(
            len(self.destination_codes),
            len(leaving),
            p=self.destination_weights / self.destination_weights.sum(),
        )
        dest = self.destination_codes[pick]
        same = dest == pop.country[leaving]
        dest[same] = (dest[same] + 1 + rng.integers(0, len(COUNTRIES) - 1, same.sum())) % len(
            COUNTRIES
        )
        self.location[leaving] = dest
        self.trip_until[leaving] = day.index + counts(rng, lc.trip_days, len(leaving))
        self.trip_ip[leaving] = self.ips.draw(rng, dest)
        self.checked_in = leaving
        upgrading = settled[rng.random(len(settled)) < lc.new_phone_per_day]
        self.device[upgrading] = new_devices(rng, len(upgrading))

    def _session(
        self, rng: np.random.Generator, payer: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Device and address of a person's own session: usually the main phone, at home or on
        the carrier's shared address; abroad, the hotel or roaming address of the trip."""
        pop = self.pop
        second = pop.device2[payer]
        use_second = (second >= 0) & (rng.random(len(payer)) < 0.15)
        device = np.where(use_second, second, self.device[payer])
        ip = np.where(rng.random(len(payer)) < 0.5, pop.ip_home[payer], pop.ip_mobile[payer])
        away = self.location[payer] != pop.country[payer]
        return device, np.where(away, self.trip_ip[payer], ip)

    def _paid_recently(self, persons: np.ndarray, day: Day) -> np.ndarray:
        employer = self.pop.employer[persons]
        payday = np.minimum(self.pop.payday[np.maximum(employer, 0)], day.days_in_month)
        since = (day.day_of_month - payday) % day.days_in_month
        return (employer >= 0) & (since < self.cfg.legit.payday_boost_days)

    # --- payment kinds ---------------------------------------------------------------------

    def _spend(self, day: Day) -> Events:
        """Card, wallet and QR purchases: favourites at home, whatever is near when abroad,
        plus hotel check-ins and the occasional big-ticket item."""
        rng = self._rng(SPEND, day)
        lc = self.cfg.legit
        pop = self.pop
        persons = self._living(day)
        away = self.location[persons] != pop.country[persons]
        rate = lc.spend_per_day * pop.activity[persons]
        rate *= np.where(self._paid_recently(persons, day), 1 + lc.payday_boost, 1.0)
        rate *= np.where(away, lc.travel_spend_mult, 1.0)
        if day.weekend:
            rate *= lc.weekend_spend_mult
        payer = np.repeat(persons, rng.poisson(rate))
        where = self.location[payer]
        abroad = where != pop.country[payer]
        favourite = pop.favourites[payer, rng.integers(0, pop.favourites.shape[1], len(payer))]
        local_pick = (rng.random(len(payer)) < lc.favourite_share) & ~abroad
        merchant = np.where(local_pick, favourite, self.everyday.draw(rng, where))
        kind = pop.mcc[merchant]
        usd = pop.tickets_usd(rng, merchant, self.money.price_level)
        channel = _pick(
            rng, (CARD, WALLET, QR), self.channel_mix[pop.country[merchant]], len(payer)
        )
        channel[abroad] = np.where(rng.random(abroad.sum()) < 0.8, CARD, WALLET)
        device, ip = self._session(rng, payer)
        parts = [
            Events.make(
                ts=self.clock.times(rng, day.start_us, pop.country[payer], day.rhythm),
                payer=payer,
                payee=merchant,
                amount=self.money.minor_units(usd, pop.country[payer]),
                channel=channel,
                device=device,
                ip=ip,
                mcc=pop.mcc_code[kind],
            )
        ]
        for payer, merchant, usd in (self._hotels(rng, day), self._big_tickets(rng, persons)):
            device, ip = self._session(rng, payer)
            parts.append(
                Events.make(
                    ts=self.clock.times(rng, day.start_us, pop.country[payer], day.rhythm),
                    payer=payer,
                    payee=merchant,
                    amount=self.money.minor_units(usd, pop.country[payer]),
                    channel=np.where(rng.random(len(payer)) < 0.75, CARD, WALLET),
                    device=device,
                    ip=ip,
                    mcc=pop.mcc_code[pop.mcc[merchant]],
                )
            )
        return Events.concat(parts)

    def _hotels(self, rng: np.random.Generator, day: Day):
        lc = self.cfg.legit
        guests = self.checked_in[self.pop.active_from[self.checked_in] <= day.start_us]
        where = self.location[guests]
        nights = self.trip_until[guests] - day.index
        hotel = self.hotels.draw(rng, where)
        usd = lognormal(rng, lc.hotel_night_usd * self.money.price_level[where], 0.3, len(guests))
        return guests, hotel, usd * nights

    def _big_tickets(self, rng: np.random.Generator, persons: np.ndarray):
        """One-off large purchases (a laptop, a ring, a sofa, a holiday): honest outliers."""
        lc = self.cfg.legit
        buyers = persons[rng.random(len(persons)) < lc.big_ticket_per_day]
        where = self.location[buyers]
        store = self.big.draw(rng, where)
        level = self.money.price_level[where]
        return (
            buyers,
            store,
            lognormal(rng, lc.big_ticket_median_usd * level, lc.big_ticket_sigma, len(buyers)),
        )

    def _p2p(self, day: Day) -> Events:
        """Transfers inside friends-and-family circles: splitting bills, gifts, loans."""
        rng = self._rng(P2P, day)
        lc = self.cfg.legit
        pop = self.pop
        persons = self._living(day)
        payer = np.repeat(persons, rng.poisson(lc.p2p_per_day * np.sqrt(pop.activity[persons])))
        start, size, position = pop.circle[payer].T
        payer, start, size, position = (a[size >= 2] for a in (payer, start, size, position))
        hop = 1 + rng.integers(0, np.maximum(size - 1, 1))
        payee = pop.circle_members[start + (position - start + hop) % size]
        home = pop.country[payer]
        usd = lognormal(
            rng, lc.p2p_median_usd * self.money.price_level[home], lc.p2p_sigma, len(payer)
        )
        units = np.where(rng.random(len(payer)) < 0.5, 10.0, 1.0)
        device, ip = self._session(rng, payer)
        return Events.make(
            ts=self.clock.times(rng, day.start_us, home, day.rhythm),
            payer=payer,
            payee=payee,
            amount=self.money.whole_units(usd, home, units),
            channel=np.where(rng.random(len(payer)) < 0.6, WALLET, TRANSFER),
            device=device,
            ip=ip,
        )

    def _marketplace(self, day: Day) -> Events:
        """Transfers to strangers in the same country: a second-hand sale, a deposit, a
        tradesperson. Sellers are a fixed few who receive from many people they never paid
        before, as a scam's mule does (off by default: ``LegitConfig.marketplace_per_day``)."""
        rng = self._rng(MARKETPLACE, day)
        lc = self.cfg.legit
        persons = self._living(day)
        payer = persons[rng.random(len(persons)) < lc.marketplace_per_day]
        home = self.pop.country[payer]
        payee = self.sellers.draw(rng, home)
        payer, payee, home = (a[payer != payee] for a in (payer, payee, home))
        usd = lognormal(
            rng,
            lc.marketplace_median_usd * self.money.price_level[home],
            lc.marketplace_sigma,
            len(payer),
        )
        device, ip = self._session(rng, payer)
        return Events.make(
            ts=self.clock.times(rng, day.start_us, home, day.rhythm),
            payer=payer,
            payee=payee,
            amount=self.money.whole_units(usd, home),
            channel=np.where(rng.random(len(payer)) < 0.6, TRANSFER, WALLET),
            device=device,
            ip=ip,
        )

    def _bills(self, day: Day) -> Events:
        """Monthly utility and phone bills on each person's billing day."""
        rng = self._rng(BILLS, day)
        pop = self.pop
        persons = self._living(day)
        payer = persons[pop.bill_day[persons] == day.day_of_month]
        payer = np.concatenate([payer, payer])
        half = len(payer) // 2
        merchant = np.concatenate([pop.utility[payer[:half]], pop.telecom[payer[half:]]])
        usd = np.concatenate(
            [
                pop.utility_usd[payer[:half]] * lognormal(rng, 1.0, 0.15, half),
                pop.telecom_usd[payer[half:]],
            ]
        )
        home = pop.country[payer]
        device, _ = self._session(rng, payer)
        return Events.make(
            ts=self.clock.times(rng, day.start_us, home, day.rhythm),
            payer=payer,
            payee=merchant,
            amount=self.money.minor_units(usd, home),
            channel=_pick(rng, (TRANSFER, CARD, WALLET), np.array([0.5, 0.3, 0.2]), len(payer)),
            device=device,
            ip=pop.ip_home[payer],
            mcc=pop.mcc_code[pop.mcc[merchant]],
        )

    def _salaries(self, day: Day) -> Events:
        """Payroll: each employer pays all its staff in one batch on its payday, a legit
        one-to-many burst that fan-out detection must not confuse with laundering."""
        rng = self._rng(SALARY, day)
        pop = self.pop
        persons = self._living(day)
        employee = persons[pop.employer[persons] >= 0]
        employer = pop.employer[employee]
        pays = np.minimum(pop.payday[employer], day.days_in_month) == day.day_of_month
        employee, employer = employee[pays], employer[pays]
        # Each employer's batch runs once, sometime between 09:00 and 12:00 local time.
        batch_offset = (rng.random(len(pop)) * 3 * US_PER_HOUR).astype(np.int64)[employer]
        batch = self.clock.local_hour_start(day.start_us, pop.country[employer], 9) + batch_offset
        spread = (rng.random(len(employee)) * 600 * US_PER_SECOND).astype(np.int64)
        home = pop.country[employer]
        usd = pop.salary_usd[employee] * lognormal(rng, 1.0, 0.03, len(employee))
        return Events.make(
            ts=batch + spread,
            payer=employer,
            payee=employee,
            amount=self.money.whole_units(usd, home),
            channel=TRANSFER,
            device=pop.device1[employer],
            ip=pop.ip_home[employer],
        )

    def _remittances(self, day: Day) -> Events:
        """Migrant workers send part of their salary home two days after payday."""
        rng = self._rng(REMITTANCE, day)
        pop = self.pop
        persons = self._living(day)
        sender = persons[pop.remit_to[persons] >= 0]
        payday = pop.payday[pop.employer[sender]]
        sender = sender[np.minimum(payday + 2, day.days_in_month) == day.day_of_month]
        home = pop.country[sender]
        usd = (
            pop.salary_usd[sender]
            * pop.remit_share[sender]
            * lognormal(rng, 1.0, 0.05, len(sender))
        )
        device, ip = self._session(rng, sender)
        return Events.make(
            ts=self.clock.times(rng, day.start_us, home, day.rhythm),
            payer=sender,
            payee=pop.remit_to[sender],
            amount=self.money.whole_units(usd, home, 10.0),
            channel=np.where(rng.random(len(sender)) < 0.5, TRANSFER, WALLET),
            device=device,
            ip=ip,
        )

    def _b2b(self, day: Day) -> Events:
        """Invoices paid to regular suppliers on working days, in office hours."""
        if day.weekend:
            return Events.empty()
        rng = self._rng(B2B, day)
        lc = self.cfg.legit
        pop = self.pop
        payer = np.repeat(self.firms, rng.poisson(lc.b2b_per_weekday * pop.activity[self.firms]))
        payee = pop.suppliers[payer, rng.integers(0, pop.suppliers.shape[1], len(payer))]
        payer, payee = payer[payee >= 0], payee[payee >= 0]
        home = pop.country[payer]
        median = lc.b2b_median_usd * self.money.price_level[home] * np.sqrt(pop.activity[payer])
        units = np.where(rng.random(len(payer)) < 0.3, 100.0, 1.0)
        return Events.make(
            ts=self.clock.times(rng, day.start_us, home, "business"),
            payer=payer,
            payee=payee,
            amount=self.money.whole_units(
                lognormal(rng, median, lc.b2b_sigma, len(payer)), home, units
            ),
            channel=TRANSFER,
            device=pop.device1[payer],
            ip=pop.ip_home[payer],
        )

    def _cash(self, day: Day) -> Events:
        """Withdrawals and deposits at agents, including shops banking their takings; the
        shops' large deposits are the honest neighbours of structuring."""
        rng = self._rng(CASH, day)
        lc = self.cfg.legit
        pop = self.pop
        persons = self._living(day)
        out = persons[rng.random(len(persons)) < lc.cash_out_per_day]
        into = persons[rng.random(len(persons)) < lc.cash_in_per_day]
        into = into[self.location[into] == pop.country[into]]
        shops = self.shops
        if not day.weekend:
            shops = shops[
                rng.random(len(shops)) < lc.merchant_cash_in_per_day * np.sqrt(pop.activity[shops])
            ]
        else:
            shops = shops[:0]
        agent_out = self.agents.draw(rng, self.location[out])
        agent_in = self.agents.draw(rng, pop.country[into])
        agent_shop = self.agents.draw(rng, pop.country[shops])
        level = self.money.price_level
        usd_out = lognormal(rng, lc.cash_median_usd * level[self.location[out]], 0.6, len(out))
        usd_in = lognormal(rng, 2 * lc.cash_median_usd * level[pop.country[into]], 0.7, len(into))
        usd_shop = lognormal(
            rng,
            lc.merchant_cash_median_usd * level[pop.country[shops]],
            lc.merchant_cash_sigma,
            len(shops),
        )
        payer = np.concatenate([out, agent_in, agent_shop])
        payee = np.concatenate([agent_out, into, shops])
        agent = np.concatenate([agent_out, agent_in, agent_shop])
        usd = np.concatenate([usd_out, usd_in, usd_shop])
        channel = np.repeat(
            np.array([CASH_OUT, CASH_IN, CASH_IN]), [len(out), len(into), len(shops)]
        )
        # Amounts are in the payer's currency; a withdrawal abroad is converted, not in notes.
        currency = pop.country[payer]
        amount = np.where(
            currency == pop.country[agent],
            self.money.cash(usd, currency),
            self.money.minor_units(usd, currency),
        )
        return Events.make(
            ts=self.clock.times(rng, day.start_us, pop.country[agent], "business"),
            payer=payer,
            payee=payee,
            amount=amount,
            channel=channel,
            device=pop.device1[agent],
            ip=pop.ip_home[agent],
            mcc=pop.mcc_code[pop.mcc[agent]],
        )
