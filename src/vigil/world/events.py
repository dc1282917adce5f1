"""Transactions as columns of numpy arrays, until the day they are written.

Generators work on integer codes (account index, channel code, MCC as a number) because numpy
is fast on those and strings are not; :func:`to_frame` turns one day's events into the contract's
polars frame in a handful of vectorised gathers.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import polars as pl

from vigil.schema.tables import TYPOLOGIES

#: Channel codes; the index is what the ``channel`` arrays hold.
CHANNELS: tuple[str, ...] = ("card", "wallet", "transfer", "qr", "cash_in", "cash_out")
CARD, WALLET, TRANSFER, QR, CASH_IN, CASH_OUT = range(len(CHANNELS))

TYPOLOGY_CODE: dict[str, int] = {name: code for code, name in enumerate(TYPOLOGIES)}
LEGIT = TYPOLOGY_CODE["legit"]

US_PER_SECOND = 1_000_000
US_PER_HOUR = 3_600 * US_PER_SECOND
US_PER_DAY = 24 * US_PER_HOUR
NONE = -1  #: missing device, IP or MCC


_DTYPES: dict[str, type] = {
    "ts": np.int64,
    "payer": np.int64,
    "payee": np.int64,
    "amount": np.int64,
    "channel": np.int8,
    "device": np.int64,
    "ip": np.int64,
    "mcc": np.int16,
    "typology": np.int8,
    "label_ts": np.int64,
}


@dataclass(slots=True)
class Events:
    """A batch of transactions; amounts are minor units of the payer's currency."""

    ts: np.ndarray  #: int64 microseconds since the epoch, UTC
    payer: np.ndarray  #: int64 account index
    payee: np.ndarray  #: int64 account index
    amount: np.ndarray  #: int64 minor units, > 0
    channel: np.ndarray  #: int8 index into CHANNELS
    device: np.ndarray  #: int64 device fingerprint, NONE when absent
    ip: np.ndarray  #: int64 IPv4 address as an integer, NONE when absent
    mcc: np.ndarray  #: int16 merchant category code as a number, NONE when absent
    typology: np.ndarray  #: int8 index into TYPOLOGIES
    label_ts: np.ndarray  #: int64 microseconds

    @classmethod
    def make(
        cls,
        ts: np.ndarray,
        payer: np.ndarray,
        payee: np.ndarray,
        amount: np.ndarray,
        channel: np.ndarray | int,
        device: np.ndarray | int = NONE,
        ip: np.ndarray | int = NONE,
        mcc: np.ndarray | int = NONE,
        typology: np.ndarray | int = LEGIT,
        label_ts: np.ndarray | None = None,
    ) -> Events:
        """Broadcast scalars to the batch length and fix the dtypes in one place."""
        n = len(ts)
        columns = {
            "ts": ts,
            "payer": payer,
            "payee": payee,
            "amount": amount,
            "channel": channel,
            "device": device,
            "ip": ip,
            "mcc": mcc,
            "typology": typology,
            "label_ts": ts if label_ts is None else label_ts,
        }
        return cls(
            **{
                name: np.broadcast_to(np.asarray(value, dtype=_DTYPES[name]), (n,)).copy()
                for name, value in columns.items()
            }
        )

    @classmethod
    def empty(cls) -> Events:
        return cls(**{name: np.empty(0, dtype=dtype) for name, dtype in _DTYPES.items()})

    @classmethod
    def concat(cls, parts: list[Events]) -> Events:
        if not parts:
            return cls.empty()
        return cls(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)}
        )

    def __len__(self) -> int:
        return len(self.ts)

    def take(self, index: np.ndarray) -> Events:
        return Events(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def sorted(self) -> Events:
        """Time order; the stable sort keeps equal timestamps in generation order, which is
        deterministic, so files stay byte-identical across runs."""
        return self.take(np.argsort(self.ts, kind="stable"))

    def window(self, lo_us: int, hi_us: int) -> Events:
        """Rows with ``lo_us <= ts < hi_us`` of a time-sorted batch."""
        lo, hi = np.searchsorted(self.ts, [lo_us, hi_us])
        return self.take(np.arange(lo, hi))


def _timestamps(values: np.ndarray) -> pl.Series:
    return pl.Series(values, dtype=pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def _codes(labels: pl.Series, index: np.ndarray) -> pl.Series:
    return labels.gather(pl.Series(index, dtype=pl.Int64))


def to_frame(
    events: Events,
    first_txn: int,
    account_ids: pl.Series,
    account_country: np.ndarray,
    countries: pl.Series,
    currencies: pl.Series,
) -> pl.DataFrame:
    """The contract's transactions frame for a time-sorted batch.

    ``txn_id`` is a running number in time order, so ids reveal nothing about how a row was
    generated. Booking entity and currency follow the payer's country: every payer is one of
    the world's own accounts, and amounts are always in the payer's currency.
    """
    payer_country = account_country[events.payer]
    payee_country = account_country[events.payee]
    n = len(events)
    frame = pl.DataFrame(
        {
            "txn": np.arange(first_txn, first_txn + n, dtype=np.int64),
            "device": events.device,
            "ip": events.ip,
            "mcc": events.mcc.astype(np.int64),
        }
    )
    ip = pl.col("ip")
    octets = [(ip // (1 << shift) % 256).cast(pl.String) for shift in (24, 16, 8, 0)]
    strings = frame.select(
        txn_id=pl.concat_str(pl.lit("T"), pl.col("txn").cast(pl.String).str.zfill(12)),
        device_id=pl.when(pl.col("device") >= 0).then(
            pl.concat_str(pl.lit("dv"), pl.col("device").cast(pl.String).str.zfill(15))
        ),
        ip=pl.when(ip >= 0).then(pl.concat_str(octets, separator=".")),
        mcc=pl.when(pl.col("mcc") >= 0).then(pl.col("mcc").cast(pl.String).str.zfill(4)),
    )
    typology = _codes(pl.Series(TYPOLOGIES), events.typology)
    return pl.DataFrame(
        {
            "txn_id": strings["txn_id"],
            "ts": _timestamps(events.ts),
            "payer_id": _codes(account_ids, events.payer),
            "payee_id": _codes(account_ids, events.payee),
            "amount": pl.Series(events.amount, dtype=pl.Int64),
            "currency": _codes(currencies, payer_country),
            "channel": _codes(pl.Series(CHANNELS), events.channel),
            "jurisdiction": _codes(countries, payer_country),
            "payer_country": _codes(countries, payer_country),
            "payee_country": _codes(countries, payee_country),
            "device_id": strings["device_id"],
            "ip": strings["ip"],
            "mcc": strings["mcc"],
            "is_fraud": pl.Series(events.typology != LEGIT, dtype=pl.Boolean),
            "typology": typology,
            "label_ts": _timestamps(events.label_ts),
        }
    )


class IncidentRows:
    """One typology's rows, collected piece by piece and labelled per incident.

    A fraud is discovered as a whole (the victim calls, the investigation closes), so every
    row of an incident gets the same label time: its last row plus the incident's delay.
    """

    def __init__(self, typology: str):
        self.code = TYPOLOGY_CODE[typology]
        self._parts: list[Events] = []
        self._incident: list[np.ndarray] = []

    def add(
        self,
        incident: np.ndarray | int,
        ts: np.ndarray,
        payer: np.ndarray | int,
        payee: np.ndarray | int,
        amount: np.ndarray,
        channel: np.ndarray | int,
        device: np.ndarray | int = NONE,
        ip: np.ndarray | int = NONE,
        mcc: np.ndarray | int = NONE,
    ) -> None:
        ts = np.atleast_1d(np.asarray(ts, dtype=np.int64))
        n = len(ts)
        self._parts.append(
            Events.make(
                ts=ts,
                payer=np.broadcast_to(payer, (n,)),
                payee=np.broadcast_to(payee, (n,)),
                amount=np.broadcast_to(amount, (n,)),
                channel=channel,
                device=device,
                ip=ip,
                mcc=mcc,
                typology=self.code,
            )
        )
        self._incident.append(np.broadcast_to(np.asarray(incident, dtype=np.int64), (n,)))

    def events(self, delays_us: np.ndarray) -> Events:
        """All rows, labelled; ``delays_us[i]`` is incident i's delay after its last row."""
        events = Events.concat(self._parts)
        incident = np.concatenate(self._incident) if self._incident else np.empty(0, np.int64)
        last = group_max(events.ts, incident, len(delays_us))
        events.label_ts = last[incident] + delays_us[incident]
        return events


def group_of(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups of the given sizes laid end to end: each row's group and its rank in it."""
    group = np.repeat(np.arange(len(sizes)), sizes)
    starts = np.cumsum(sizes) - sizes
    return group, np.arange(len(group)) - starts[group]


def grouped_cumsum(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Running sums restarting at each group (rows of a group must be contiguous)."""
    total = np.cumsum(values)
    first = np.flatnonzero(np.diff(group, prepend=-1) != 0)
    before = total[first] - values[first]
    return total - np.repeat(before, np.diff(np.append(first, len(values))))


def group_max(values: np.ndarray, group: np.ndarray, groups: int) -> np.ndarray:
    out = np.full(groups, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(out, group, values)
    return out
