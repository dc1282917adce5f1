"""Point in time: a loan is scored only with what was known at its issued_at. Everything after
the moment (invoices, loans, defaults) is rewritten and the features and PDs must not move."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from vigil.credit.features import CreditHistory, loan_applicants, loan_features
from vigil.credit.model import CreditModel
from vigil.credit.scoring import CreditScorer

DAY = timedelta(days=1)


def _rewrite_after(world: dict[str, pl.DataFrame], cut, seed: int = 0) -> dict[str, pl.DataFrame]:
    """The same world up to ``cut``; from ``cut`` on, another one: invoices dropped, resized
    and invented (new relationships too), loans' outcomes flipped, defaults added and removed."""
    rng = np.random.default_rng(seed)
    trade, loans, firms = world["trade"], world["loans"], world["businesses"]
    before, after = trade.filter(pl.col("ts") < cut), trade.filter(pl.col("ts") >= cut)
    after = after.filter(pl.Series(rng.random(after.height) < 0.7))
    after = after.with_columns(pl.col("amount") * pl.Series(rng.integers(1, 6, after.height)))
    ids = firms["business_id"].to_numpy()
    currency = dict(zip(firms["business_id"], firms["currency"], strict=True))
    n = 3_000
    supplier, buyer = rng.choice(ids, n), rng.choice(ids, n)
    keep = supplier != buyer
    invented = pl.DataFrame(
        {
            "supplier_id": supplier[keep],
            "buyer_id": buyer[keep],
            "ts": [cut + DAY * float(d) for d in rng.random(int(keep.sum())) * 60],
            "amount": rng.integers(10_000, 10_000_000, int(keep.sum())),
            "currency": [currency[s] for s in supplier[keep]],
        }
    ).cast(trade.schema)
    trade = pl.concat([before, after, invented]).sort("ts")

    flip = pl.Series(rng.random(loans.height) < 0.5)
    term_end = pl.col("issued_at") + pl.duration(days=pl.col("term_days"))
    later = pl.max_horizontal(pl.col("issued_at"), pl.lit(cut)) + pl.duration(hours=1)
    loans = (
        loans.with_columns(
            # Outcomes known only from cut on are rewritten: flipped, with a new default time.
            pl.when((pl.col("defaulted_at") >= cut) | pl.col("defaulted_at").is_null() & flip)
            .then(pl.lit(True) ^ pl.col("defaulted"))
            .otherwise(pl.col("defaulted"))
            .alias("new_defaulted"),
        )
        .with_columns(
            pl.when(
                pl.col("new_defaulted")
                & (pl.col("defaulted_at").is_null() | (pl.col("defaulted_at") >= cut))
            )
            .then(later)
            .when(pl.col("new_defaulted"))
            .then(pl.col("defaulted_at"))
            .otherwise(None)
            .alias("defaulted_at"),
            pl.col("new_defaulted").alias("defaulted"),
        )
        .drop("new_defaulted")
    )
    # A rewritten default must fall inside the loan's term; where it cannot, the loan is repaid.
    late = (
        pl.col("defaulted") & (pl.col("defaulted_at") > term_end) & (pl.col("defaulted_at") >= cut)
    )
    loans = loans.with_columns(
        pl.when(late).then(False).otherwise(pl.col("defaulted")).alias("defaulted"),
        pl.when(late).then(None).otherwise(pl.col("defaulted_at")).alias("defaulted_at"),
    )
    extra = (
        loans.filter(pl.col("issued_at") < cut)
        .head(200)
        .with_columns(
            pl.col("loan_id") + "x",
            (pl.lit(cut) + pl.duration(days=pl.int_range(200) % 50)).alias("issued_at"),
            pl.lit(True).alias("defaulted"),
        )
        .with_columns((pl.col("issued_at") + pl.duration(days=3)).alias("defaulted_at"))
    )
    return {
        "businesses": firms,
        "trade": trade,
        "loans": pl.concat([loans, extra.select(loans.columns)]),
    }


def _same(a: pl.DataFrame, b: pl.DataFrame) -> None:
    assert a.columns == b.columns
    for column in a.columns:
        x, y = a[column].to_numpy(), b[column].to_numpy()
        if x.dtype.kind == "f":
            np.testing.assert_array_equal(x, y, err_msg=column)  # NaN == NaN, else bit-equal
        else:
            assert (x == y).all(), column


