"""One transaction in, one decision out: the records of the real-time path.

These are plain slotted dataclasses rather than pydantic models because they sit on the
per-payment hot path, where a microsecond matters; the HTTP layer has its own request model
and hands over a mapping that :meth:`Transaction.from_mapping` validates with the same rules
as the file readers (the table spec), naming the field on error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vigil.schema.tables import ACTIONS, MAX_AMOUNT, TRANSACTIONS, Kind
from vigil.schema.validate import PATTERNS


class FieldError(ValueError):
    """A bad field of a single record; ``field`` is its name, as an API would report it."""

    def __init__(self, field_name: str, problem: str):
        self.field, self.problem = field_name, problem
        super().__init__(f"field '{field_name}': {problem}")


_PATTERNS = {name: (re.compile(p), meaning) for name, (p, meaning) in PATTERNS.items()}
_CONTRACT = {c.name for c in TRANSACTIONS.columns}
#: What :meth:`Transaction.from_mapping` checks of each field, looked up once rather than per
#: request: name, kind, required, positive, choices and pattern (labels are never read).
_CHECKS = tuple(
    (c.name, c.kind, c.required, c.positive, c.choices, _PATTERNS.get(c.name))
    for c in TRANSACTIONS.columns
    if not c.label
)


@dataclass(slots=True)
class Transaction:
    """A payment request; labels are never part of it (the engine must not see them)."""

    txn_id: str
    ts: datetime
    payer_id: str
    payee_id: str
    amount: int
    currency: str
    channel: str
    jurisdiction: str
    payer_country: str | None = None
    payee_country: str | None = None
    device_id: str | None = None
    ip: str | None = None
    mcc: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Transaction:
        """Validate a mapping (one JSON object, one table row); label fields are dropped."""
        if not isinstance(data, Mapping):
            raise FieldError("*", f"expected an object, got {type(data).__name__}")
        values: dict[str, Any] = {}
        for name, kind, required, positive, choices, pattern in _CHECKS:
            raw = data.get(name)
            if raw is None or raw == "":
                if required:
                    raise FieldError(name, "required field is missing")
                values[name] = None
                continue
            value = values[name] = _coerce(name, kind, raw, pattern)
            if positive and value <= 0:
                raise FieldError(name, f"expected an amount > 0 in minor units, got {raw!r}")
            if positive and value > MAX_AMOUNT:
                raise FieldError(
                    name, f"expected an amount <= {MAX_AMOUNT:.0e} in minor units, got {raw!r}"
                )
            if choices is not None and value not in choices:
                raise FieldError(name, f"expected one of {sorted(choices)}, got {raw!r}")
        extra = {k: v for k, v in data.items() if k not in _CONTRACT}
        return cls(**values, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in TRANSACTION_FIELDS}
        out["ts"] = self.ts.isoformat().replace("+00:00", "Z")
        out.update(self.extra)
        return out


#: The contract fields a Transaction carries, in constructor order (labels and extras excluded).
TRANSACTION_FIELDS: tuple[str, ...] = tuple(n for n in Transaction.__slots__ if n != "extra")


def _coerce(name: str, kind: Kind, raw: Any, rule: tuple[re.Pattern, str] | None) -> Any:
    if kind is Kind.STRING:
        if not isinstance(raw, str):
            raise FieldError(name, f"expected a string, got {raw!r}")
        if rule is not None and not rule[0].match(raw):
            raise FieldError(name, f"expected {rule[1]}, got {raw!r}")
        return raw
    if kind is Kind.INT:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise FieldError(name, f"expected an integer (minor units), got {raw!r}")
        return raw
    if kind is Kind.TIMESTAMP:
        return parse_timestamp(name, raw)
    raise FieldError(name, f"unsupported field kind {kind}")


def parse_timestamp(name: str, raw: Any) -> datetime:
    """RFC 3339 text or a datetime, returned in UTC; a naive time is taken as UTC."""
    if isinstance(raw, datetime):
        parsed = raw
    elif isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise FieldError(name, f"expected an RFC 3339 timestamp, got {raw!r}") from None
    else:
        raise FieldError(name, f"expected an RFC 3339 timestamp, got {raw!r}")
    try:
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59-23:59 is in year 10000 in UTC
        raise FieldError(name, f"{raw!r} is out of range once in UTC") from None


@dataclass(slots=True, frozen=True)
class Reason:
    """Why a decision went the way it did: which layer said what, and how much it weighed."""

    layer: str
    code: str
    detail: str
    weight: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "code": self.code,
            "detail": self.detail,
            "weight": self.weight,
        }


@dataclass(slots=True)
class Decision:
    """The engine's answer, as schema.md defines it."""

    txn_id: str
    decided_at: datetime
    action: str
    score: float
    reasons: list[Reason]
    jurisdiction: str
    rule_pack_version: str | None
    model_bundle_version: str | None
    degraded: bool
    latency_us: dict[str, int]
    #: hits of a shadow rule pack: recorded for comparison, never enforced
    shadow_reasons: list[Reason] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise FieldError("action", f"expected one of {sorted(ACTIONS)}, got {self.action!r}")
        if not 0.0 <= self.score <= 1.0:
            raise FieldError("score", f"expected a probability in [0, 1], got {self.score!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; built field by field because ``dataclasses.asdict`` deep-copies and
        costs more than the decision itself on the replay path."""
        return {
            "txn_id": self.txn_id,
            "decided_at": self.decided_at.isoformat().replace("+00:00", "Z"),
            "action": self.action,
            "score": self.score,
            "reasons": [r.to_dict() for r in self.reasons],
            "jurisdiction": self.jurisdiction,
            "rule_pack_version": self.rule_pack_version,
            "model_bundle_version": self.model_bundle_version,
            "degraded": self.degraded,
            "latency_us": dict(self.latency_us),
            "shadow_reasons": [r.to_dict() for r in self.shadow_reasons],
        }
