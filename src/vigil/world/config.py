"""Every knob of the synthetic payments world, in one frozen object.

The world is only useful if its parameters can be read and argued with, so each one lives here
with its unit and the reason for its default, and ``docs/world.md`` explains how the generators
use them. Money knobs are in US dollars (``*_usd``) and converted per country with
:class:`CountryProfile`; regulatory thresholds are in minor units of the local currency because
that is how the regulations state them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vigil.schema.tables import CURRENCY_OF

#: Country order used for every per-country array in the world (index = country code).
COUNTRIES: tuple[str, ...] = tuple(CURRENCY_OF)


@dataclass(frozen=True, slots=True)
class CountryProfile:
    """What makes a payment look local to one jurisdiction."""

    share: float  #: share of all accounts domiciled here
    usd_rate: float  #: local currency units per US dollar
    minor_exp: int  #: ISO 4217 minor-unit exponent (VND has none)
    price_level: float  #: consumer prices relative to Singapore, scales every retail amount
    utc_offset: int  #: hours; local rhythms are drawn in local time, stored in UTC
    quantum: int  #: minor units retail prices are rounded to (VND and IDR prices end in zeros)
    note: int  #: smallest banknote agents dispense, in minor units; cash amounts are multiples
    channel_mix: tuple[float, float, float]  #: card, wallet, qr shares of in-store spending
    ip_octets: tuple[int, ...]  #: first octets of the country's consumer address blocks


def _countries() -> dict[str, CountryProfile]:
    return {
        "CN": CountryProfile(0.25, 7.2, 2, 0.60, 8, 1, 10_000, (0.15, 0.45, 0.40),
                             (36, 39, 58, 59, 60, 61, 101, 106, 111, 112, 113, 114, 117)),
        "HK": CountryProfile(0.08, 7.8, 2, 1.00, 8, 10, 10_000, (0.50, 0.35, 0.15),
                             (42, 58, 61, 103, 112, 113, 116, 202, 203, 218, 219)),
        "SG": CountryProfile(0.08, 1.35, 2, 1.00, 8, 5, 5_000, (0.60, 0.25, 0.15),
                             (8, 27, 42, 101, 103, 116, 118, 119, 128, 165, 175, 202, 203)),
        "MY": CountryProfile(0.12, 4.5, 2, 0.45, 8, 5, 5_000, (0.40, 0.35, 0.25),
                             (14, 42, 49, 58, 60, 110, 113, 115, 118, 161, 175, 210, 211)),
        "ID": CountryProfile(0.17, 16_000.0, 2, 0.35, 7, 10_000, 5_000_000, (0.20, 0.50, 0.30),
                             (36, 39, 103, 110, 112, 114, 118, 120, 139, 180, 182, 202)),
        "PH": CountryProfile(0.12, 57.0, 2, 0.40, 8, 100, 50_000, (0.30, 0.50, 0.20),
                             (49, 103, 110, 112, 119, 120, 122, 124, 136, 175, 180, 203)),
        "TH": CountryProfile(0.10, 35.0, 2, 0.45, 7, 100, 50_000, (0.30, 0.30, 0.40),
                             (1, 27, 49, 58, 61, 110, 115, 124, 125, 171, 180, 182, 184)),
        "VN": CountryProfile(0.08, 25_000.0, 0, 0.35, 7, 1_000, 100_000, (0.30, 0.35, 0.35),
                             (1, 14, 27, 42, 103, 113, 115, 116, 117, 118, 123, 171, 222)),
    }  # fmt: skip


#: Address blocks of hosting providers and VPN exits: where fraudsters' sessions come from.
PROXY_OCTETS: tuple[int, ...] = (23, 45, 64, 104, 138, 139, 146, 159, 167, 178, 185, 188, 193)


@dataclass(frozen=True, slots=True)
class Mcc:
    """A merchant category: who sells it and what a typical basket costs."""

    code: str  #: ISO 18245 merchant category code
    sector: str  #: the merchant's ``accounts.sector``
    group: str  #: ``shop`` (everyday), ``big`` (big-ticket), ``online``, ``bill``, ``cash``
    median_usd: float  #: median ticket at Singapore prices
    sigma: float  #: log-normal spread of the ticket
    weight: float  #: share of everyday card/wallet/qr spending (0 outside ``shop``)


def _mccs() -> tuple[Mcc, ...]:
    return (
        Mcc("5411", "grocery_stores", "shop", 25.0, 0.7, 0.20),
        Mcc("5812", "restaurants", "shop", 15.0, 0.6, 0.15),
        Mcc("5814", "fast_food", "shop", 6.0, 0.5, 0.13),
        Mcc("5499", "convenience_stores", "shop", 5.0, 0.6, 0.10),
        Mcc("4111", "transit", "shop", 1.5, 0.5, 0.10),
        Mcc("4121", "ride_hailing", "shop", 8.0, 0.5, 0.05),
        Mcc("5541", "fuel", "shop", 35.0, 0.4, 0.05),
        Mcc("5912", "pharmacies", "shop", 15.0, 0.7, 0.04),
        Mcc("5651", "clothing", "shop", 45.0, 0.7, 0.05),
        Mcc("5311", "department_stores", "shop", 60.0, 0.8, 0.04),
        Mcc("7011", "hotels", "shop", 120.0, 0.6, 0.01),
        Mcc("5816", "digital_goods", "online", 8.0, 0.9, 0.06),
        Mcc("5732", "electronics", "big", 120.0, 1.0, 0.015),
        Mcc("5944", "jewelry", "big", 300.0, 0.9, 0.005),
        Mcc("5712", "furniture", "big", 250.0, 0.8, 0.005),
        Mcc("4722", "travel_agencies", "big", 400.0, 0.7, 0.01),
        Mcc("4900", "utilities", "bill", 40.0, 0.5, 0.0),
        Mcc("4814", "telecom", "bill", 20.0, 0.3, 0.0),
        Mcc("6011", "cash_agent", "cash", 0.0, 0.0, 0.0),
    )


#: Sectors of business (non-merchant) accounts: employers, suppliers, shell companies.
BUSINESS_SECTORS: tuple[str, ...] = (
    "manufacturing",
    "wholesale",
    "logistics",
    "construction",
    "software",
    "import_export",
    "textiles",
    "agriculture",
    "professional_services",
    "food_processing",
)


@dataclass(frozen=True, slots=True)
class PopulationConfig:
    """Who holds accounts."""

    merchant_share: float = 0.07  #: of all accounts
    business_share: float = 0.05  #: of all accounts; the rest are persons
    kyc_weights: tuple[float, float, float, float] = (0.03, 0.12, 0.45, 0.40)  #: persons 0..3
    max_age_years: float = 15.0  #: oldest person account
    new_account_share: float = 0.03  #: persons opening during the window (legit new accounts)
    dormant_share: float = 0.04  #: persons with no activity at the start of the window
    dormant_wake_share: float = 0.3  #: of dormant persons, who come back legitimately
    dormant_min_age_days: int = 400  #: dormant accounts are at least this old
    second_device_share: float = 0.35  #: persons with a tablet or second phone
    family_device_share: float = 0.3  #: of those, sharing the tablet with their circle's head
    employed_share: float = 0.7  #: persons paid a monthly salary by a business
    salary_median_usd: float = 2_500.0  #: monthly, at Singapore prices
    salary_sigma: float = 0.45
    paydays: tuple[int, ...] = (1, 5, 10, 15, 20, 25, 28)  #: days of month employers pay on
    migrant_share: float = 0.08  #: employed persons in the hubs who remit home monthly
    remit_from: tuple[str, ...] = ("HK", "SG", "MY")  #: migrant-worker hubs
    remit_to: tuple[tuple[str, float], ...] = (
        ("PH", 0.35),
        ("ID", 0.35),
        ("VN", 0.1),
        ("CN", 0.1),
        ("TH", 0.1),
    )  #: home countries of migrant workers, weighted
    remit_share: tuple[float, float] = (0.2, 0.5)  #: of salary sent home
    circle_size: tuple[int, int] = (2, 10)  #: friends and family clusters for P2P
    favourites: int = 6  #: merchants a person returns to
    suppliers: int = 4  #: B2B counterparties per firm
    cross_border_supplier_share: float = 0.2
    cgnat_users: int = 40  #: persons per shared mobile-carrier address (legit IP sharing)
    fraud_account_cap: float = 0.05  #: most persons opened for fraud; beyond, they are reused


@dataclass(frozen=True, slots=True)
class LegitConfig:
    """Rates of ordinary life, per person per day unless stated."""

    spend_per_day: float = 0.6  #: card/wallet/qr purchases
    weekend_spend_mult: float = 1.2
    favourite_share: float = 0.6  #: purchases at one of the person's usual merchants
    payday_boost: float = 0.8  #: extra spending right after payday (payday bursts)
    payday_boost_days: int = 3
    big_ticket_per_day: float = 1 / 300  #: one-off large purchases
    big_ticket_median_usd: float = 900.0
    big_ticket_sigma: float = 0.6
    p2p_per_day: float = 0.08  #: transfers inside the friends/family circle
    p2p_median_usd: float = 30.0
    p2p_sigma: float = 1.0
    utility_median_usd: float = 40.0  #: monthly bill, per-person level
    telecom_median_usd: float = 20.0
    trip_start_per_day: float = 1 / 150  #: a person leaves for another country
    trip_days: tuple[int, int] = (2, 9)
    destinations: tuple[tuple[str, float], ...] = (
        ("TH", 0.25),
        ("SG", 0.15),
        ("HK", 0.15),
        ("MY", 0.12),
        ("VN", 0.12),
        ("ID", 0.08),
        ("CN", 0.08),
        ("PH", 0.05),
    )  #: where people travel to, weighted (home is never a destination)
    travel_spend_mult: float = 1.6
    hotel_night_usd: float = 110.0
    new_phone_per_day: float = 1 / 500  #: legit phone replacement: a new device_id from then on
    cash_out_per_day: float = 0.03
    cash_in_per_day: float = 0.01
    cash_median_usd: float = 80.0
    merchant_cash_in_per_day: float = 0.12  #: shops depositing takings
    merchant_cash_median_usd: float = 900.0
    merchant_cash_sigma: float = 0.9
    b2b_per_weekday: float = 0.35  #: invoices paid per firm
    b2b_median_usd: float = 1_500.0
    b2b_sigma: float = 1.0
    #: transfers to strangers (second-hand marketplaces, rent, tradespeople): a look-alike of
    #: a scam victim paying a mule; 0 generates none and draws nothing
    marketplace_per_day: float = 0.0
    marketplace_median_usd: float = 60.0
    marketplace_sigma: float = 0.9
    marketplace_sellers: float = 0.05  #: share of persons who sell (they receive it all)


def _weekday_hours() -> tuple[float, ...]:
    return (0.6, 0.35, 0.2, 0.15, 0.2, 0.5, 1.5, 3.5, 5.0, 4.5, 4.5, 5.5,
            7.0, 6.0, 4.5, 4.5, 5.0, 6.0, 7.0, 7.0, 6.0, 4.5, 3.0, 1.5)  # fmt: skip


def _weekend_hours() -> tuple[float, ...]:
    return (1.2, 0.8, 0.5, 0.3, 0.2, 0.3, 0.6, 1.2, 2.5, 4.0, 5.5, 6.5,
            7.0, 6.5, 6.0, 5.5, 5.5, 6.0, 7.0, 7.0, 6.5, 5.0, 3.5, 2.0)  # fmt: skip


def _business_hours() -> tuple[float, ...]:
    return (0, 0, 0, 0, 0, 0, 0, 0.3, 1.5, 5.0, 6.0, 5.5,
            3.0, 4.5, 5.5, 5.0, 4.0, 2.0, 0.6, 0.2, 0, 0, 0, 0)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Rhythm:
    """Relative weight of each local hour (0..23); legit timing is drawn from these."""

    weekday: tuple[float, ...] = field(default_factory=_weekday_hours)
    weekend: tuple[float, ...] = field(default_factory=_weekend_hours)
    business: tuple[float, ...] = field(default_factory=_business_hours)


@dataclass(frozen=True, slots=True)
class LabelDelay:
    """How long until a fraud label is known: log-normal days, clipped to [lo, hi]."""

    median_days: float
    sigma: float = 0.6
    lo: float = 2.0
    hi: float = 45.0


# --- fraud typologies -------------------------------------------------------------------------
# Incident counts scale as ``incidents_per_10k_month * accounts / 10_000 * days / 30`` with a
# floor of ``min_incidents`` so that even a 1,000-account test world holds every typology.


@dataclass(frozen=True, slots=True)
class Crew:
    """Organised crime behind a typology: a few crews, each running many incidents from a
    small pool of its own phones, through bank accounts rented from ordinary customers.

    Rented accounts (money mules who sell or lend their login, common in Southeast Asian scam
    economies) keep their owners' lives: their age, KYC level and honest traffic are those of
    any customer, and each serves one incident before it is reported and frozen. What a crew
    cannot change cheaply is its phones: the crew checks each rented account by logging in from
    one of them and making a small online purchase, and runs the incident's transfers from the
    same pool, so the incidents of one crew are tied together through its devices.
    """

    incidents: float = 5.0  #: incidents per crew, on average (crews = incidents / this)
    phones: int = 4  #: the crew's pool of phones, each with its own local address
    check_usd: tuple[float, float] = (2.0, 15.0)  #: the test purchase on a rented account
    check_hours: tuple[float, float] = (6.0, 72.0)  #: before the account's first use


@dataclass(frozen=True, slots=True)
class AccountTakeover:
    """A fraudster logs in to a victim's account from a new device and drains it to mules."""

    incidents_per_10k_month: float = 70.0
    min_incidents: int = 3
    drains: tuple[int, int] = (1, 3)  #: transfers out of the victim, minutes apart
    drain_gap_minutes: tuple[float, float] = (2.0, 30.0)
    drain_median_usd: float = 900.0
    drain_sigma: float = 0.7
    mules: tuple[int, int] = (1, 2)  #: fresh accounts receiving the drains
    mule_age_days: tuple[float, float] = (1.0, 20.0)  #: mule account age at first use
    cash_out_hours: tuple[float, float] = (0.5, 6.0)  #: mule withdraws after the last drain
    proxy_share: float = 0.5  #: sessions from VPN/hosting addresses (else a new local address)
    night_share: float = 0.4  #: share of incidents started 00:00-05:59 local time
    label: LabelDelay = field(default_factory=lambda: LabelDelay(5.0))
    crew: Crew | None = None  #: None: fresh mules, a new phone per takeover
    #: takeovers run by remote-access malware on the victim's own phone and home address
    #: (only with a ``crew``; the others log in from one of the crew's phones)
    own_device_share: float = 0.0


