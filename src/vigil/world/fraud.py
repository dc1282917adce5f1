"""Fraud typologies: someone loses money they did not mean to lose.

Each typology is one function that recruits its actors from the population, places its
incidents in the window and returns labelled rows. Victims keep their normal lives, so their
honest traffic surrounds the fraud; accounts opened for fraud (mules, synthetic identities)
get a creation date shortly before their first use, as real ones do.
"""

from __future__ import annotations

import numpy as np

from vigil.world.config import (
    AccountTakeover,
    CardTesting,
    FirstParty,
    MerchantCollusion,
    MuleRing,
    SyntheticIdentity,
    WorldConfig,
)
from vigil.world.crews import Gang
from vigil.world.events import (
    CARD,
    CASH_IN,
    CASH_OUT,
    QR,
    TRANSFER,
    US_PER_DAY,
    US_PER_HOUR,
    US_PER_SECOND,
    WALLET,
    Events,
    IncidentRows,
    group_max,
    group_of,
    grouped_cumsum,
)
from vigil.world.population import MERCHANT, Population
from vigil.world.sampling import (
    Toolkit,
    between,
    component_rng,
    counts,
    label_delays,
    lognormal,
    new_devices,
    proxy_ips,
)

# Component ids, fixed so that adding a typology never reshuffles another.
ACCOUNT_TAKEOVER, CARD_TESTING, MULE_RING, SYNTHETIC_IDENTITY, FIRST_PARTY = range(30, 35)
MERCHANT_COLLUSION = 35
_MINUTE = 60 * US_PER_SECOND


def inject_fraud(cfg: WorldConfig, pop: Population, seed: int, tk: Toolkit) -> Events:
    """Every fraud incident of the window, time-sorted. Recruits actors from ``pop``."""
    plans = (
        (ACCOUNT_TAKEOVER, account_takeover, cfg.account_takeover),
        (CARD_TESTING, card_testing, cfg.card_testing),
        (MULE_RING, mule_ring, cfg.mule_ring),
        (SYNTHETIC_IDENTITY, synthetic_identity, cfg.synthetic_identity),
        (FIRST_PARTY, first_party, cfg.first_party),
        (MERCHANT_COLLUSION, merchant_collusion, cfg.merchant_collusion),
    )
    parts = []
    for component, typology, params in plans:
        if params is None:  # a typology this world leaves out
            continue
        rng = component_rng(seed, component)
        n = cfg.incidents(params.incidents_per_10k_month, params.min_incidents, len(pop), tk.days)
        parts.append(typology(params, n, pop, tk, rng))
    return Events.concat(parts).sorted()


def _channel(rng: np.random.Generator, size: int, transfer_share: float = 0.6) -> np.ndarray:
    return np.where(rng.random(size) < transfer_share, TRANSFER, WALLET)


def _open_before(
    pop: Population,
    rng: np.random.Generator,
    accounts: np.ndarray,
    events: Events,
    age_days: tuple[float, float],
    kyc: np.ndarray,
) -> None:
    """Date fraud-opened accounts a little before their first payment."""
    first = np.full(len(pop), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, events.payer, events.ts)
    np.minimum.at(first, events.payee, events.ts)
    age = (between(rng, age_days, len(accounts)) * US_PER_DAY).astype(np.int64)
    pop.open_accounts(accounts, first[accounts] - age, kyc)


