"""Money: integer minor units per ISO 4217, and one reference currency for comparisons.

Velocity sums, the cost of a missed fraud and model inputs must compare a payment in dong with
one in dollars. Everything that compares converts to US cents with fixed reference rates; rates
are configuration, not market data, because the decision must be reproducible from the event
alone (a live FX feed would make replays depend on the day they ran).
"""

from __future__ import annotations

#: Decimal places of the minor unit (ISO 4217).
MINOR_UNIT_EXPONENT: dict[str, int] = {
    "USD": 2,
    "EUR": 2,
    "CNY": 2,
    "HKD": 2,
    "SGD": 2,
    "MYR": 2,
    "IDR": 2,
    "PHP": 2,
    "THB": 2,
    "VND": 0,
    "JPY": 0,
    "KRW": 0,
    "GBP": 2,
    "AUD": 2,
    "INR": 2,
}

#: US dollars per one major unit; reference rates, late 2025.
USD_PER_UNIT: dict[str, float] = {
    "USD": 1.0,
    "EUR": 1.08,
    "CNY": 0.138,
    "HKD": 0.128,
    "SGD": 0.74,
    "MYR": 0.22,
    "IDR": 0.000063,
    "PHP": 0.0175,
    "THB": 0.028,
    "VND": 0.000040,
    "JPY": 0.0066,
    "KRW": 0.00073,
    "GBP": 1.27,
    "AUD": 0.66,
    "INR": 0.012,
}

#: Precomputed US cents per minor unit, the factor the hot path multiplies by.
USD_CENTS_PER_MINOR: dict[str, float] = {
    code: rate * 100 / 10 ** MINOR_UNIT_EXPONENT[code] for code, rate in USD_PER_UNIT.items()
}


class UnknownCurrencyError(ValueError):
    pass


def to_usd_cents(amount_minor: int, currency: str) -> int:
    """Convert to whole US cents; integer so that windowed sums add and expire exactly."""
    try:
        factor = USD_CENTS_PER_MINOR[currency]
    except KeyError:
        raise UnknownCurrencyError(
            f"currency {currency!r} has no reference rate; known: {sorted(USD_CENTS_PER_MINOR)}"
        ) from None
    return max(1, round(amount_minor * factor))


def from_major(amount: float, currency: str) -> int:
    """Major units (e.g. 20,000 SGD) to integer minor units, for thresholds written by people."""
    return round(amount * 10 ** MINOR_UNIT_EXPONENT[currency])
