"""PaySim (Lopez-Rojas et al., 2016): a month of simulated mobile-money payments.

Published layout, one CSV with a header::

    step,type,amount,nameOrig,oldbalanceOrg,newbalanceOrig,nameDest,oldbalanceDest,
    newbalanceDest,isFraud,isFlaggedFraud

How it lands in the contract:

* ``step`` counts hours from the start of the simulation (1 is the first hour): ``ts`` is
  ``--start`` plus ``step - 1`` hours. PaySim has no finer time, so payments of one step share
  their instant (file order breaks the tie, as the contract's readers do).
* ``txn_id`` is ``PS`` and the data row number, so an id leads back to its line.
* ``type`` gives the channel: CASH_IN -> cash_in, CASH_OUT -> cash_out, TRANSFER and DEBIT ->
  transfer, PAYMENT -> wallet (payments to merchants from a mobile wallet).
* ``amount`` is in major units of an unnamed currency: it is written in minor units of
  ``--currency`` (default USD). PaySim has a few zero amounts; the contract requires > 0, so
  they are skipped and counted.
* ``isFraud`` is ``is_fraud``; PaySim's fraud is account takeover (an agent takes over an
  account, transfers its balance out and cashes it out), so fraud rows get that typology.
* The balances, ``type`` and ``isFlaggedFraud`` (the simulated bank's own rule flag) are kept
  as extra columns, which the model uses as features. PaySim's balances are known to leak the
  label (a fraud empties the account); exclude them in a mapping to measure without them.
* There is no country, device or IP; ``--jurisdiction`` (default ZZ, "unknown") books every
  payment, so the base rule pack applies.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from vigil.importers.common import ROW, ImportSummary, check_header, lookup, read_chunks, typed
from vigil.money import MINOR_UNIT_EXPONENT
from vigil.schema.io import TableWriter
from vigil.schema.validate import SchemaError

DATASET = "PaySim"
COLUMNS = (
    "step",
    "type",
    "amount",
    "nameOrig",
    "oldbalanceOrg",
    "newbalanceOrig",
    "nameDest",
    "oldbalanceDest",
    "newbalanceDest",
    "isFraud",
    "isFlaggedFraud",
)
CHANNELS = {
    "CASH_IN": "cash_in",
    "CASH_OUT": "cash_out",
    "TRANSFER": "transfer",
    "DEBIT": "transfer",
    "PAYMENT": "wallet",
}
BALANCES = ("oldbalanceOrg", "newbalanceOrig", "oldbalanceDest", "newbalanceDest")
FRAUD_TYPOLOGY = "account_takeover"


def import_paysim(
    path: Path,
    out_dir: Path,
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC),
    currency: str = "USD",
    jurisdiction: str = "ZZ",
    fmt: str = "parquet",
    chunk: int = 250_000,
) -> ImportSummary:
    """Write PaySim's CSV at ``path`` as the ``transactions`` table of a world in ``out_dir``."""
    path, out_dir = Path(path), Path(out_dir)
    if currency not in MINOR_UNIT_EXPONENT:
        raise SchemaError(
            DATASET, "currency", f"no minor-unit exponent known for {currency!r}; "
            f"choose from {', '.join(sorted(MINOR_UNIT_EXPONENT))}"
        )  # fmt: skip
    check_header(path, COLUMNS, DATASET)
    summary = ImportSummary(DATASET, path, out_dir)
    scale = 10 ** MINOR_UNIT_EXPONENT[currency]
    with TableWriter(out_dir, "transactions", fmt) as writer:
        for raw in read_chunks(path, COLUMNS, chunk):
            summary.rows_read += raw.height
            frame = _convert(raw, start, scale, currency, jurisdiction)
            zero = frame.get_column("amount") <= 0
            if zero.any():
                summary.skipped["amount is zero"] = summary.skipped.get("amount is zero", 0) + int(
                    zero.sum()
                )
                frame = frame.filter(~zero)
            writer.write(frame)
            summary.add(frame)
    return summary


def _convert(
    raw: pl.DataFrame, start: datetime, scale: int, currency: str, jurisdiction: str
) -> pl.DataFrame:
    def number(name: str, dtype: pl.DataType) -> pl.Series:
        return typed(raw, name, dtype, DATASET, name)

    step = number("step", pl.Int64)
    if (step < 1).any():
        i = int((step < 1).arg_true()[0])
        raise SchemaError(DATASET, "step", f"expected a step >= 1, got {step[i]}",
                          int(raw.get_column(ROW)[i]))  # fmt: skip
    amount = number("amount", pl.Float64)
    flags = {name: number(name, pl.Int8) for name in ("isFraud", "isFlaggedFraud")}
    for name, values in flags.items():
        bad = ~values.is_in([0, 1])
        if bad.any():
            i = int(bad.arg_true()[0])
            raise SchemaError(DATASET, name, f"expected 0 or 1, got {values[i]}",
                              int(raw.get_column(ROW)[i]))  # fmt: skip
    fraud = flags["isFraud"] == 1
    rows = raw.get_column(ROW)
    return pl.DataFrame(
        {
            "txn_id": "PS" + rows.cast(pl.String).str.zfill(9),
            "ts": _hours_after(start, step),
            "payer_id": raw.get_column("nameOrig"),
            "payee_id": raw.get_column("nameDest"),
            "amount": (amount * scale + 0.5).floor().cast(pl.Int64),
            "currency": [currency] * raw.height,
            "channel": lookup(raw, "type", CHANNELS, DATASET, "type"),
            "jurisdiction": [jurisdiction] * raw.height,
            "is_fraud": fraud,
            "typology": fraud.replace_strict(
                {True: FRAUD_TYPOLOGY, False: "legit"}, return_dtype=pl.String
            ),
            "type": raw.get_column("type"),
            **{name: number(name, pl.Float64) for name in BALANCES},
            "isFlaggedFraud": flags["isFlaggedFraud"] == 1,
        }
    )


def _hours_after(start: datetime, step: pl.Series) -> pl.Series:
    origin = int(start.timestamp() * 1_000_000)
    micros = (step - 1) * 3_600_000_000 + origin
    return micros.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