@dataclass(frozen=True, slots=True)
class CardTesting:
    """A stolen card is probed with tiny online payments, then used for a large purchase."""

    incidents_per_10k_month: float = 40.0
    min_incidents: int = 3
    tests: tuple[int, int] = (3, 8)
    test_usd: tuple[float, float] = (0.2, 2.0)  #: uniform tiny amounts
    test_gap_seconds: tuple[float, float] = (10.0, 180.0)
    cash_outs: tuple[int, int] = (1, 2)  #: large purchases after the tests succeed
    cash_out_delay_minutes: tuple[float, float] = (5.0, 120.0)
    cash_out_median_usd: float = 600.0
    cash_out_sigma: float = 0.5
    foreign_merchant_share: float = 0.5  #: tests at merchants outside the card's country
    night_share: float = 0.5
    label: LabelDelay = field(default_factory=lambda: LabelDelay(10.0))


@dataclass(frozen=True, slots=True)
class MuleRing:
    """Scam victims pay new low-KYC accounts that share devices; money funnels to a collector."""

    incidents_per_10k_month: float = 25.0
    min_incidents: int = 3
    mules: tuple[int, int] = (2, 4)  #: receiving accounts per ring, plus one collector
    devices: tuple[int, int] = (1, 2)  #: phones shared by the whole ring
    payments_per_mule: tuple[int, int] = (1, 2)  #: victims paying each mule
    payment_median_usd: float = 700.0
    payment_sigma: float = 0.6
    span_days: float = 3.0  #: victims' payments spread over this many days
    account_age_days: tuple[float, float] = (0.5, 14.0)  #: at first use
    forward_share: tuple[float, float] = (0.9, 0.98)  #: mule keeps a cut
    forward_hours: tuple[float, float] = (0.2, 4.0)
    cash_outs: tuple[int, int] = (1, 2)  #: collector's withdrawals
    cash_out_hours: tuple[float, float] = (1.0, 12.0)  #: after the last forward
    label: LabelDelay = field(default_factory=lambda: LabelDelay(12.0))
    crew: Crew | None = None  #: None: accounts opened for the ring, phones bought per incident


