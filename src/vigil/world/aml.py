"""Money-laundering typologies: nobody is robbed, but the money's shape gives it away.

Each typology recruits ordinary-looking accounts (smurfs, shell companies, sleepers) who keep
their honest lives, and draws the flows that define it: cash under the reporting threshold,
many-to-one and one-to-many transfers, round trips, same-day pass-through and dormant accounts
waking up with large sums. Amounts are set in US dollars and booked in each payer's currency,
so a flow that crosses a border changes currency on the way, as it would.
"""

from __future__ import annotations

import numpy as np

from vigil.world.config import (
    COUNTRIES,
    Cycle,
    DormantReactivation,
    FanIn,
    FanOut,
    PassThrough,
    Structuring,
    WorldConfig,
)
from vigil.world.events import (
    CASH_IN,
    TRANSFER,
    US_PER_DAY,
    US_PER_HOUR,
    WALLET,
    Events,
    IncidentRows,
    group_max,
    group_of,
    grouped_cumsum,
)
from vigil.world.fraud import cash_out
from vigil.world.population import BUSINESS, Population
from vigil.world.sampling import (
    Toolkit,
    between,
    component_rng,
    counts,
    label_delays,
    lognormal,
    new_devices,
    origins,
    proxy_ips,
)

STRUCTURING, FAN_IN, FAN_OUT, CYCLE, PASS_THROUGH, DORMANT_REACTIVATION = range(40, 46)


def inject_aml(cfg: WorldConfig, pop: Population, seed: int, tk: Toolkit) -> Events:
    """Every laundering incident of the window, time-sorted. Recruits actors from ``pop``."""
    plans = (
        (STRUCTURING, structuring, cfg.structuring),
        (FAN_IN, fan_in, cfg.fan_in),
        (FAN_OUT, fan_out, cfg.fan_out),
        (CYCLE, cycle, cfg.cycle),
        (PASS_THROUGH, pass_through, cfg.pass_through),
        (DORMANT_REACTIVATION, dormant_reactivation, cfg.dormant_reactivation),
    )
    parts = []
    for component, typology, params in plans:
        rng = component_rng(seed, component)
        n = cfg.incidents(params.incidents_per_10k_month, params.min_incidents, len(pop), tk.days)
        parts.append(typology(params, n, pop, tk, rng))
    return Events.concat(parts).sorted()


def _abroad(rng: np.random.Generator, country: np.ndarray, share: float) -> np.ndarray:
    """Keep each country, or with probability ``share`` swap it for a different one."""
    other = (country + rng.integers(1, len(COUNTRIES), len(country))) % len(COUNTRIES)
    return np.where(rng.random(len(country)) < share, other, country)


def _recruit_mixed(
    pop: Population, rng: np.random.Generator, country: np.ndarray, business_share: float
) -> np.ndarray:
    """Persons or companies, as the typology's shell-company share says."""
    company = rng.random(len(country)) < business_share
    out = np.empty(len(country), dtype=np.int64)
    out[company] = pop.recruit(rng, country[company], kind=BUSINESS)
    out[~company] = pop.recruit(rng, country[~company])
    return out


def _home_countries(rng: np.random.Generator, tk: Toolkit, n: int) -> np.ndarray:
    weights = tk.country_weights()
    return rng.choice(len(weights), n, p=weights)


def _channel(rng: np.random.Generator, size: int) -> np.ndarray:
    return np.where(rng.random(size) < 0.7, TRANSFER, WALLET)


def _shares(rng: np.random.Generator, group: np.ndarray, groups: int) -> np.ndarray:
    """Random split of a whole across each group's rows, uneven like real instalments."""
    weight = rng.uniform(0.5, 1.5, len(group))
    return weight / np.bincount(group, weights=weight, minlength=groups)[group]


