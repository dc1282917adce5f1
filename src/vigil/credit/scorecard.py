"""Scorecard points, grades and adverse-action reason codes from a calibrated PD.

**Scaling.** ``score = offset + factor * ln(odds)`` with good:bad odds ``(1 - PD) / PD``,
``factor = PDO / ln 2`` and ``offset = base_score - factor * ln(base_odds)``. The default is
600 points at 50:1 odds (PD 1.96%) and 20 points to double the odds (PDO): 620 is 100:1,
580 is 25:1. Grades are one PDO wide, so each grade up halves the odds of default.

**Reason codes.** The model's log-odds is ``slope * margin + intercept`` and TreeSHAP splits the
margin into one contribution per feature plus the average, so each feature moves the score
by exactly ``-factor * slope * contribution`` points from the average applicant's score.
Features sharing a reason code (top buyer share and buyer HHI both say "high dependence on
one buyer") are summed, and the codes that cost the most points are the applicant's reasons,
largest first, in the style of an adverse-action notice. Only codes that cost points are
given: an applicant scored above average on every count gets fewer reasons, or none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Adverse-action wording per reason code.
REASONS: dict[str, str] = {
    "buyer_concentration": "High dependence on one buyer",
    "supplier_concentration": "High dependence on one supplier",
    "buyer_defaults": "Buyer network default rate",
    "supplier_defaults": "Supplier network default rate",
    "recent_partner_default": "Recent default of a trading partner",
    "buyers_stopped": "Buyers that stopped trading",
    "suppliers_stopped": "Suppliers that stopped trading",
    "network_risk": "Exposure to defaults across the trade network",
    "network_position": "Trade network position close to past defaults",
    "partner_profile": "Profile of trading partners (size, age, debt)",
    "trade_history": "Trade volume and relationship history",
    "leverage": "Loan amount high relative to revenue",
    "young_business": "Limited time in business",
    "size": "Small business size",
    "thin_margin": "Purchases high relative to revenue",
    "falling_purchases": "Decline in purchases from suppliers",
    "falling_sales": "Decline in sales to business customers",
    "payment_gap": "Time since last supplier payment",
    "sector": "Industry sector risk",
    "term": "Long loan term",
}


@dataclass(frozen=True)
class Scaling:
    """Points to odds: ``base_score`` at ``base_odds`` good:bad, ``pdo`` points per doubling."""

    base_score: float = 600.0
    base_odds: float = 50.0
    pdo: float = 20.0

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2.0)

    @property
    def offset(self) -> float:
        return self.base_score - self.factor * math.log(self.base_odds)

    def score(self, pd: np.ndarray | float) -> np.ndarray:
        p = np.clip(np.asarray(pd, dtype=np.float64), 1e-9, 1 - 1e-9)
        return self.offset + self.factor * np.log((1 - p) / p)

    def pd(self, score: np.ndarray | float) -> np.ndarray:
        odds = np.exp((np.asarray(score, dtype=np.float64) - self.offset) / self.factor)
        return 1.0 / (1.0 + odds)

    def grade(self, score: float) -> str:
        return grade_of(score, self)

    def to_dict(self) -> dict[str, float]:
        return {"base_score": self.base_score, "base_odds": self.base_odds, "pdo": self.pdo}


#: Grades from best to worst; A starts three PDOs above the base score (odds 400:1 with the
#: default scaling, PD 0.25%), and each next grade is one PDO lower (odds halved).
GRADES: tuple[str, ...] = ("A", "B", "C", "D", "E", "F", "G", "H")


def grade_of(score: float, scaling: Scaling = Scaling()) -> str:
    top = scaling.base_score + 3 * scaling.pdo
    steps = math.ceil((top - score) / scaling.pdo) if score < top else 0
    return GRADES[min(max(steps, 0), len(GRADES) - 1)]


def grade_table(scaling: Scaling = Scaling()) -> list[dict[str, Any]]:
    """Each grade's score floor and the PD at that floor (the grade's worst PD)."""
    rows = []
    for i, grade in enumerate(GRADES):
        floor = scaling.base_score + (3 - i) * scaling.pdo
        last = i == len(GRADES) - 1
        rows.append(
            {
                "grade": grade,
                "min_score": None if last else floor,
                "max_pd": None if last else float(scaling.pd(floor)),
            }
        )
    return rows


@dataclass(frozen=True)
class Reason:
    code: str
    reason: str  #: adverse-action wording
    points: float  #: score points this reason costs against the average applicant
    detail: str  #: the applicant's own figures behind it

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "reason": self.reason,
            "points": round(self.points, 1),
            "detail": self.detail,
        }


def reasons(
    contributions: np.ndarray,
    features: list[str],
    codes: Mapping[str, str],
    values: Mapping[str, Any],
    points_per_margin: float,
    top: int = 4,
    min_points: float = 0.5,
) -> list[Reason]:
    """The ``top`` reason codes costing the applicant the most points (at least
    ``min_points`` each), from one row of margin ``contributions`` (features, then bias)."""
    cost: dict[str, float] = {}
    for name, value in zip(features, contributions[: len(features)], strict=True):
        cost[codes[name]] = cost.get(codes[name], 0.0) + float(value) * points_per_margin
    ranked = sorted(
        ((c, p) for c, p in cost.items() if p >= min_points), key=lambda item: (-item[1], item[0])
    )
    return [Reason(c, REASONS[c], p, describe(c, values)) for c, p in ranked[:top]]


def _pct(value: Any) -> str:
    return "n/a" if value is None or _nan(value) else f"{100 * float(value):.0f}%"


def _nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _num(value: Any, digits: int = 1) -> str:
    return "n/a" if value is None or _nan(value) else f"{float(value):,.{digits}f}"


def describe(code: str, v: Mapping[str, Any]) -> str:
    """The applicant's figures behind a reason code, in words."""
    money = math.expm1
    if code == "buyer_concentration":
        return (
            f"largest buyer is {_pct(v['top_buyer_share'])} of trade sales "
            f"(HHI {_num(v['buyer_hhi'], 2)}, {_count(v['n_buyers'], 'buyer')})"
        )
    if code == "supplier_concentration":
        return f"largest supplier is {_pct(v['top_supplier_share'])} of purchases"
    if code == "buyer_defaults":
        return f"{_pct(v['buyer_default_share'])} of trade sales were to buyers that defaulted"
    if code == "supplier_defaults":
        return (
            f"{_pct(v['supplier_default_share'])} of purchases were from suppliers that defaulted"
        )
    if code == "recent_partner_default":
        days = v["days_since_partner_default"]
        return "no partner default" if _nan(days) else f"a partner defaulted {days:.0f} days ago"
    if code == "buyers_stopped":
        return f"{_pct(v['buyer_silent_share'])} of trade sales from buyers silent for 60+ days"
    if code == "suppliers_stopped":
        return f"{_pct(v['supplier_silent_share'])} of purchases from suppliers silent 60+ days"
    if code == "network_risk":
        return f"propagated default exposure {_num(100 * v['network_risk'], 2)}%"
    if code == "network_position":
        return f"similarity to defaulted firms {_num(v['network_affinity'], 2)}"
    if code == "partner_profile":
        return (
            f"partners' mean age {_num(v['partner_age_years'])} years, "
            f"mean loan/revenue {_num(v['partner_leverage'], 2)}"
        )
    if code == "trade_history":
        return (
            f"{_count(v['n_buyers'], 'buyer')} and {_count(v['n_suppliers'], 'supplier')} in the "
            "last year, "
            f"relationships {_num(v['relationship_years'])} years old on average"
        )
    if code == "leverage":
        return f"loan is {_pct(v['loan_to_revenue'])} of annual revenue"
    if code == "young_business":
        return f"{_num(v['age_years'])} years in business"
    if code == "size":
        return f"annual revenue US${money(v['log_revenue']):,.0f}, {money(v['log_employees']):.0f} staff"
    if code == "thin_margin":
        return f"purchases in the last year are {_pct(v['purchases_to_revenue'])} of revenue"
    if code == "falling_purchases":
        return f"purchases in the last 90 days {_change(v['purchase_trend'])} on the 90 before"
    if code == "falling_sales":
        return f"trade sales in the last 90 days {_change(v['sales_trend'])} on the 90 before"
    if code == "payment_gap":
        days = v["days_since_purchase"]
        return "no supplier payment on record" if _nan(days) else f"{days:.0f} days"
    if code == "sector":
        return f"sector {v['sector']}"
    if code == "term":
        return f"{v['term_days']:.0f}-day term"
    return ""


def _count(n: float, noun: str) -> str:
    return f"{int(n)} {noun}{'' if int(n) == 1 else 's'}"


def _change(log_ratio: float) -> str:
    change = math.exp(log_ratio) - 1
    return f"{'down' if change < 0 else 'up'} {abs(change):.0%}"
