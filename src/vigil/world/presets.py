"""Named worlds other than the default: ``WorldConfig`` knob settings with a purpose.

:func:`crew_rings` is the world of the graph layer's ablation (``docs/graph.md``). In the
default world every mule-ring and account-takeover incident opens its own accounts (days old,
KYC 0-1, no honest life) and buys its own phones, so per-payment features see each mule alone.
Organised fraud does not work that way: crews rent accounts from ordinary customers and run
many incidents from a few phones. Here, one payment at a time, the rented accounts are ordinary
customers; what gives them away is structure, the crew's phones shared with accounts already
reported, and honest strangers' transfers look like a scam victim's payment.
"""

from __future__ import annotations

from dataclasses import replace

from vigil.world.config import (
    AccountTakeover,
    Crew,
    LabelDelay,
    MerchantCollusion,
    MuleRing,
    SyntheticIdentity,
    WorldConfig,
)


def crew_rings() -> WorldConfig:
    """Mule rings and account takeovers run by crews (:class:`Crew`) through rented accounts.

    * **Crews**: about five incidents each, from a pool of four phones; every rented account is
      checked from one of them with a small online purchase before its first use, and the
      ring's forwards (or the takeover's session) run from the same pool.
    * **Rented accounts** are recruited from active customers who keep their honest traffic,
      age and KYC level; each serves one incident (it is reported and frozen after).
    * **Ordinary money**: victims pay mules $150 (median), takeovers drain $300 in one or two
      transfers; mules forward and cash out over hours to two days, not minutes. Half of the
      takeovers run on the victim's own phone (remote-access malware, the Android banking trojans of Southeast Asia
      since 2023), the rest on a crew phone; few through proxies or at night.
    * **Honest look-alikes**: persons pay strangers (second-hand sales, deposits, tradespeople,
      2% of persons a day, $60 median) to a fixed 5% of sellers, who receive from many first-time
      payers as mules do; half the persons have a second device (35% by default), and half of
      those share it with their family circle's head (30%), so several accounts on one device
      and several devices on one account are ordinary.
    * **Labels** come within days (scam victims call their bank; median 4-5 days), so a crew's
      earlier incidents are known when it strikes again.
    * Synthetic identities as in the earlier hidden-rings preset (KYC 2-3, 10-25 days of
      history, $250 bust-outs, 80% from identity farms sharing phones).
    * **Collusive merchants** (:class:`MerchantCollusion`, off in the default world): scam
      victims buy from online shops rented to crews, each victim from their own phone; the
      shops pass their takings to their crew's collector from the crew's phones.
    """
    base = WorldConfig()
    crew = Crew()
    return replace(
        base,
        population=replace(base.population, second_device_share=0.5, family_device_share=0.5),
        legit=replace(base.legit, marketplace_per_day=0.02),
        mule_ring=replace(
            MuleRing(),
            incidents_per_10k_month=40.0,
            crew=crew,
            payment_median_usd=150.0,
            payment_sigma=0.7,
            forward_hours=(2.0, 36.0),
            cash_out_hours=(6.0, 48.0),
            label=LabelDelay(5.0),
        ),
        account_takeover=replace(
            AccountTakeover(),
            crew=crew,
            own_device_share=0.5,
            drains=(1, 2),
            drain_median_usd=300.0,
            cash_out_hours=(6.0, 48.0),
            proxy_share=0.1,
            night_share=0.1,
            label=LabelDelay(4.0),
        ),
        synthetic_identity=replace(
            SyntheticIdentity(),
            history_days=(10.0, 25.0),
            bust_median_usd=250.0,
            kyc=(2, 3),
            shared_device_share=0.8,
            label=LabelDelay(6.0),
        ),
        merchant_collusion=MerchantCollusion(crew=crew),
    )
