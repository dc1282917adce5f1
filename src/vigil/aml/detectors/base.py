"""What every typology detector is: one verb, ``observe``, on one transaction at a time.

Detectors keep small windowed state and are updated per transaction in bounded time; none
re-reads history. They all speak the same verb so that the monitor, the benchmark and the
contract tests treat them alike, and so that a new typology is one new file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Protocol

from vigil.aml.alerts import Alert, Evidence
from vigil.aml.detectors.regime import Regime

CASH_IN, CASH_OUT = "cash_in", "cash_out"
CASH_CHANNELS = frozenset({CASH_IN, CASH_OUT})

#: What ``observe`` returns when nothing fired: shared, so the common case allocates nothing.
NO_ALERTS: tuple[Alert, ...] = ()


class Detector(Protocol):
    """A streaming typology detector."""

    typology: str

    def observe(self, leg: Evidence, regime: Regime) -> Sequence[Alert]:
        """Update the state with one transaction and return the alerts it completes.

        At most one alert per subject per window: a pattern that keeps growing does not raise
        a new alert with every transaction.
        """
        ...

    def state_size(self) -> int:
        """Items held (transactions in windows, accounts tracked); memory grows with this."""
        ...


def customer_sides(leg: Evidence) -> tuple[str | None, str | None]:
    """(paying customer, receiving customer) of a transaction; None for a cash agent's side.

    On ``cash_in`` the agent books the deposit as a payment to the depositor, and on
    ``cash_out`` the withdrawer pays the agent. An agent handles every customer's cash, so
    counting it as a payer or beneficiary would make every agent look like a launderer.
    """
    if leg.channel == CASH_IN:
        return None, leg.payee_id
    if leg.channel == CASH_OUT:
        return leg.payer_id, None
    return leg.payer_id, leg.payee_id


def watched(kind: str | None, kinds: frozenset[str]) -> bool:
    """Whether an account of ``kind`` is in ``kinds``; an unknown kind always is."""
    return kind is None or kind in kinds


def params_dict(params: Any) -> dict[str, Any]:
    """A params dataclass as JSON-ready values (sets of kinds become sorted lists)."""
    return {
        name: sorted(value) if isinstance(value, frozenset) else value
        for name, value in asdict(params).items()
    }


def usd(cents: float) -> str:
    """US cents as ``$12,345``, for summaries."""
    return f"${cents / 100:,.0f}"


def hours(seconds: float) -> str:
    """A duration for summaries: ``5.2 h``."""
    return f"{seconds / 3600:.1f} h"
