"""The reference service: what a data scientist ships first, in bench/ only.

FastAPI with a pydantic request model, a pandas frame per request and a scikit-learn pipeline
(one-hot categories, scaled numbers, gradient boosting) trained on the raw transaction fields.
It is a fair baseline for latency: the same web stack and server as Vigil, the idioms most
fraud-scoring microservices start from.

    python bench/baseline_service.py --data WORLD --until 2026-01-24 --port 8091
"""

from __future__ import annotations

import argparse
from datetime import datetime

import pandas as pd
import polars as pl
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

CATEGORICAL = ["channel", "currency", "jurisdiction", "payer_country", "payee_country", "mcc"]
NUMERIC = ["amount", "hour"]


class Payment(BaseModel):
    txn_id: str
    ts: datetime
    payer_id: str
    payee_id: str
    amount: int
    currency: str
    channel: str
    jurisdiction: str
    payer_country: str | None = None
    payee_country: str | None = None
    device_id: str | None = None
    ip: str | None = None
    mcc: str | None = None


def to_frame(rows: pd.DataFrame) -> pd.DataFrame:
    out = rows[CATEGORICAL].astype(str)
    out["amount"] = rows["amount"].astype(float)
    out["hour"] = pd.to_datetime(rows["ts"], utc=True).dt.hour
    return out


def train_pipeline(data: str, until: datetime) -> Pipeline:
    txns = pl.read_parquet(f"{data}/transactions.parquet").filter(pl.col("ts") < until).to_pandas()
    pipeline = Pipeline(
        [
            (
                "prepare",
                ColumnTransformer(
                    [
                        (
                            "categories",
                            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                            CATEGORICAL,
                        ),
                        ("numbers", StandardScaler(), NUMERIC),
                    ]
                ),
            ),
            ("model", HistGradientBoostingClassifier(max_iter=200, random_state=7)),
        ]
    )
    pipeline.fit(to_frame(txns), txns["is_fraud"].astype(int))
    return pipeline


def create_app(pipeline: Pipeline) -> FastAPI:
    app = FastAPI()

    @app.post("/score")
    def score(payment: Payment) -> dict[str, object]:
        frame = to_frame(pd.DataFrame([payment.model_dump()]))
        probability = float(pipeline.predict_proba(frame)[0, 1])
        action = "decline" if probability > 0.9 else "review" if probability > 0.3 else "approve"
        return {"txn_id": payment.txn_id, "score": probability, "action": action}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--until", required=True, type=datetime.fromisoformat)
    parser.add_argument("--port", type=int, default=8091)
    args = parser.parse_args()
    until = (
        args.until if args.until.tzinfo else args.until.replace(tzinfo=pd.Timestamp.utcnow().tzinfo)
    )
    app = create_app(train_pipeline(args.data, until))
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