def cash_out(
    rows: IncidentRows,
    pop: Population,
    tk: Toolkit,
    incident: np.ndarray,
    ts: np.ndarray,
    holder: np.ndarray,
    minor: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """Withdrawals at a local agent, on the agent's terminal like any honest withdrawal, so a
    withdrawal says nothing about who makes it; AML typologies withdraw the same way."""
    country = pop.country[holder]
    agent = pop.merchants(("6011",)).draw(rng, country)
    rows.add(
        incident,
        tk.clock.next_open(rng, ts, country),
        holder,
        agent,
        tk.money.in_notes(minor, country),
        CASH_OUT,
        device=pop.device1[agent],
        ip=pop.ip_home[agent],
        mcc=pop.mcc_code[pop.mcc[agent]],
    )


def account_takeover(
    t: AccountTakeover, n: int, pop: Population, tk: Toolkit, rng: np.random.Generator
) -> Events:
    """New device and address log in, drain the victim to fresh mules, who withdraw cash.

    With a crew (:mod:`vigil.world.crews`) the session is one of the crew's phones, or, for
    ``own_device_share`` of the takeovers, remote-access malware on the victim's own phone at
    home; the mules are rented accounts of customers who keep their lives, checked from the
    crew's phones before their first use."""
    gang = None if t.crew is None else Gang.of(t.crew, n, tk, rng)
    victim = pop.recruit(rng, np.full(n, -1) if gang is None else gang.incident_country)
    home = pop.country[victim]
    drains = counts(rng, t.drains, n)
    span = t.drains[1] * t.drain_gap_minutes[1] * _MINUTE + t.cash_out_hours[1] * US_PER_HOUR
    start = tk.starts(rng, n, span, home, US_PER_DAY, t.night_share)
    if gang is None:
        device = new_devices(rng, n)
        ip = np.where(rng.random(n) < t.proxy_share, proxy_ips(rng, n), tk.ips.draw(rng, home))
    else:
        device, ip = gang.sessions(rng, np.arange(n), np.zeros(n, np.int64), np.ones(n, np.int64))
        ip = np.where(rng.random(n) < t.proxy_share, proxy_ips(rng, n), ip)
        malware = rng.random(n) < t.own_device_share
        device = np.where(malware, pop.device1[victim], device)
        ip = np.where(malware, pop.ip_home[victim], ip)
    n_mules = np.minimum(counts(rng, t.mules, n), drains)
    mules = pop.recruit(rng, np.repeat(home, n_mules), fresh=gang is None)
    mule_incident, _ = group_of(n_mules)
    first_mule = np.cumsum(n_mules) - n_mules

    rows = IncidentRows("account_takeover")
    incident, rank = group_of(drains)
    gap = (between(rng, t.drain_gap_minutes, len(incident)) * _MINUTE).astype(np.int64)
    ts = start[incident] + grouped_cumsum(gap, incident)
    slot = first_mule[incident] + rank % n_mules[incident]
    usd = lognormal(
        rng, t.drain_median_usd * tk.money.price_level[home[incident]], t.drain_sigma, len(incident)
    )
    amount = tk.money.whole_units(usd, home[incident])
    rows.add(
        incident,
        ts,
        victim[incident],
        mules[slot],
        amount,
        _channel(rng, len(ts)),
        device=device[incident],
        ip=ip[incident],
    )

    received = np.bincount(slot, weights=amount, minlength=len(mules))
    last = group_max(ts, incident, n)[mule_incident]
    when = last + (between(rng, t.cash_out_hours, len(mules)) * US_PER_HOUR).astype(np.int64)
    kept = (received * rng.uniform(0.9, 1.0, len(mules))).astype(np.int64)
    cash_out(rows, pop, tk, mule_incident, when, mules, kept, rng)
    if gang is not None:
        first_paid = np.full(len(mules), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first_paid, slot, ts)
        gang.check(rows, pop, tk, rng, mule_incident, mules, first_paid)
        return rows.events(label_delays(rng, t.label, n))
    events = rows.events(label_delays(rng, t.label, n))
    _open_before(pop, rng, mules, events, t.mule_age_days, rng.integers(0, 2, len(mules)))
    return events


def card_testing(
    t: CardTesting, n: int, pop: Population, tk: Toolkit, rng: np.random.Generator
) -> Events:
    """Tiny online charges to see whether a stolen card works, then a big purchase."""
    victim = pop.recruit(rng, np.full(n, -1))
    home = pop.country[victim]
    where = np.where(rng.random(n) < t.foreign_merchant_share, -1, home)
    span = (
        t.tests[1] * t.test_gap_seconds[1] * US_PER_SECOND
        + (t.cash_out_delay_minutes[1] + 10 * t.cash_outs[1]) * _MINUTE
    )
    start = tk.starts(rng, n, span, home, US_PER_DAY, t.night_share)
    device = new_devices(rng, n)
    ip = proxy_ips(rng, n)
    online = pop.merchants(pop.codes_of_group("online"))
    merchants = np.stack([online.draw(rng, where), online.draw(rng, where)], axis=1)
    rows = IncidentRows("card_testing")

    incident, _ = group_of(counts(rng, t.tests, n))
    gap = (between(rng, t.test_gap_seconds, len(incident)) * US_PER_SECOND).astype(np.int64)
    ts = start[incident] + grouped_cumsum(gap, incident)
    merchant = merchants[incident, rng.integers(0, 2, len(incident))]
    amount = tk.money.minor_units(between(rng, t.test_usd, len(incident)), home[incident])
    rows.add(
        incident,
        ts,
        victim[incident],
        merchant,
        amount,
        CARD,
        device=device[incident],
        ip=ip[incident],
        mcc=pop.mcc_code[pop.mcc[merchant]],
    )

    last = group_max(ts, incident, n)
    big_incident, _ = group_of(counts(rng, t.cash_outs, n))
    delay = between(rng, t.cash_out_delay_minutes, len(big_incident)) * _MINUTE
    step = grouped_cumsum(between(rng, (1.0, 10.0), len(big_incident)) * _MINUTE, big_incident)
    when = last[big_incident] + (delay + step).astype(np.int64)
    store = pop.merchants(pop.codes_of_group("big")).draw(rng, where[big_incident])
    level = tk.money.price_level[pop.country[store]]
    usd = lognormal(rng, t.cash_out_median_usd * level, t.cash_out_sigma, len(store))
    rows.add(
        big_incident,
        when,
        victim[big_incident],
        store,
        tk.money.minor_units(usd, home[big_incident]),
        CARD,
        device=device[big_incident],
        ip=ip[big_incident],
        mcc=pop.mcc_code[pop.mcc[store]],
    )
    return rows.events(label_delays(rng, t.label, n))


def mule_ring(
    t: MuleRing, n: int, pop: Population, tk: Toolkit, rng: np.random.Generator
) -> Events:
    """Scam victims pay a ring of accounts run from a couple of shared phones; each mule
    forwards its takings to a collector within hours, and the collector withdraws cash.

    Without a crew the ring's accounts are opened for it and its phones are new; with one
    (:mod:`vigil.world.crews`) they are rented from customers who keep their lives, checked
    from the crew's phones, and the forwards run from the same phones."""
    gang = None if t.crew is None else Gang.of(t.crew, n, tk, rng)
    if gang is None:
        country = rng.choice(len(tk.country_weights()), n, p=tk.country_weights())
    else:
        country = gang.incident_country
    size = counts(rng, t.mules, n)
    members = pop.recruit(rng, np.repeat(country, size + 1), fresh=gang is None)
    ring, rank = group_of(size + 1)
    is_collector = rank == size[ring]
    collector = members[is_collector]
    mule, mule_ring_of, mule_rank = members[~is_collector], ring[~is_collector], rank[~is_collector]

    n_devices = counts(rng, t.devices, n)
    if gang is None:
        devices = new_devices(rng, n_devices.sum())
        ips = tk.ips.draw(rng, np.repeat(country, n_devices))
        first_device = np.cumsum(n_devices) - n_devices
        ring_slot = first_device[mule_ring_of] + mule_rank % n_devices[mule_ring_of]
    else:
        devices, ips = gang.sessions(rng, mule_ring_of, mule_rank, n_devices)
        ring_slot = np.arange(len(mule))

    span = t.span_days * US_PER_DAY + (t.forward_hours[1] + t.cash_out_hours[1]) * US_PER_HOUR
    start = tk.starts(rng, n, span, country, US_PER_DAY)
    rows = IncidentRows("mule_ring")

    paid, _ = group_of(counts(rng, t.payments_per_mule, len(mule)))
    incident = mule_ring_of[paid]
    victim = pop.recruit(rng, country[incident])
    ts = start[incident] + (rng.random(len(paid)) * t.span_days * US_PER_DAY).astype(np.int64)
    ts = np.maximum(tk.clock.redraw_hour(rng, ts, country[incident], "weekday"), start[incident])
    usd = lognormal(
        rng,
        t.payment_median_usd * tk.money.price_level[country[incident]],
        t.payment_sigma,
        len(paid),
    )
    rows.add(
        incident,
        ts,
        victim,
        mule[paid],
        tk.money.whole_units(usd, country[incident]),
        _channel(rng, len(paid)),
        device=pop.device1[victim],
        ip=pop.ip_home[victim],
    )

    forward_ts = ts + (between(rng, t.forward_hours, len(paid)) * US_PER_HOUR).astype(np.int64)
    forward_ts = tk.clock.waking(forward_ts, country[incident])
    forwarded = tk.money.whole_units(
        usd * between(rng, t.forward_share, len(paid)), country[incident]
    )
    rows.add(
        incident,
        forward_ts,
        mule[paid],
        collector[incident],
        forwarded,
        _channel(rng, len(paid), 0.5),
        device=devices[ring_slot[paid]],
        ip=ips[ring_slot[paid]],
    )

    total = np.bincount(incident, weights=forwarded, minlength=n)
    last = group_max(forward_ts, incident, n)
    cash_ring, _ = group_of(counts(rng, t.cash_outs, n))
    weight = rng.uniform(0.5, 1.5, len(cash_ring))
    share = weight / np.bincount(cash_ring, weights=weight)[cash_ring]
    when = last[cash_ring] + (between(rng, t.cash_out_hours, len(cash_ring)) * US_PER_HOUR).astype(
        np.int64
    )
    cash_out(
        rows,
        pop,
        tk,
        cash_ring,
        when,
        collector[cash_ring],
        (total[cash_ring] * share).astype(np.int64),
        rng,
    )
    if gang is not None:
        first_paid = np.full(len(mule), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first_paid, paid, ts)
        first_forward = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first_forward, incident, forward_ts)
        gang.check(
            rows,
            pop,
            tk,
            rng,
            np.concatenate([mule_ring_of, np.arange(n)]),
            np.concatenate([mule, collector]),
            np.concatenate([first_paid, first_forward]),
        )
        return rows.events(label_delays(rng, t.label, n))
    events = rows.events(label_delays(rng, t.label, n))
    _open_before(pop, rng, members, events, t.account_age_days, rng.integers(0, 2, len(members)))
    return events