@dataclass(frozen=True, slots=True)
class MerchantCollusion:
    """Scam shops: online merchants' accounts rented to a crew, so that a scam's victims pay
    for goods that never come as ordinary purchases at a real shop.

    Collecting scam money through rented merchant accounts and their payment codes ("score
    running", paofen, in the scam economies of Southeast Asia and China; merchant collusion or
    transaction laundering in the card schemes' terms) hides the money's shape: each victim pays
    from their own phone at home an ordinary amount to a merchant with an honest history. The
    crew sets each rented shop up from one of its phones (the crew's check), runs the takings to
    the crew's collector from the same phones within days, and the collector withdraws cash;
    the victims complain when nothing is delivered. A crew's shops are tied together only by its
    phones and its collector: the premise of the graph layer for collusive merchants.
    """

    incidents_per_10k_month: float = 30.0  #: shop runs (one rented shop each)
    min_incidents: int = 3
    crew: Crew = field(default_factory=Crew)
    #: what the rented shops sell (clothing, general merchandise, electronics); each victim's
    #: ticket is drawn as the shop's honest tickets are, from its category and price level
    codes: tuple[str, ...] = ("5651", "5311", "5732")
    victims: tuple[int, int] = (6, 16)  #: purchases per shop run
    run_days: float = 4.0  #: the purchases spread over this many days
    payouts: tuple[int, int] = (1, 3)  #: transfers of the takings to the crew's collector
    payout_share: tuple[float, float] = (0.85, 0.95)  #: the shop's owner keeps a cut
    payout_hours: tuple[float, float] = (6.0, 36.0)  #: after the purchases it carries
    cash_out_hours: tuple[float, float] = (6.0, 48.0)  #: collector, after the last payout
    label: LabelDelay = field(default_factory=lambda: LabelDelay(7.0))