def test_rewriting_everything_after_issue_leaves_features_and_pd_unchanged(
    world: dict[str, pl.DataFrame], history: CreditHistory, model: CreditModel
) -> None:
    cut = world["loans"]["issued_at"].sort()[int(world["loans"].height * 0.6)]
    other_world = _rewrite_after(world, cut)
    assert not other_world["trade"].equals(world["trade"])
    other = CreditHistory(*(other_world[n] for n in ("businesses", "trade", "loans")))

    loans = world["loans"].filter(
        pl.col("issued_at").is_between(cut - 60 * DAY, cut, closed="both")
    )
    assert loans.height > 200
    mine, theirs = loan_features(history, loans), loan_features(other, loans)
    _same(mine, theirs)
    pd_mine = CreditScorer(model, history).score_loans(loans)["pd"]
    pd_theirs = CreditScorer(model, other).score_loans(loans)["pd"]
    assert (pd_mine == pd_theirs).all()

    # The rewrite is not a no-op: loans issued after the cut do see it.
    later = world["loans"].filter(pl.col("issued_at") > cut + 40 * DAY).head(300)
    changed = loan_features(history, later)["log_sales"] != loan_features(other, later)["log_sales"]
    assert changed.sum() > 30


def test_a_default_counts_only_once_it_has_happened(
    world: dict[str, pl.DataFrame], history: CreditHistory
) -> None:
    loans = world["loans"].filter(pl.col("issued_at") > world["loans"]["issued_at"].median())
    applicants = loan_applicants(history, loans)
    pairs = history.trade.pairs(applicants.firm, applicants.as_of)
    # A loan with one buyer that never defaults: give that buyer a default around issue time.
    clean = ~np.isin(pairs.counterparty, np.flatnonzero(history.firms.default_time < 2**62))
    ok = pairs.is_buyer & (pairs.usd_365 > 0) & clean
    k = int(np.flatnonzero(ok)[0])
    row, buyer = int(pairs.row[k]), int(pairs.counterparty[k])
    loan = loans[row]
    issued = loan["issued_at"][0]
    buyer_id = history.firms.ids[buyer]

    def share_with_default_at(when) -> float:
        default = loan.with_columns(
            pl.lit(buyer_id).alias("business_id"),
            pl.lit("L-buyer").alias("loan_id"),
            pl.lit(issued - 200 * DAY).alias("issued_at"),
            pl.lit(365, pl.Int64).alias("term_days"),
            pl.lit(True).alias("defaulted"),
            pl.lit(when).cast(pl.Datetime("us", "UTC")).alias("defaulted_at"),
        )
        tables = dict(world, loans=pl.concat([world["loans"], default]))
        h = CreditHistory(*(tables[n] for n in ("businesses", "trade", "loans")))
        return float(loan_features(h, loan)["buyer_default_share"][0])

    base = float(loan_features(history, loan)["buyer_default_share"][0])
    assert base == 0.0
    assert share_with_default_at(issued - DAY) > 0.0  # known a day before: counts
    assert share_with_default_at(issued) == base  # at the very moment: not yet known
    assert share_with_default_at(issued + DAY) == base


def test_an_invoice_counts_strictly_before_the_moment(
    world: dict[str, pl.DataFrame], history: CreditHistory
) -> None:
    loan = world["loans"].filter(pl.col("issued_at") > world["loans"]["issued_at"].median())[0]
    issued = loan["issued_at"][0]
    firm_id = loan["business_id"][0]
    firms = world["businesses"]
    other = firms.filter(pl.col("business_id") != firm_id)[0]

    def purchases_with_invoice_at(when) -> float:
        invoice = pl.DataFrame(
            {
                "supplier_id": [other["business_id"][0]],
                "buyer_id": [firm_id],
                "ts": [when],
                "amount": [50_000_000],
                "currency": [other["currency"][0]],
            }
        ).cast(world["trade"].schema)
        tables = dict(world, trade=pl.concat([world["trade"], invoice]))
        h = CreditHistory(*(tables[n] for n in ("businesses", "trade", "loans")))
        return float(loan_features(h, loan)["log_purchases"][0])

    base = float(loan_features(history, loan)["log_purchases"][0])
    assert purchases_with_invoice_at(issued - timedelta(microseconds=1)) > base
    assert purchases_with_invoice_at(issued) == base
