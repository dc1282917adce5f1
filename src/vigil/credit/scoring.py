"""Scoring applicants: features → PD → score, grade and reasons, for one firm or a batch.

:class:`CreditScorer` holds a trained :class:`~vigil.credit.model.CreditModel` and the
:class:`~vigil.credit.features.CreditHistory` it reads; the CLI and the API are thin shells
over it. A firm scored by id without a loan in the request is scored for a loan like its
latest one (or, with none on record, a quarter of its revenue over 180 days, a typical
working-capital line), and the response says the loan was assumed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from vigil.credit.features import (
    BY_NAME,
    Applicants,
    CreditHistory,
    feature_frame,
    loan_features,
    record_features,
)
from vigil.credit.model import CreditModel
from vigil.credit.network import NetworkParams, usd_cents
from vigil.credit.scorecard import Reason, Scaling, grade_of, reasons
from vigil.money import USD_CENTS_PER_MINOR

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The loan assumed for a firm with none on record: this share of revenue, over this term.
ASSUMED_LOAN_SHARE = 0.25
ASSUMED_TERM_DAYS = 180


def to_datetime(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(us))


def to_micros(moment: datetime) -> int:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True)
class Loan:
    amount: int  #: minor units of ``currency``
    currency: str
    term_days: int
    assumed: bool = False

    @property
    def amount_usd(self) -> float:
        return float(usd_cents(np.array([self.amount]), pl.Series([self.currency]))[0]) / 100.0


@dataclass(frozen=True)
class CreditScore:
    business_id: str
    as_of: datetime
    pd: float
    score: float
    grade: str
    reasons: list[Reason]
    loan: Loan
    model_version: str
    known_firm: bool = True  #: the world knew the firm (else it came as a record)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "business_id": self.business_id,
            "as_of": self.as_of.isoformat().replace("+00:00", "Z"),
            "pd": round(self.pd, 6),
            "score": round(self.score, 1),
            "grade": self.grade,
            "reasons": [r.to_dict() for r in self.reasons],
            "loan": {
                "amount": self.loan.amount,
                "currency": self.loan.currency,
                "term_days": self.loan.term_days,
                "assumed": self.loan.assumed,
            },
            "model_version": self.model_version,
            "known_firm": self.known_firm,
        }


class CreditScorer:
    def __init__(
        self,
        model: CreditModel,
        history: CreditHistory,
        scaling: Scaling | None = None,
        top_reasons: int = 4,
        data_dir: Path | None = None,
    ):
        self.model = model
        self.data_dir = data_dir  #: where the history was read from, if from a folder
        self.history = history
        self.scaling = scaling or Scaling()
        self.top_reasons = top_reasons
        self._codes = {name: BY_NAME[name].reason for name in model.features}
        # Each unit of margin moves log-odds by the slope, and a unit of log-odds (good:bad,
        # the other sign) is worth `factor` points: a contribution costs this many points.
        self.points_per_margin = self.scaling.factor * model.calibration.slope

    @classmethod
    def load(cls, models: Path, data: Path | None = None) -> CreditScorer:
        """The model in ``models`` over the world in ``data`` (default: the one it was trained
        on, as recorded in its manifest)."""
        model = CreditModel.load(models)
        source = data if data is not None else model.info.get("data")
        if source is None:
            raise FileNotFoundError(f"{models}: no data folder recorded; pass one")
        params = NetworkParams(**model.info.get("network", {}))
        history = CreditHistory.from_dir(Path(source), params=params)
        return cls(model, history, data_dir=Path(source))

    # -- batch ---------------------------------------------------------------------------

    def assess(self, features: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, list[list[Reason]]]:
        """PD, score and reasons of each row of a feature frame."""
        matrix = self.model.matrix(features)
        contributions = self.model.contributions(matrix)
        pd = self.model.calibration(contributions.sum(axis=1))
        score = self.scaling.score(pd)
        rows = features.to_dicts()  # every feature, for the reason texts
        why = [
            reasons(
                c,
                self.model.features,
                self._codes,
                rows[i],
                self.points_per_margin,
                top=self.top_reasons,
            )
            for i, c in enumerate(contributions)
        ]
        return pd, score, why

    def score_loans(self, loans: pl.DataFrame) -> pl.DataFrame:
        """Every loan scored at its own ``issued_at``: loan_id, business_id, issued_at, pd,
        score, grade, reasons (JSON), and ``defaulted`` where the frame has it."""
        frame = loan_features(self.history, loans)
        pd, score, why = self.assess(frame)
        keep = [
            c for c in ("loan_id", "business_id", "issued_at", "defaulted") if c in loans.columns
        ]
        return loans.select(keep).with_columns(
            pl.Series("pd", pd),
            pl.Series("score", np.round(score, 1)),
            pl.Series("grade", [grade_of(s, self.scaling) for s in score]),
            pl.Series("reasons", [json.dumps([r.to_dict() for r in w]) for w in why]),
        )

    # -- one applicant ---------------------------------------------------------------------

    def score_business(
        self,
        business_id: str,
        as_of: datetime | None = None,
        loan: Loan | None = None,
    ) -> CreditScore:
        """A firm the world knows, as of ``as_of`` (default: just after the last event)."""
        h = self.history
        firm = h.index_of(business_id)
        if firm < 0:
            raise KeyError(business_id)
        moment = h.end_us if as_of is None else to_micros(as_of)
        loan = loan or self._assumed_loan(firm, moment)
        f = h.firms
        applicants = Applicants(
            firm=np.array([firm], dtype=np.int64),
            as_of=np.array([moment], dtype=np.int64),
            amount_usd=np.array([loan.amount_usd]),
            term_days=np.array([float(loan.term_days)]),
            revenue_usd=f.revenue_usd[[firm]],
            employees=f.employees[[firm]],
            founded_us=f.founded_us[[firm]],
            sector=f.sector[[firm]],
        )
        pairs = h.trade.pairs(np.array([firm]), np.array([moment]))
        return self._one(business_id, moment, loan, feature_frame(h, applicants, pairs), True)

    def score_record(
        self,
        business: Mapping[str, Any],
        invoices: pl.DataFrame,
        loan: Loan | None = None,
        as_of: datetime | None = None,
    ) -> CreditScore:
        """A firm sent as a ``businesses`` record with its own ``trade`` rows."""
        moment = self.history.end_us if as_of is None else to_micros(as_of)
        if loan is None:
            revenue = int(business["annual_revenue"])
            loan = Loan(
                round(revenue * ASSUMED_LOAN_SHARE),
                str(business["currency"]),
                ASSUMED_TERM_DAYS,
                assumed=True,
            )
        frame = record_features(
            self.history, business, invoices, loan.amount_usd, loan.term_days, moment
        )
        known = self.history.index_of(str(business["business_id"])) >= 0
        return self._one(str(business["business_id"]), moment, loan, frame, known)

    def _one(
        self, business_id: str, moment: int, loan: Loan, frame: pl.DataFrame, known: bool
    ) -> CreditScore:
        pd, score, why = self.assess(frame)
        return CreditScore(
            business_id=business_id,
            as_of=to_datetime(moment),
            pd=float(pd[0]),
            score=float(score[0]),
            grade=grade_of(float(score[0]), self.scaling),
            reasons=why[0],
            loan=loan,
            model_version=self.model.version,
            known_firm=known,
        )

    def _assumed_loan(self, firm: int, moment: int) -> Loan:
        h = self.history
        currency = str(h.firms.currency[firm])
        revenue_usd = h.firms.revenue_usd[firm]
        _, last = h.loans.before(np.array([firm]), moment)
        share, term = ASSUMED_LOAN_SHARE, ASSUMED_TERM_DAYS
        if last[0] >= 0 and h.loans.value is not None:
            share, term = (float(x) for x in h.loans.value[last[0]])
        minor = round(share * revenue_usd * 100.0 / USD_CENTS_PER_MINOR[currency])
        return Loan(max(int(minor), 1), currency, int(term), assumed=True)