@dataclass(frozen=True, slots=True)
class SyntheticIdentity:
    """A made-up identity opens an account, behaves well for a while, then busts out."""

    incidents_per_10k_month: float = 25.0
    min_incidents: int = 3
    history_days: tuple[float, float] = (5.0, 15.0)  #: age of the account at bust-out
    history_per_day: float = 0.5  #: small everyday purchases while building trust
    busts: tuple[int, int] = (2, 5)  #: large purchases and withdrawals at the end
    bust_hours: float = 36.0  #: bust-out spread
    bust_median_usd: float = 700.0
    bust_sigma: float = 0.5
    bust_cash_share: float = 0.3  #: bust-out rows that are cash withdrawals
    kyc: tuple[int, int] = (1, 2)  #: fabricated documents pass basic checks
    shared_device_share: float = 0.3  #: identities made on the same phone (identity farms)
    label: LabelDelay = field(default_factory=lambda: LabelDelay(25.0))


@dataclass(frozen=True, slots=True)
class FirstParty:
    """A customer buys normally and later disputes the charge (friendly fraud)."""

    incidents_per_10k_month: float = 150.0
    min_incidents: int = 3
    purchases: tuple[int, int] = (1, 2)  #: disputed purchases per customer
    median_usd: float = 180.0
    sigma: float = 0.8
    mccs: tuple[str, ...] = ("5732", "5651", "5816", "4722", "5311")  #: dispute-prone goods
    label: LabelDelay = field(default_factory=lambda: LabelDelay(30.0, sigma=0.3, lo=10.0))


