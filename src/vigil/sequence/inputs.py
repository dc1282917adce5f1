"""What one event tells the encoder, from the event and the account's own previous event.

An account's sequence holds its payments out (as payer) *and* in (as payee). Money in matters:
a mule, a pass-through conduit or a dormant account being drained shows itself by what arrives
just before what leaves (a drain that follows a large inflow within the hour looks nothing like
the same transfer from a salaried account), and only a sequence with both directions can see
that order.

The inputs of event t are computed from event t and from a few fields the account kept from its
earlier events, never from the history itself, so the online step costs the same for an
account's first payment and its millionth. Novelty (a payee, device or IP address the account
has not used lately) is membership in a short most-recently-used list of 32-bit hashes, capped
at a few entries: O(1) per event and a fixed number of bytes per account, at the price of
forgetting counterparties that have not come back within the last ``peers`` distinct ones.

Every optional field maps to zeros plus a flag saying whether it was present, so a sparse world
(payer, payee, amount, currency and time only) gives valid, merely less informative inputs.
"""

from __future__ import annotations

import math
import zlib
from functools import lru_cache

import numpy as np

from vigil.features.online import UTC_OFFSET_HOURS
from vigil.money import MINOR_UNIT_EXPONENT, to_usd_cents
from vigil.schema.records import Transaction
from vigil.schema.tables import CHANNELS

CHANNEL_ORDER = tuple(sorted(CHANNELS))
_CHANNEL_AT = {name: i for i, name in enumerate(CHANNEL_ORDER)}

#: Names of the dense inputs, in vector order; merchant category enters through an embedding.
INPUT_NAMES: tuple[str, ...] = (
    "log_usd",
    "round_amount",
    *(f"channel_{name}" for name in CHANNEL_ORDER),
    "incoming",
    "first_event",
    "log_gap",
    "log_usd_change",
    "peer_new",
    "peer_repeat",
    "device_known",
    "device_changed",
    "device_new",
    "ip_known",
    "ip_changed",
    "ip_new",
    "countries_known",
    "cross_border",
    "country_changed",
    "hour_sin",
    "hour_cos",
)
DENSE_INPUTS = len(INPUT_NAMES)

_AT = {name: i for i, name in enumerate(INPUT_NAMES)}
# positions written on the hot path; blocks (channel, device, ip, country, hour) are contiguous
_CH, _IN, _FIRST, _GAP, _CHANGE = (
    _AT[f"channel_{CHANNEL_ORDER[0]}"],
    _AT["incoming"],
    _AT["first_event"],
    _AT["log_gap"],
    _AT["log_usd_change"],
)
_PEER_NEW, _PEER_REPEAT = _AT["peer_new"], _AT["peer_repeat"]
_DEVICE, _IP, _COUNTRY, _HOUR = (
    _AT["device_known"],
    _AT["ip_known"],
    _AT["countries_known"],
    _AT["hour_sin"],
)

#: Fixed scales that bring the log inputs near unit range: log1p of a dollar amount rarely
#: exceeds 12, log1p of a gap in seconds 17 (a year); data-derived scalers would be one more
#: fitted artefact to keep in step between training and serving.
LOG_USD_SCALE = 5.0
LOG_GAP_SCALE = 10.0
_TWO_PI_PER_DAY = 2.0 * math.pi / 86_400


class AccountState:
    """One account's state: the recurrent hidden vector and what its inputs need of the past.

    ``hidden`` is None in the offline walk, where the batched encoder keeps the hidden states.
    """

    __slots__ = (
        "devices",
        "events",
        "hidden",
        "ips",
        "last_country",
        "last_log_usd",
        "last_ts",
        "peers",
    )

    def __init__(self, hidden: np.ndarray | None = None):
        self.hidden = hidden
        self.events = 0
        self.last_ts = 0.0
        self.last_log_usd = 0.0
        self.last_country: str | None = None
        self.peers: list[int] = []  # most recent first
        self.devices: list[int] = []
        self.ips: list[int] = []


