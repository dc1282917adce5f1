"""One feature path: a loan scored in a batch, the same firm scored by id, and the same firm
sent as a record with its own invoices all get the same PD; the model survives a reload."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from vigil.credit.features import CreditHistory, loan_features, record_features
from vigil.credit.model import CreditModel, CreditModelError, Platt
from vigil.credit.scoring import CreditScorer, Loan


def _a_loan(world: dict[str, pl.DataFrame]) -> pl.DataFrame:
    loans = world["loans"].sort("issued_at")
    return loans[int(loans.height * 0.8) : int(loans.height * 0.8) + 1]


def test_by_id_and_by_record_agree_with_the_batch(
    scorer: CreditScorer, history: CreditHistory, world: dict[str, pl.DataFrame]
) -> None:
    loan = _a_loan(world)
    row = loan.row(0, named=True)
    batch = scorer.score_loans(loan)
    terms = Loan(row["amount"], row["currency"], row["term_days"])
    by_id = scorer.score_business(row["business_id"], row["issued_at"], terms)
    assert by_id.pd == pytest.approx(float(batch["pd"][0]), rel=1e-12)
    assert by_id.grade == batch["grade"][0]

    firm = world["businesses"].filter(pl.col("business_id") == row["business_id"])
    own = world["trade"].filter(
        (pl.col("supplier_id") == row["business_id"]) | (pl.col("buyer_id") == row["business_id"])
    )
    record = scorer.score_record(firm.row(0, named=True), own, terms, row["issued_at"])
    assert record.pd == pytest.approx(by_id.pd, rel=1e-9)
    assert [r.code for r in record.reasons] == [r.code for r in by_id.reasons]

    # A record's features are the batch's, whatever order the invoices come in.
    moment = int(row["issued_at"].timestamp() * 1e6)
    shuffled = own.sample(fraction=1.0, shuffle=True, seed=3)
    sent = record_features(
        history, firm.row(0, named=True), shuffled, terms.amount_usd, row["term_days"], moment
    )
    known = loan_features(history, loan)
    for column in known.columns:
        if column != "sector":
            np.testing.assert_allclose(
                sent[column].to_numpy(), known[column].to_numpy(), rtol=1e-9, err_msg=column
            )


def test_a_new_firm_is_scored_through_its_partners(
    scorer: CreditScorer, world: dict[str, pl.DataFrame]
) -> None:
    firm = dict(world["businesses"].row(0, named=True), business_id="NEW-1")
    partner = world["businesses"]["business_id"][10]
    when = world["trade"]["ts"].max()
    invoices = pl.DataFrame(
        {
            "supplier_id": ["NEW-1", "NEW-1", "UNKNOWN-9"],
            "buyer_id": [partner, partner, "NEW-1"],
            "ts": [when, when, when],
            "amount": [5_000_000, 7_000_000, 1_000],
            "currency": ["SGD"] * 3,
        }
    ).cast(world["trade"].schema)
    result = scorer.score_record(firm, invoices)
    assert 0 < result.pd < 1 and not result.known_firm and result.loan.assumed
    empty = scorer.score_record(firm, invoices.head(0))
    assert 0 < empty.pd < 1


def test_unknown_firm_by_id_is_a_key_error(scorer: CreditScorer) -> None:
    with pytest.raises(KeyError):
        scorer.score_business("NO-SUCH-FIRM")


def test_model_round_trips_through_its_folder(
    model: CreditModel, history: CreditHistory, world: dict[str, pl.DataFrame], tmp_path: Path
) -> None:
    model.save(tmp_path / "m")
    again = CreditModel.load(tmp_path / "m")
    frame = loan_features(history, world["loans"].tail(100))
    np.testing.assert_array_equal(again.pd(again.matrix(frame)), model.pd(model.matrix(frame)))
    assert again.version == model.version and again.features == model.features
    with pytest.raises(CreditModelError):
        CreditModel.load(tmp_path)


def test_platt_falls_back_to_an_intercept_when_defaults_are_few() -> None:
    rng = np.random.default_rng(0)
    margin = rng.normal(size=4_000)
    labels = rng.random(4_000) < 1 / (1 + np.exp(-(2 * margin - 3)))
    fitted = Platt.fit(margin, labels)
    assert fitted.slope == pytest.approx(2, abs=0.25) and fitted.intercept == pytest.approx(
        -3, abs=0.3
    )
    few = Platt.fit(margin[:200], labels[:200], min_defaults_for_slope=10_000)
    assert few.slope == 1.0
    assert few(margin[:200]).mean() == pytest.approx(labels[:200].mean(), abs=0.02)