def structuring(
    t: Structuring, n: int, pop: Population, tk: Toolkit, rng: np.random.Generator
) -> Events:
    """A smurf deposits cash at several agents, each deposit just under the threshold that
    would trigger a report, then moves the total on (often abroad) in one transfer."""
    smurf = pop.recruit(rng, np.full(n, -1))
    home = pop.country[smurf]
    threshold = np.array([t.thresholds[c] for c in COUNTRIES], dtype=np.int64)
    incident, _ = group_of(counts(rng, t.deposits, n))
    span = t.span_days * US_PER_DAY + t.consolidate_hours[1] * US_PER_HOUR
    start = origins(rng, n, tk.start_us, tk.days, span)
    ts = start[incident] + (rng.random(len(incident)) * t.span_days * US_PER_DAY).astype(np.int64)
    ts = tk.inside(tk.clock.redraw_hour(rng, ts, home[incident], "business"))
    branches = pop.merchants(("6011",)).draw(rng, np.repeat(home, t.agents)).reshape(n, t.agents)
    agent = branches[incident, rng.integers(0, t.agents, len(incident))]
    country = home[incident]
    note = tk.money.note[country]
    wanted = threshold[country] * between(rng, t.band, len(incident))
    amount = np.maximum(wanted.astype(np.int64) // note, 1) * note  # whole notes, under the line
    rows = IncidentRows("structuring")
    rows.add(
        incident,
        ts,
        agent,
        smurf[incident],
        amount,
        CASH_IN,
        device=pop.device1[agent],
        ip=pop.ip_home[agent],
        mcc=pop.mcc_code[pop.mcc[agent]],
    )
    total = np.bincount(incident, weights=amount, minlength=n)
    collector = _recruit_mixed(pop, rng, _abroad(rng, home, t.cross_border_share), 0.5)
    when = group_max(ts, incident, n) + (between(rng, t.consolidate_hours, n) * US_PER_HOUR).astype(
        np.int64
    )
    usd = tk.money.to_usd(total * between(rng, t.consolidate_share, n), home)
    rows.add(
        np.arange(n),
        tk.clock.waking(when, home),
        smurf,
        collector,
        tk.money.whole_units(usd, home),
        TRANSFER,
        device=pop.device1[smurf],
        ip=pop.ip_home[smurf],
    )
    return rows.events(label_delays(rng, t.label, n))


def fan_in(t: FanIn, n: int, pop: Population, tk: Toolkit, rng: np.random.Generator) -> Events:
    """Many senders, told what to send, pay one collector within a few days."""
    home = _home_countries(rng, tk, n)
    collector = _recruit_mixed(pop, rng, home, t.business_collector_share)
    incident, _ = group_of(counts(rng, t.senders, n))
    sender = pop.recruit(rng, _abroad(rng, home[incident], t.cross_border_share))
    where = pop.country[sender]
    start = origins(rng, n, tk.start_us, tk.days, t.span_hours * US_PER_HOUR)
    ts = start[incident] + (rng.random(len(incident)) * t.span_hours * US_PER_HOUR).astype(np.int64)
    ts = tk.inside(tk.clock.redraw_hour(rng, ts, where, "weekday"))
    base = lognormal(rng, t.median_usd, 0.3, n)
    usd = lognormal(rng, base[incident], t.sigma, len(incident))
    rounded = rng.random(len(incident)) < t.round_share
    amount = np.where(
        rounded,
        tk.money.whole_units(usd, where, 100.0),
        tk.money.whole_units(usd, where),
    )
    rows = IncidentRows("fan_in")
    rows.add(
        incident,
        ts,
        sender,
        collector[incident],
        amount,
        _channel(rng, len(incident)),
        device=pop.device1[sender],
        ip=pop.ip_home[sender],
    )
    return rows.events(label_delays(rng, t.label, n))


def fan_out(t: FanOut, n: int, pop: Population, tk: Toolkit, rng: np.random.Generator) -> Events:
    """A lump sum arrives from abroad and is split across many receivers within hours."""
    home = _home_countries(rng, tk, n)
    source = _recruit_mixed(pop, rng, home, t.business_source_share)
    funder = pop.recruit(rng, _abroad(rng, home, 1.0))
    start = tk.starts(rng, n, t.split_hours[1] * US_PER_HOUR, home)
    lump = lognormal(rng, t.lump_median_usd, t.lump_sigma, n)
    rows = IncidentRows("fan_out")
    rows.add(
        np.arange(n),
        start,
        funder,
        source,
        tk.money.whole_units(lump, pop.country[funder]),
        TRANSFER,
        device=pop.device1[funder],
        ip=pop.ip_home[funder],
    )
    incident, _ = group_of(counts(rng, t.receivers, n))
    receiver = pop.recruit(rng, _abroad(rng, home[incident], t.cross_border_share))
    usd = lump[incident] * _shares(rng, incident, n) * rng.uniform(0.95, 1.0, len(incident))
    delay = between(rng, t.split_hours, len(incident)) * US_PER_HOUR
    rows.add(
        incident,
        tk.clock.waking(start[incident] + delay.astype(np.int64), home[incident]),
        source[incident],
        receiver,
        tk.money.whole_units(usd, home[incident]),
        _channel(rng, len(incident)),
        device=pop.device1[source[incident]],
        ip=pop.ip_home[source[incident]],
    )
    return rows.events(label_delays(rng, t.label, n))


def cycle(t: Cycle, n: int, pop: Population, tk: Toolkit, rng: np.random.Generator) -> Events:
    """Round-tripping: each account pays the next, minus a small fee, and the last pays the
    origin back, so the money ends where it started with a clean-looking history."""
    length = counts(rng, t.length, n)
    incident, rank = group_of(length)
    home = _home_countries(rng, tk, n)
    origin = rank == 0
    node = np.empty(len(incident), dtype=np.int64)
    node[origin] = _recruit_mixed(pop, rng, home, 0.5)
    hops = ~origin
    node[hops] = pop.recruit(rng, _abroad(rng, home[incident[hops]], t.cross_border_share))
    first = np.flatnonzero(origin)
    payee = np.where(rank == length[incident] - 1, first[incident], np.arange(len(node)) + 1)
    start = tk.starts(rng, n, t.length[1] * t.hop_hours[1] * US_PER_HOUR, home)
    delay = (between(rng, t.hop_hours, len(node)) * US_PER_HOUR).astype(np.int64)
    ts = tk.clock.waking(start[incident] + grouped_cumsum(delay, incident), home[incident])
    kept = np.exp(grouped_cumsum(np.log1p(-between(rng, t.fee, len(node))), incident))
    usd = lognormal(rng, t.median_usd, t.sigma, n)[incident] * kept
    rows = IncidentRows("cycle")
    rows.add(
        incident,
        ts,
        node,
        node[payee],
        tk.money.whole_units(usd, pop.country[node]),
        TRANSFER,
        device=pop.device1[node],
        ip=pop.ip_home[node],
    )
    return rows.events(label_delays(rng, t.label, n))


def pass_through(
    t: PassThrough, n: int, pop: Population, tk: Toolkit, rng: np.random.Generator
) -> Events:
    """Money lands and leaves within hours, minus a small cut: the account is a conduit."""
    home = _home_countries(rng, tk, n)
    middle = pop.recruit(rng, home)
    into, _ = group_of(counts(rng, t.inflows, n))
    out, _ = group_of(counts(rng, t.outflows, n))
    source = pop.recruit(rng, _abroad(rng, home[into], t.cross_border_share))
    target = pop.recruit(rng, _abroad(rng, home[out], t.cross_border_share))
    hold = between(rng, t.hold_hours, n) * US_PER_HOUR
    start = tk.starts(rng, n, t.hold_hours[1] * US_PER_HOUR, home)
    total = lognormal(rng, t.median_usd, t.sigma, n)
    passed = total * (1 - between(rng, t.retention, n))
    rows = IncidentRows("pass_through")
    rows.add(
        into,
        tk.clock.waking(
            start[into] + (rng.uniform(0.0, 0.3, len(into)) * hold[into]).astype(np.int64),
            home[into],
        ),
        source,
        middle[into],
        tk.money.whole_units(total[into] * _shares(rng, into, n), pop.country[source]),
        _channel(rng, len(into)),
        device=pop.device1[source],
        ip=pop.ip_home[source],
    )
    rows.add(
        out,
        tk.clock.waking(
            start[out] + (rng.uniform(0.5, 1.0, len(out)) * hold[out]).astype(np.int64),
            home[out],
        ),
        middle[out],
        target,
        tk.money.whole_units(passed[out] * _shares(rng, out, n), home[out]),
        _channel(rng, len(out)),
        device=pop.device1[middle[out]],
        ip=pop.ip_home[middle[out]],
    )
    return rows.events(label_delays(rng, t.label, n))


def dormant_reactivation(
    t: DormantReactivation, n: int, pop: Population, tk: Toolkit, rng: np.random.Generator
) -> Events:
    """An account silent for over a year is taken over by a new controller (new phone, new
    address), receives large sums, and empties itself within a day or two."""
    sleeper = pop.recruit(
        rng, np.full(n, -1), dormant=True, min_age_days=tk.cfg.population.dormant_min_age_days
    )
    home = pop.country[sleeper]
    device = new_devices(rng, n)
    ip = np.where(rng.random(n) < 0.5, proxy_ips(rng, n), tk.ips.draw(rng, home))
    start = tk.starts(rng, n, (t.out_hours[1] + 2) * US_PER_HOUR, home, 2 * US_PER_DAY)
    into, _ = group_of(counts(rng, t.inflows, n))
    source = _recruit_mixed(pop, rng, _abroad(rng, home[into], t.foreign_source_share), 0.3)
    usd_in = lognormal(rng, t.median_usd, t.sigma, len(into))
    rows = IncidentRows("dormant_reactivation")
    arrived = start[into] + (rng.random(len(into)) * 2 * US_PER_HOUR).astype(np.int64)
    arrived = tk.clock.waking(arrived, home[into])
    rows.add(
        into,
        arrived,
        source,
        sleeper[into],
        tk.money.whole_units(usd_in, pop.country[source]),
        TRANSFER,
        device=pop.device1[source],
        ip=pop.ip_home[source],
    )
    out, _ = group_of(counts(rng, t.outflows, n))
    total = np.bincount(into, weights=usd_in, minlength=n)
    usd_out = (total * rng.uniform(0.9, 1.0, n))[out] * _shares(rng, out, n)
    when = start[out] + (between(rng, t.out_hours, len(out)) * US_PER_HOUR).astype(np.int64)
    when = tk.clock.waking(when, home[out])
    when = np.maximum(when, group_max(arrived, into, n)[out] + US_PER_HOUR // 6)
    cash = rng.random(len(out)) < t.cash_out_share
    wire = ~cash
    target = pop.recruit(rng, _abroad(rng, home[out[wire]], 0.5))
    rows.add(
        out[wire],
        when[wire],
        sleeper[out[wire]],
        target,
        tk.money.whole_units(usd_out[wire], home[out[wire]]),
        _channel(rng, wire.sum()),
        device=device[out[wire]],
        ip=ip[out[wire]],
    )
    minor = tk.money.whole_units(usd_out[cash], home[out[cash]])
    cash_out(rows, pop, tk, out[cash], when[cash], sleeper[out[cash]], minor, rng)
    return rows.events(label_delays(rng, t.label, n))
