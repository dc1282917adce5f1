"""The public data contract: table specs, validation, readers and writers, hot-path records."""

from vigil.schema.io import FORMATS, TableWriter, find_table, read_table, write_table
from vigil.schema.records import Decision, FieldError, Reason, Transaction
from vigil.schema.tables import (
    AML_TYPOLOGIES,
    CURRENCY_OF,
    FRAUD_TYPOLOGIES,
    TABLES,
    TYPOLOGIES,
    Column,
    Kind,
    TableSpec,
)
from vigil.schema.validate import SchemaError, conform

__all__ = [
    "AML_TYPOLOGIES",
    "CURRENCY_OF",
    "FORMATS",
    "FRAUD_TYPOLOGIES",
    "TABLES",
    "TYPOLOGIES",
    "Column",
    "Decision",
    "FieldError",
    "Kind",
    "Reason",
    "SchemaError",
    "TableSpec",
    "TableWriter",
    "Transaction",
    "conform",
    "find_table",
    "read_table",
    "write_table",
]