# --- money-laundering typologies --------------------------------------------------------------


def _reporting_thresholds() -> dict[str, int]:
    """Cash / large-value reporting thresholds, minor units of the local currency."""
    return {
        # PBOC Order [2016] No. 3, Measures on Large-value and Suspicious Transaction Reporting:
        # cash transactions of CNY 50,000 or more.
        "CN": 50_000 * 100,
        # AMLO (Cap. 615) Sch. 2: CDD on occasional transactions of HKD 120,000 or more.
        "HK": 120_000 * 100,
        # MAS Notice 626 (occasional transactions) and the PSPM (Prevention of Money Laundering
        # and Terrorism Financing) Act 2019 cash transaction reports: SGD 20,000.
        "SG": 20_000 * 100,
        # AMLA 2001 s.14(1)(a) and BNM's Cash Threshold Report: MYR 25,000.
        "MY": 25_000 * 100,
        # Law No. 8/2010 art. 23, PPATK cash transaction report (LTKT): IDR 500,000,000.
        "ID": 500_000_000 * 100,
        # Republic Act 9160 as amended by RA 10365, covered transaction report: PHP 500,000.
        "PH": 500_000 * 100,
        # Anti-Money Laundering Act B.E. 2542 s.13, cash transactions: THB 2,000,000.
        "TH": 2_000_000 * 100,
        # Law on Anti-Money Laundering 2022 and Decision 11/2023/QD-TTg: VND 400,000,000.
        "VN": 400_000_000,
    }


