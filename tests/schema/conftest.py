from datetime import UTC, datetime

import polars as pl
import pytest


@pytest.fixture
def transactions() -> pl.DataFrame:
    """A small valid transactions table with labels and one pass-through column."""
    return pl.DataFrame(
        {
            "txn_id": ["t1", "t2", "t3"],
            "ts": [datetime(2026, 1, 1, h, tzinfo=UTC) for h in (1, 2, 3)],
            "payer_id": ["a1", "a2", "a1"],
            "payee_id": ["m1", "a1", "m2"],
            "amount": [1250, 99, 500_000],
            "currency": ["SGD", "SGD", "CNY"],
            "channel": ["card", "wallet", "transfer"],
            "jurisdiction": ["SG", "SG", "CN"],
            "payer_country": ["SG", "SG", None],
            "mcc": ["5411", None, None],
            "is_fraud": [False, False, True],
            "typology": ["legit", "legit", "account_takeover"],
            "label_ts": [datetime(2026, 1, 20, tzinfo=UTC)] * 3,
            "device_score": [0.5, 0.25, 0.75],
        }
    )