def stable_hash(text: str) -> int:
    """32-bit hash that is the same in every process (``hash()`` is salted per process, and a
    snapshot written by one process is read by another)."""
    return zlib.crc32(text.encode())


@lru_cache(maxsize=4_096)
def mcc_bucket(mcc: str | None, buckets: int) -> int:
    """Embedding row of a merchant category: 0 when absent, else a hash bucket in 1..buckets."""
    return 0 if mcc is None else 1 + stable_hash(mcc) % buckets


def _remember(recent: list[int], key: int, cap: int) -> None:
    if recent and recent[0] == key:
        return
    if key in recent:
        recent.remove(key)
    recent.insert(0, key)
    del recent[cap:]


class EventInputs:
    """Turns (account state, payment, direction) into the encoder's input, then records the
    event in the state; the single source of inputs for training, offline encoding and serving.
    """

    def __init__(self, mcc_buckets: int, peers: int, devices: int, ips: int):
        self.mcc_buckets = mcc_buckets
        self.peers, self.devices, self.ips = peers, devices, ips

    def step(
        self, state: AccountState, txn: Transaction, incoming: bool
    ) -> tuple[list[float], int]:
        """Dense inputs and merchant-category bucket of ``txn`` as seen by this account."""
        x = [0.0] * DENSE_INPUTS
        now = txn.ts.timestamp()
        log_usd = math.log1p(to_usd_cents(txn.amount, txn.currency) / 100.0) / LOG_USD_SCALE
        x[0] = log_usd
        tens = 10 ** (MINOR_UNIT_EXPONENT.get(txn.currency, 2) + 1)
        x[1] = 1.0 if txn.amount % tens == 0 else 0.0
        channel = _CHANNEL_AT.get(txn.channel) if txn.channel is not None else None
        if channel is not None:
            x[_CH + channel] = 1.0
        x[_IN] = 1.0 if incoming else 0.0
        if state.events == 0:
            x[_FIRST] = 1.0
        else:
            x[_GAP] = math.log1p(max(0.0, now - state.last_ts)) / LOG_GAP_SCALE
            x[_CHANGE] = log_usd - state.last_log_usd

        peer = stable_hash(txn.payer_id if incoming else txn.payee_id)
        x[_PEER_NEW] = 0.0 if peer in state.peers else 1.0
        x[_PEER_REPEAT] = 1.0 if state.peers and state.peers[0] == peer else 0.0
        _remember(state.peers, peer, self.peers)

        # Device and address describe the payer's session: they are this account's own only
        # when it pays; as a payee it would be comparing other people's phones.
        if not incoming:
            _session(x, _DEVICE, txn.device_id, state.devices, self.devices)
            _session(x, _IP, txn.ip, state.ips, self.ips)

        there = txn.payer_country if incoming else txn.payee_country
        if txn.payer_country is not None and txn.payee_country is not None:
            x[_COUNTRY] = 1.0
            x[_COUNTRY + 1] = 1.0 if txn.payer_country != txn.payee_country else 0.0
        if there is not None and state.last_country is not None and there != state.last_country:
            x[_COUNTRY + 2] = 1.0

        offset = UTC_OFFSET_HOURS.get(txn.jurisdiction, 0) * 3_600  # unknown: read in UTC
        angle = ((now + offset) % 86_400) * _TWO_PI_PER_DAY
        x[_HOUR] = math.sin(angle)
        x[_HOUR + 1] = math.cos(angle)

        state.events += 1
        state.last_ts = now
        state.last_log_usd = log_usd
        if there is not None:
            state.last_country = there
        return x, mcc_bucket(txn.mcc, self.mcc_buckets)


def _session(x: list[float], at: int, value: str | None, recent: list[int], cap: int) -> None:
    """known / changed since the previous payment / not among the recent ones."""
    if value is None:
        return
    key = stable_hash(value)
    x[at] = 1.0
    x[at + 1] = 1.0 if recent and recent[0] != key else 0.0
    x[at + 2] = 0.0 if key in recent else 1.0
    _remember(recent, key, cap)