def synthetic_identity(
    t: SyntheticIdentity, n: int, pop: Population, tk: Toolkit, rng: np.random.Generator
) -> Events:
    """An invented customer: funded with cash, small everyday purchases to look real, then
    a burst of big purchases and withdrawals before it disappears."""
    account = pop.recruit(rng, np.full(n, -1), fresh=True)
    home = pop.country[account]
    bust = tk.starts(rng, n, t.bust_hours * US_PER_HOUR, home, t.history_days[0] * US_PER_DAY)
    created = bust - (between(rng, t.history_days, n) * US_PER_DAY).astype(np.int64)
    farm = new_devices(rng, max(1, n // 5))
    device = np.where(
        rng.random(n) < t.shared_device_share,
        farm[rng.integers(0, len(farm), n)],
        new_devices(rng, n),
    )
    ip = tk.ips.draw(rng, home)
    level = tk.money.price_level
    rows = IncidentRows("synthetic_identity")

    opened = np.maximum(created, tk.start_us)
    funded = opened + (rng.uniform(1, 6, n) * US_PER_HOUR).astype(np.int64)
    funded = np.minimum(funded, bust - 2 * US_PER_HOUR)  # windows too short for a history
    agent = pop.merchants(("6011",)).draw(rng, home)
    deposit = tk.money.cash(lognormal(rng, 300 * level[home], 0.4, n), home)
    rows.add(
        np.arange(n),
        funded,
        agent,
        account,
        deposit,
        CASH_IN,
        device=pop.device1[agent],
        ip=pop.ip_home[agent],
        mcc=pop.mcc_code[pop.mcc[agent]],
    )

    days_of_history = (bust - funded) / US_PER_DAY
    incident, _ = group_of(np.maximum(2, rng.poisson(t.history_per_day * days_of_history)))
    ts = funded[incident] + (rng.random(len(incident)) * (bust - funded)[incident]).astype(np.int64)
    ts = np.clip(
        tk.clock.redraw_hour(rng, ts, home[incident], "weekday"),
        funded[incident] + 1,
        bust[incident] - 1,
    )
    shop = pop.merchants(pop.codes_of_group("shop")).draw(rng, home[incident])
    kind = pop.mcc[shop]
    median = np.array([m.median_usd for m in tk.cfg.mccs])[kind] * level[home[incident]]
    sigma = np.array([m.sigma for m in tk.cfg.mccs])[kind]
    usd = lognormal(rng, 0.8 * median * pop.price[shop], sigma, len(incident))
    rows.add(
        incident,
        ts,
        account[incident],
        shop,
        tk.money.minor_units(usd, home[incident]),
        np.where(rng.random(len(incident)) < 0.5, CARD, WALLET),
        device=device[incident],
        ip=ip[incident],
        mcc=pop.mcc_code[kind],
    )

    incident, _ = group_of(counts(rng, t.busts, n))
    when = bust[incident] + (rng.random(len(incident)) * t.bust_hours * US_PER_HOUR).astype(
        np.int64
    )
    when = tk.clock.waking(when, home[incident])
    usd = lognormal(rng, t.bust_median_usd * level[home[incident]], t.bust_sigma, len(incident))
    cash = rng.random(len(incident)) < t.bust_cash_share
    store = pop.merchants(pop.codes_of_group("big")).draw(rng, home[incident])
    buy = ~cash
    rows.add(
        incident[buy],
        when[buy],
        account[incident[buy]],
        store[buy],
        tk.money.minor_units(usd[buy], home[incident[buy]]),
        CARD,
        device=device[incident[buy]],
        ip=ip[incident[buy]],
        mcc=pop.mcc_code[pop.mcc[store[buy]]],
    )
    cash_out(
        rows,
        pop,
        tk,
        incident[cash],
        when[cash],
        account[incident[cash]],
        tk.money.whole_units(usd[cash], home[incident[cash]]),
        rng,
    )
    events = rows.events(label_delays(rng, t.label, n))
    pop.open_accounts(account, created, counts(rng, t.kyc, n))
    return events


def first_party(
    t: FirstParty, n: int, pop: Population, tk: Toolkit, rng: np.random.Generator
) -> Events:
    """Ordinary customers buying ordinary things on their own phones, later disputed.

    Nothing at purchase time separates these from honest rows except the goods and the
    customer's history, which is why chargebacks are the hardest fraud to score.
    """
    actor = pop.recruit(rng, np.full(n, -1))
    owner, _ = group_of(counts(rng, t.purchases, n))
    buyer = actor[owner]
    home = pop.country[buyer]
    store = pop.merchants(t.mccs).draw(rng, home)
    day = rng.integers(0, tk.days, len(buyer))
    ts = tk.clock.times(rng, tk.start_us + day * US_PER_DAY, home, "weekday")
    usd = lognormal(
        rng, t.median_usd * tk.money.price_level[pop.country[store]], t.sigma, len(buyer)
    )
    second = pop.device2[buyer]
    device = np.where((second >= 0) & (rng.random(len(buyer)) < 0.15), second, pop.device1[buyer])
    ip = np.where(rng.random(len(buyer)) < 0.5, pop.ip_home[buyer], pop.ip_mobile[buyer])
    rows = IncidentRows("first_party")
    purchase = np.arange(len(buyer))  # each purchase is disputed on its own
    rows.add(
        purchase,
        ts,
        buyer,
        store,
        tk.money.minor_units(usd, home),
        np.where(rng.random(len(buyer)) < 0.7, CARD, WALLET),
        device=device,
        ip=ip,
        mcc=pop.mcc_code[pop.mcc[store]],
    )
    return rows.events(label_delays(rng, t.label, len(buyer)))


def merchant_collusion(
    t: MerchantCollusion, n: int, pop: Population, tk: Toolkit, rng: np.random.Generator
) -> Events:
    """Scam victims buy from online shops rented to a crew; each shop passes its takings to the
    crew's collector from the crew's phones, and the collector withdraws cash.

    One incident is one shop's run. The shops are ordinary merchants with their honest sales
    (their owners rent out the account), checked from a crew phone before the first victim
    pays; every victim pays from their own phone at home, a ticket drawn as the shop's honest
    tickets are. Each crew has one collector, so the shops of a crew share its phones and its
    collector and nothing else."""
    gang = Gang.of(t.crew, n, tk, rng)
    country = gang.incident_country
    shop = pop.recruit(rng, country, kind=MERCHANT, codes=t.codes)
    collector = pop.recruit(rng, gang.country)[gang.of_incident]
    span = t.run_days * US_PER_DAY + (t.payout_hours[1] + t.cash_out_hours[1]) * US_PER_HOUR
    start = tk.starts(rng, n, span, country, US_PER_DAY)
    rows = IncidentRows("merchant_collusion")

    size = counts(rng, t.victims, n)
    incident, _ = group_of(size)
    victim = pop.recruit(rng, country[incident])
    ts = start[incident] + (rng.random(len(incident)) * t.run_days * US_PER_DAY).astype(np.int64)
    ts = np.maximum(tk.clock.redraw_hour(rng, ts, country[incident], "weekday"), start[incident])
    amount = tk.money.minor_units(
        pop.tickets_usd(rng, shop[incident], tk.money.price_level), country[incident]
    )
    rows.add(
        incident,
        ts,
        victim,
        shop[incident],
        amount,
        rng.choice(np.array([QR, WALLET, CARD]), len(incident), p=[0.4, 0.4, 0.2]),
        device=pop.device1[victim],
        ip=pop.ip_home[victim],
        mcc=pop.mcc_code[pop.mcc[shop[incident]]],
    )

    # the takings in time order, cut into as many consecutive parts as the shop has payouts
    payouts = np.minimum(counts(rng, t.payouts, n), size)
    order = np.lexsort((ts, incident))
    mine = incident[order]
    rank = np.arange(len(order)) - (np.cumsum(size) - size)[mine]
    payout_of = (np.cumsum(payouts) - payouts)[mine] + rank * payouts[mine] // size[mine]
    payout_incident, payout_rank = group_of(payouts)
    carried = np.bincount(payout_of, weights=amount[order], minlength=len(payout_incident))
    after = group_max(ts[order], payout_of, len(payout_incident))
    when = after + (between(rng, t.payout_hours, len(after)) * US_PER_HOUR).astype(np.int64)
    when = tk.clock.waking(when, country[payout_incident])
    paid = (carried * between(rng, t.payout_share, len(carried))).astype(np.int64)
    device, ip = gang.sessions(rng, payout_incident, payout_rank, np.full(n, 2))
    rows.add(
        payout_incident,
        when,
        shop[payout_incident],
        collector[payout_incident],
        paid,
        TRANSFER,
        device=device,
        ip=ip,
    )

    last = group_max(when, payout_incident, n)
    cash_when = last + (between(rng, t.cash_out_hours, n) * US_PER_HOUR).astype(np.int64)
    total = np.bincount(payout_incident, weights=paid, minlength=n)
    kept = (total * rng.uniform(0.9, 1.0, n)).astype(np.int64)
    cash_out(rows, pop, tk, np.arange(n), cash_when, collector, kept, rng)
    first_sale = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_sale, incident, ts)
    gang.check(rows, pop, tk, rng, np.arange(n), shop, first_sale)
    return rows.events(label_delays(rng, t.label, n))
