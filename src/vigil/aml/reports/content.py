"""What a suspicious transaction report says, independent of how it is written out.

A report is built from a case (its alerts' evidence is the reason text), the transactions its
alerts name (read from the world's ``transactions`` table), the accounts (for names and for
telling the platform's own clients from outside parties) and the reporting entity. XML and CSV
(:mod:`.goaml`, :mod:`.tabular`) write the same content.

Amounts are kept in minor units here and converted to decimal major units only when written;
an amount in another currency than the jurisdiction's is also given in local currency at the
reference rates of :mod:`vigil.money` (configuration, not market data, so a report can be
reproduced), with the original amount alongside.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

import polars as pl

from vigil.aml.cases.model import Case, CaseStatus
from vigil.money import MINOR_UNIT_EXPONENT, USD_PER_UNIT
from vigil.schema.tables import CURRENCY_OF

#: Only these cases are reported: suspicion confirmed by a reviewer or pending their decision.
REPORTABLE = (CaseStatus.ESCALATED, CaseStatus.CLOSED_TRUE_POSITIVE)
_CENT = Decimal("0.01")


class ReportError(ValueError):
    """A report that cannot be built or does not validate; the message says why."""


@dataclass(frozen=True, slots=True)
class ReportingEntity:
    """Who files: the FIU's id for the platform, and optionally a branch and a contact."""

    rentity_id: str = "VIGIL-DEMO"
    name: str = "Vigil demo payments platform"
    branch: str | None = None
    person: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Party:
    account_id: str
    name: str | None
    country: str | None
    client: bool  #: an account of the reporting entity ("my client" in goAML)


@dataclass(frozen=True, slots=True)
class ReportedTransaction:
    txn_id: str
    ts: datetime
    amount: int  #: minor units of ``currency``
    currency: str
    channel: str
    jurisdiction: str
    payer: Party
    payee: Party
    typology: str  #: of the first alert naming it

    def major(self) -> Decimal:
        return to_major(self.amount, self.currency)


@dataclass(frozen=True, slots=True)
class Report:
    case: Case
    entity: ReportingEntity
    submitted_at: datetime
    currency_local: str
    reason: str
    action: str
    transactions: tuple[ReportedTransaction, ...]
    indicators: tuple[str, ...]  #: the case's typologies

    def local_amount(self, txn: ReportedTransaction) -> Decimal:
        return convert(txn.amount, txn.currency, self.currency_local)


def to_major(amount: int, currency: str) -> Decimal:
    return (Decimal(amount) / 10 ** MINOR_UNIT_EXPONENT[currency]).quantize(_CENT, ROUND_HALF_UP)


def exchange_rate(source: str, target: str) -> Decimal:
    """Units of ``target`` per unit of ``source`` at the reference rates."""
    rate = Decimal(str(USD_PER_UNIT[source])) / Decimal(str(USD_PER_UNIT[target]))
    return rate.quantize(Decimal("0.000001"), ROUND_HALF_UP)


def convert(amount: int, currency: str, target: str) -> Decimal:
    major = Decimal(amount) / 10 ** MINOR_UNIT_EXPONENT[currency]
    if currency != target:
        major *= exchange_rate(currency, target)
    return max(major.quantize(_CENT, ROUND_HALF_UP), _CENT)


def build_report(
    case: Case,
    transactions: pl.DataFrame,
    *,
    accounts: pl.DataFrame | None = None,
    entity: ReportingEntity | None = None,
    now: datetime | None = None,
) -> Report:
    """The report of ``case``; every transaction its alerts name must be in ``transactions``."""
    if case.status not in REPORTABLE:
        allowed = " or ".join(REPORTABLE)
        raise ReportError(
            f"case {case.case_id} is {case.status}; only {allowed} cases are reported"
        )
    wanted = case.txn_ids
    rows = {
        r["txn_id"]: r
        for r in transactions.filter(pl.col("txn_id").is_in(list(wanted))).iter_rows(named=True)
    }
    missing = [t for t in wanted if t not in rows]
    if missing:
        raise ReportError(f"case {case.case_id}: transactions not found: {', '.join(missing)}")
    people = _accounts(accounts)
    typology = {t: a.typology for a in reversed(case.alerts) for t in a.txn_ids}
    reported = tuple(
        ReportedTransaction(
            txn_id=t,
            ts=rows[t]["ts"],
            amount=rows[t]["amount"],
            currency=rows[t]["currency"],
            channel=rows[t]["channel"],
            jurisdiction=rows[t]["jurisdiction"],
            payer=_party(rows[t]["payer_id"], rows[t].get("payer_country"), people),
            payee=_party(rows[t]["payee_id"], rows[t].get("payee_country"), people),
            typology=typology[t],
        )
        for t in sorted(wanted, key=lambda t: (rows[t]["ts"], t))
    )
    return Report(
        case=case,
        entity=entity or ReportingEntity(),
        submitted_at=(now or datetime.now(UTC)).astimezone(UTC),
        currency_local=CURRENCY_OF.get(case.jurisdiction, "USD"),
        reason=_reason(case),
        action=_action(case),
        transactions=reported,
        indicators=tuple(dict.fromkeys(a.typology for a in case.alerts)),
    )


def _accounts(accounts: pl.DataFrame | None) -> Mapping[str, tuple[str | None, str | None]]:
    if accounts is None:
        return {}
    names = accounts["name"] if "name" in accounts.columns else [None] * accounts.height
    return dict(
        zip(accounts["account_id"], zip(names, accounts["country"], strict=True), strict=True)
    )


def _party(
    account_id: str, country: str | None, people: Mapping[str, tuple[str | None, str | None]]
) -> Party:
    name, home = people.get(account_id, (None, None))
    return Party(account_id, name, country or home, account_id in people)


def _reason(case: Case) -> str:
    """The grounds for suspicion: every alert's evidence, in the order it was raised."""
    lines = [
        f"{a.ts.astimezone(UTC):%Y-%m-%d %H:%M} UTC, {a.typology} (score {a.score:.2f}): "
        f"{a.summary.rstrip('. ')}."
        for a in case.alerts
    ]
    return f"Subject account {case.subject}. " + " ".join(lines)


def _action(case: Case) -> str:
    closed = f" on {case.closed_at:%Y-%m-%d}" if case.closed_at else ""
    owner = f", investigated by {case.assignee}" if case.assignee else ""
    return (
        f"Case {case.case_id} opened {case.opened_at:%Y-%m-%d}{owner}; status {case.status}"
        f"{closed}. {len(case.alerts)} alert(s), {len(case.txn_ids)} transaction(s) reported."
    )