@dataclass(frozen=True, slots=True)
class Structuring:
    """Cash deposits kept just under the reporting threshold, then consolidated."""

    incidents_per_10k_month: float = 40.0
    min_incidents: int = 3
    thresholds: dict[str, int] = field(default_factory=_reporting_thresholds)
    deposits: tuple[int, int] = (3, 8)
    band: tuple[float, float] = (0.80, 0.99)  #: deposit as a share of the threshold
    span_days: float = 4.0  #: deposits spread over this many days, at several agents
    agents: int = 3  #: most agents (branches) one smurf uses
    consolidate_hours: tuple[float, float] = (6.0, 48.0)  #: transfer of the total onwards
    consolidate_share: tuple[float, float] = (0.9, 1.0)
    cross_border_share: float = 0.4  #: the consolidation goes abroad
    label: LabelDelay = field(default_factory=lambda: LabelDelay(20.0))


@dataclass(frozen=True, slots=True)
class FanIn:
    """Many accounts send similar amounts to one collector within a few days."""

    incidents_per_10k_month: float = 30.0
    min_incidents: int = 3
    senders: tuple[int, int] = (4, 10)
    span_hours: float = 72.0
    median_usd: float = 1_800.0
    sigma: float = 0.25  #: tight: smurfs are told what to send
    round_share: float = 0.6  #: amounts rounded to 100 local units
    cross_border_share: float = 0.3  #: senders abroad
    business_collector_share: float = 0.5  #: collector is a (shell) company
    label: LabelDelay = field(default_factory=lambda: LabelDelay(20.0))


@dataclass(frozen=True, slots=True)
class FanOut:
    """One account receives a lump sum and splits it across many receivers."""

    incidents_per_10k_month: float = 30.0
    min_incidents: int = 3
    receivers: tuple[int, int] = (4, 10)
    lump_median_usd: float = 15_000.0
    lump_sigma: float = 0.5
    split_hours: tuple[float, float] = (1.0, 48.0)  #: receivers paid within this after the lump
    cross_border_share: float = 0.3
    business_source_share: float = 0.5
    label: LabelDelay = field(default_factory=lambda: LabelDelay(20.0))


