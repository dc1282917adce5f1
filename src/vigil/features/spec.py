"""Declarative feature specs: what is computed, keyed by whom, over which windows.

A spec is data. The online engine (:mod:`vigil.features.online`) turns it into per-entity state
and a fixed, ordered feature vector; training replays history through that same engine, so the
names and order here are the model's input contract and the rule language's vocabulary.

Roles name whose state a feature reads. Accounts have two flows, money out and money in, so a
payer's *incoming* flow (``payer_in``) can be read at the moment it pays out: that is what
exposes pass-through and mule accounts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

#: Window name -> span in seconds.
WINDOWS: dict[str, int] = {"1m": 60, "1h": 3_600, "24h": 86_400, "7d": 604_800, "30d": 2_592_000}

#: Buckets per window: a window is approximated to 1/12 of its span at its old edge, which
#: bounds memory per entity whatever its volume (a merchant with a million payments a month
#: keeps 12 buckets per window, not a million events).
BUCKETS_PER_WINDOW = 12

#: Role -> (state namespace, transaction field holding the key, direction of money).
ROLES: dict[str, tuple[str, str, str]] = {
    "payer": ("acct", "payer_id", "out"),
    "payee": ("acct", "payee_id", "in"),
    "payer_in": ("acct", "payer_id", "in"),
    "device": ("device", "device_id", "out"),
    "ip": ("ip", "ip", "out"),
    "pair": ("pair", "pair", "out"),
}

#: Which flows an event updates: the payer's outgoing, the payee's incoming, device, IP, pair.
UPDATED_FLOWS: tuple[str, ...] = ("payer", "payee", "device", "ip", "pair")

AGGREGATES = ("count", "sum", "mean", "max")

#: Fields whose distinct values an entity remembers (for distinct counts and novelty).
SEEN_FIELDS = ("payer_id", "payee_id", "device_id", "ip", "ip_prefix", "payee_country")


@dataclass(frozen=True, slots=True)
class WindowAggregates:
    """count / sum / mean / max of the USD amount over sliding windows."""

    role: str
    windows: tuple[str, ...]
    aggregates: tuple[str, ...] = ("count", "sum", "max")

    def names(self) -> list[str]:
        return [f"{self.role}_{agg}_{w}" for w in self.windows for agg in self.aggregates]


@dataclass(frozen=True, slots=True)
class DistinctCount:
    """Distinct values of ``of`` seen by the role's entity within each window."""

    role: str
    of: str
    windows: tuple[str, ...]

    def names(self) -> list[str]:
        return [f"{self.role}_distinct_{_short(self.of)}_{w}" for w in self.windows]


@dataclass(frozen=True, slots=True)
class Novelty:
    """1 when the role's entity has never seen this value of ``of`` before, else 0."""

    role: str
    of: str

    def names(self) -> list[str]:
        return [f"{self.role}_new_{_short(self.of)}"]


@dataclass(frozen=True, slots=True)
class History:
    """The amount against the entity's own history, gaps and lifetime, known labels."""

    role: str

    def names(self) -> list[str]:
        r = self.role
        return [
            f"{r}_events",
            f"{r}_amount_ratio",
            f"{r}_amount_z",
            f"{r}_secs_since_last",
            f"{r}_days_since_first",
            f"{r}_fraud_labels",
            f"{r}_fraud_rate",
        ]


#: Features of the transaction itself and of the accounts' reference data.
CONTEXT_FEATURES: tuple[str, ...] = (
    "amount_usd",
    "log_amount_usd",
    "amount_round",
    "local_hour",
    "day_of_week",
    "channel_code",
    "mcc_code",
    "jurisdiction_code",
    "cross_border",
    "payer_abroad",
    "payer_account_age_days",
    "payee_account_age_days",
    "payer_kyc_level",
    "payee_kyc_level",
    "payer_kind_code",
    "payee_kind_code",
    "has_device",
    "has_ip",
    "payer_in_ratio_24h",
)

#: Context features LightGBM should treat as categories rather than magnitudes.
CATEGORICAL_FEATURES: tuple[str, ...] = (
    "channel_code",
    "mcc_code",
    "jurisdiction_code",
    "payer_kind_code",
    "payee_kind_code",
)


@dataclass(frozen=True)
class FeatureSpec:
    """The whole feature set; its fingerprint goes into model bundles and state snapshots."""

    windows: tuple[WindowAggregates, ...]
    distinct: tuple[DistinctCount, ...]
    novelty: tuple[Novelty, ...]
    history: tuple[History, ...]
    seen_cap: int = 64
    context: tuple[str, ...] = field(default=CONTEXT_FEATURES)

    def names(self) -> list[str]:
        names = list(self.context)
        for group in (self.windows, self.distinct, self.novelty, self.history):
            for item in group:
                names.extend(item.names())
        return names

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


def _short(field_name: str) -> str:
    return field_name.removesuffix("_id")


def default_spec() -> FeatureSpec:
    """The feature set the demo models are trained on; chosen per typology it must expose."""
    return FeatureSpec(
        windows=(
            # card testing (1m bursts), account takeover drains (1h), structuring (24h-7d)
            WindowAggregates("payer", ("1m", "1h", "24h", "7d", "30d"), ("count", "sum", "max")),
            WindowAggregates("payer", ("30d",), ("mean",)),
            # fan-in, mule collectors, merchants under card testing
            WindowAggregates("payee", ("1m", "1h", "24h", "7d"), ("count", "sum")),
            # pass-through: money that reached the payer just before it pays out
            WindowAggregates("payer_in", ("1h", "24h", "7d"), ("count", "sum")),
            WindowAggregates("device", ("1h", "24h"), ("count", "sum")),
            WindowAggregates("ip", ("1h", "24h"), ("count",)),
            WindowAggregates("pair", ("24h", "30d"), ("count", "sum")),
        ),
        distinct=(
            DistinctCount("payer", "payee_id", ("1h", "24h", "7d")),  # fan-out
            DistinctCount("payer", "device_id", ("7d",)),
            DistinctCount("payer", "ip", ("24h",)),
            DistinctCount("payee", "payer_id", ("1h", "24h", "7d")),  # fan-in
            DistinctCount("device", "payer_id", ("24h", "7d", "30d")),  # shared mule devices
            DistinctCount("ip", "payer_id", ("24h",)),
        ),
        novelty=(
            Novelty("payer", "device_id"),
            Novelty("payer", "ip"),
            Novelty("payer", "ip_prefix"),
            Novelty("payer", "payee_id"),
            Novelty("payer", "payee_country"),
        ),
        history=(History("payer"), History("payee"), History("device"), History("ip")),
    )


def default_feature_names() -> list[str]:
    return default_spec().names()
