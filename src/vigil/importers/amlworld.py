"""IBM Transactions for Anti-Money Laundering, "AMLworld" (Altman et al., NeurIPS 2023).

Published layout, e.g. ``HI-Small_Trans.csv`` (note the two columns both named ``Account``,
the payer's and the payee's)::

    Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,
    Amount Paid,Payment Currency,Payment Format,Is Laundering

How it lands in the contract:

* ``ts`` from ``Timestamp`` (``2022/09/01 00:20``, taken as UTC); ``txn_id`` is ``AML`` and
  the data row number. The file is not in time order; the contract's readers sort it.
* ``payer_id`` is ``From Bank:Account`` and ``payee_id`` ``To Bank:Account``: account numbers
  repeat across banks, so the bank is part of the key (bank codes keep their leading zeros).
* ``amount`` and ``currency`` are what was paid. Currencies are named in words ("US Dollar",
  "Yuan"); those Vigil holds a reference rate for keep their ISO code, the others (Canadian
  dollar, Swiss franc, rouble, peso, shekel, real, riyal, bitcoin) are converted to US dollars
  at the rate the file itself implies (the median of its cross-currency payments against US
  dollars), else at a fixed reference rate, so every amount can be compared. The paid and
  received amounts and currencies are kept as extra columns either way.
* ``Payment Format`` gives the channel (Credit Card -> card, Cash -> cash_out, Bitcoin ->
  wallet, ACH / Wire / Cheque / Reinvestment -> transfer) and is kept as an extra column.
* ``Is Laundering`` is ``is_fraud``. With ``--patterns`` (the ``*_Patterns.txt`` file shipped
  beside it) each laundering payment gets its typology (fan_out, fan_in, cycle, bipartite,
  stack, gather_scatter, scatter_gather, random); otherwise it is ``laundering``.
* ``--jurisdiction`` (default ZZ, "unknown") books every payment.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from vigil.importers.common import ROW, ImportSummary, check_header, lookup, read_chunks, typed
from vigil.money import MINOR_UNIT_EXPONENT, USD_CENTS_PER_MINOR
from vigil.schema.io import TableWriter
from vigil.schema.validate import SchemaError

DATASET = "AMLworld"
PUBLISHED = (
    "Timestamp",
    "From Bank",
    "Account",
    "To Bank",
    "Account",
    "Amount Received",
    "Receiving Currency",
    "Amount Paid",
    "Payment Currency",
    "Payment Format",
    "Is Laundering",
)
#: Our names for the published columns (the two "Account" columns told apart).
NAMES = (
    "timestamp",
    "from_bank",
    "from_account",
    "to_bank",
    "to_account",
    "amount_received",
    "receiving_currency",
    "amount_paid",
    "payment_currency",
    "payment_format",
    "is_laundering",
)
LABEL = dict(zip(NAMES, PUBLISHED, strict=True))
LABEL["to_account"] = "Account (second)"
CURRENCIES = {
    "US Dollar": "USD",
    "Euro": "EUR",
    "Yuan": "CNY",
    "Yen": "JPY",
    "UK Pound": "GBP",
    "Rupee": "INR",
    "Australian Dollar": "AUD",
    "Canadian Dollar": "CAD",
    "Swiss Franc": "CHF",
    "Ruble": "RUB",
    "Mexican Peso": "MXN",
    "Shekel": "ILS",
    "Brazil Real": "BRL",
    "Saudi Riyal": "SAR",
    "Bitcoin": "XBT",
}
#: US dollars per unit, used only where the file implies no rate of its own (approximate).
REFERENCE_USD = {
    "CAD": 0.73,
    "CHF": 1.13,
    "RUB": 0.011,
    "MXN": 0.055,
    "ILS": 0.27,
    "BRL": 0.18,
    "SAR": 0.27,
    "XBT": 60_000.0,
}
CHANNELS = {
    "ACH": "transfer",
    "Wire": "transfer",
    "Cheque": "transfer",
    "Reinvestment": "transfer",
    "Credit Card": "card",
    "Cash": "cash_out",
    "Bitcoin": "wallet",
}
TIME_FORMAT = "%Y/%m/%d %H:%M"
_PATTERN = re.compile(r"^BEGIN LAUNDERING ATTEMPT - ([A-Z][A-Z-]*)")


def import_amlworld(
    path: Path,
    out_dir: Path,
    patterns: Path | None = None,
    jurisdiction: str = "ZZ",
    fmt: str = "parquet",
    chunk: int = 250_000,
) -> ImportSummary:
    """Write an AMLworld ``*_Trans.csv`` as the ``transactions`` table of a world."""
    path, out_dir = Path(path), Path(out_dir)
    check_header(path, PUBLISHED, DATASET)
    typology = read_patterns(patterns) if patterns is not None else {}
    rates = implied_usd_rates(path)
    summary = ImportSummary(DATASET, path, out_dir)
    with TableWriter(out_dir, "transactions", fmt) as writer:
        for raw in read_chunks(path, NAMES, chunk):
            summary.rows_read += raw.height
            frame, raised = _convert(raw, rates, typology, jurisdiction)
            if raised:
                key = "amount below one minor unit, raised to one"
                summary.adjusted[key] = summary.adjusted.get(key, 0) + raised
            writer.write(frame)
            summary.add(frame)
    return summary


def usd_rates_needed() -> list[str]:
    """The file's currencies Vigil holds no reference rate for (converted to USD)."""
    return sorted(c for c in CURRENCIES.values() if c not in USD_CENTS_PER_MINOR)