@dataclass(frozen=True, slots=True)
class Cycle:
    """Round-tripping: money moves through 3-6 accounts and returns to its origin."""

    incidents_per_10k_month: float = 40.0
    min_incidents: int = 3
    length: tuple[int, int] = (3, 6)  #: accounts in the cycle, origin included
    hop_hours: tuple[float, float] = (1.0, 30.0)
    fee: tuple[float, float] = (0.005, 0.03)  #: skimmed at each hop
    median_usd: float = 8_000.0
    sigma: float = 0.5
    cross_border_share: float = 0.5  #: each non-origin account abroad with this probability
    label: LabelDelay = field(default_factory=lambda: LabelDelay(20.0))


@dataclass(frozen=True, slots=True)
class PassThrough:
    """An account forwards what it receives within hours, keeping almost nothing."""

    incidents_per_10k_month: float = 50.0
    min_incidents: int = 3
    inflows: tuple[int, int] = (1, 3)
    outflows: tuple[int, int] = (1, 3)
    hold_hours: tuple[float, float] = (0.25, 6.0)  #: first inflow to last outflow
    retention: tuple[float, float] = (0.0, 0.05)  #: share of the inflow kept
    median_usd: float = 5_000.0
    sigma: float = 0.6
    cross_border_share: float = 0.4
    label: LabelDelay = field(default_factory=lambda: LabelDelay(20.0))


@dataclass(frozen=True, slots=True)
class DormantReactivation:
    """A long-silent account suddenly receives and moves large sums."""

    incidents_per_10k_month: float = 40.0
    min_incidents: int = 3
    inflows: tuple[int, int] = (1, 2)
    outflows: tuple[int, int] = (1, 3)
    median_usd: float = 6_000.0
    sigma: float = 0.6
    out_hours: tuple[float, float] = (1.0, 48.0)  #: after the first inflow
    cash_out_share: float = 0.3  #: outflows withdrawn as cash
    foreign_source_share: float = 0.6
    label: LabelDelay = field(default_factory=lambda: LabelDelay(20.0))


@dataclass(frozen=True, slots=True)
class WorldConfig:
    """The whole world. ``WorldConfig()`` is the documented default demo world."""

    countries: dict[str, CountryProfile] = field(default_factory=_countries)
    mccs: tuple[Mcc, ...] = field(default_factory=_mccs)
    population: PopulationConfig = field(default_factory=PopulationConfig)
    legit: LegitConfig = field(default_factory=LegitConfig)
    rhythm: Rhythm = field(default_factory=Rhythm)
    legit_label_days: float = 30.0  #: legit rows are known good this long after the payment
    #: The overall share of non-legit transactions the defaults are tuned to stay within.
    fraud_rate_range: tuple[float, float] = (0.005, 0.03)
    account_takeover: AccountTakeover = field(default_factory=AccountTakeover)
    card_testing: CardTesting = field(default_factory=CardTesting)
    mule_ring: MuleRing = field(default_factory=MuleRing)
    synthetic_identity: SyntheticIdentity = field(default_factory=SyntheticIdentity)
    first_party: FirstParty = field(default_factory=FirstParty)
    #: off in the default world (whose figures it would change); on in the crew preset
    merchant_collusion: MerchantCollusion | None = None
    structuring: Structuring = field(default_factory=Structuring)
    fan_in: FanIn = field(default_factory=FanIn)
    fan_out: FanOut = field(default_factory=FanOut)
    cycle: Cycle = field(default_factory=Cycle)
    pass_through: PassThrough = field(default_factory=PassThrough)
    dormant_reactivation: DormantReactivation = field(default_factory=DormantReactivation)

    def incidents(self, per_10k_month: float, minimum: int, accounts: int, days: int) -> int:
        """How many incidents of a typology a world of this size holds."""
        return max(minimum, round(per_10k_month * accounts / 10_000 * days / 30))
