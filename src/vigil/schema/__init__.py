"""The public data contract: table specs, validation, readers and writers."""

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

__all__ = [
    "AML_TYPOLOGIES",
    "CURRENCY_OF",
    "FRAUD_TYPOLOGIES",
    "TABLES",
    "TYPOLOGIES",
    "Column",
    "Kind",
    "TableSpec",
]