def implied_usd_rates(path: Path) -> dict[str, float]:
    """US dollars per unit of each currency Vigil lacks, from the file's own cross-currency
    payments against US dollars (median), else the reference table."""
    text = pl.scan_csv(path, has_header=False, skip_rows=1, schema=dict.fromkeys(NAMES, pl.String))
    pairs = (
        text.select(
            pl.col("payment_currency").replace_strict(CURRENCIES, default=None).alias("paid_in"),
            pl.col("receiving_currency").replace_strict(CURRENCIES, default=None).alias("got_in"),
            pl.col("amount_paid").cast(pl.Float64, strict=False).alias("paid"),
            pl.col("amount_received").cast(pl.Float64, strict=False).alias("got"),
        )
        .filter(
            (pl.col("paid") > 0) & (pl.col("got") > 0) & (pl.col("paid_in") != pl.col("got_in"))
        )
        .filter((pl.col("paid_in") == "USD") | (pl.col("got_in") == "USD"))
        .select(
            pl.when(pl.col("paid_in") == "USD")
            .then(pl.col("got_in"))
            .otherwise(pl.col("paid_in"))
            .alias("currency"),
            pl.when(pl.col("paid_in") == "USD")
            .then(pl.col("paid") / pl.col("got"))
            .otherwise(pl.col("got") / pl.col("paid"))
            .alias("usd_per_unit"),
        )
        .group_by("currency")
        .agg(pl.col("usd_per_unit").median())
        .collect()
    )
    implied = dict(pairs.iter_rows())
    return {code: implied.get(code) or REFERENCE_USD[code] for code in usd_rates_needed()}


def read_patterns(path: Path) -> dict[str, str]:
    """Each laundering payment listed in a ``*_Patterns.txt`` file (its CSV line, as in the
    transactions file) -> its typology, e.g. ``fan_out``."""
    found: dict[str, str] = {}
    current: str | None = None
    with Path(path).open(encoding="utf-8") as handle:
        for line in handle:
            text = line.strip()
            if not text:
                continue
            if match := _PATTERN.match(text):
                current = match.group(1).lower().replace("-", "_")
            elif text.startswith("END LAUNDERING ATTEMPT"):
                current = None
            elif current is not None:
                found[text] = current
    return found


def _convert(
    raw: pl.DataFrame, rates: dict[str, float], typology: dict[str, str], jurisdiction: str
) -> tuple[pl.DataFrame, int]:
    def number(name: str) -> pl.Series:
        return typed(raw, name, pl.Float64, DATASET, LABEL[name])

    ts = raw.get_column("timestamp").str.strptime(pl.Datetime("us"), TIME_FORMAT, strict=False)
    bad = ts.is_null()
    if bad.any():
        i = int(bad.arg_true()[0])
        raise SchemaError(
            DATASET,
            "Timestamp",
            f"expected a time like 2022/09/01 00:20, got {raw.get_column('timestamp')[i]!r}",
            int(raw.get_column(ROW)[i]),
        )
    paid, received = number("amount_paid"), number("amount_received")
    paid_in = lookup(raw, "payment_currency", CURRENCIES, DATASET, "Payment Currency")
    got_in = lookup(raw, "receiving_currency", CURRENCIES, DATASET, "Receiving Currency")
    laundering = typed(raw, "is_laundering", pl.Int8, DATASET, "Is Laundering") == 1
    known = paid_in.is_in(list(USD_CENTS_PER_MINOR))
    exponent = paid_in.replace_strict(MINOR_UNIT_EXPONENT, default=2, return_dtype=pl.Int64)
    usd = paid_in.replace_strict(rates, default=1.0, return_dtype=pl.Float64)
    frame = pl.DataFrame({"paid": paid, "known": known, "exp": exponent, "usd": usd}).select(
        pl.when(pl.col("known"))
        .then((pl.col("paid") * pl.lit(10.0).pow(pl.col("exp")) + 0.5).floor())
        .otherwise((pl.col("paid") * pl.col("usd") * 100 + 0.5).floor())
        .cast(pl.Int64)
        .alias("amount")
    )
    amount = frame.get_column("amount")
    raised = int((amount < 1).sum())
    amount = amount.clip(lower_bound=1)
    if typology:
        line = raw.select(
            pl.concat_str([pl.col(n) for n in NAMES], separator=",").fill_null("")
        ).to_series()
        kind = line.replace_strict(typology, default="laundering", return_dtype=pl.String)
    else:
        kind = pl.Series(["laundering"] * raw.height, dtype=pl.String)
    rows = raw.get_column(ROW)
    return (
        pl.DataFrame(
            {
                "txn_id": "AML" + rows.cast(pl.String).str.zfill(9),
                "ts": ts.dt.replace_time_zone("UTC"),
                "payer_id": raw.get_column("from_bank") + ":" + raw.get_column("from_account"),
                "payee_id": raw.get_column("to_bank") + ":" + raw.get_column("to_account"),
                "amount": amount,
                "currency": paid_in.zip_with(known, pl.Series(["USD"] * raw.height)),
                "channel": lookup(raw, "payment_format", CHANNELS, DATASET, "Payment Format"),
                "jurisdiction": [jurisdiction] * raw.height,
                "is_fraud": laundering,
                "typology": kind.zip_with(laundering, pl.Series(["legit"] * raw.height)),
                "from_bank": raw.get_column("from_bank"),
                "to_bank": raw.get_column("to_bank"),
                "amount_paid": paid,
                "payment_currency": paid_in,
                "amount_received": received,
                "receiving_currency": got_in,
                "payment_format": raw.get_column("payment_format"),
            }
        ),
        raised,
    )
