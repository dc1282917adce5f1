"""FedLgbBagging: Flower's XGBoost bagging, for the engine's own booster, LightGBM.

Flower's ``FedXgbBagging`` appends every client's new XGBoost trees to the global model each
round. The engine serves LightGBM (compiled by lleaves, explained by path attribution), so this
strategy does the same with LightGBM trees: each round every client grows ``local_trees`` trees
on its own rows, starting from the global model's scores, and sends only those trees; the
server weights each client's trees by its share of the rows and appends them. The weighted sum
of the clients' boosting steps is a boosting step on the pooled loss (each client's trees fit
the gradient of the same global model on its own rows), and the result is one LightGBM model
the engine loads like any other bundle. XGBoost would have meant a second GBDT library in the
engine and a conversion step before serving.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, MetricRecord
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg

from vigil.federated.trees import assemble, scale_tree, tree_blocks


class FedLgbBagging(FedAvg):
    def __init__(self, names: Sequence[str], categorical: Sequence[str], **kwargs):
        super().__init__(**kwargs)
        self.names = list(names)
        self.categorical = [c for c in categorical if c in self.names]
        self.blocks: list[str] = []
        #: trees appended per round, for the record
        self.appended: dict[int, int] = {}

    def model_text(self) -> str:
        return assemble(self.names, self.categorical, self.blocks) if self.blocks else ""

    def model_arrays(self) -> ArrayRecord:
        return ArrayRecord(
            {"model": Array(np.frombuffer(self.model_text().encode(), np.uint8).copy())}
        )

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        return super().configure_train(server_round, self.model_arrays(), config, grid)

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        return super().configure_evaluate(server_round, self.model_arrays(), config, grid)

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        valid, _ = self._check_and_log_replies(replies, is_train=True, validate=False)
        if not valid:
            return None, None
        contents = [msg.content for msg in valid]
        weights = np.array(
            [float(c["metrics"][self.weighted_by_key]) for c in contents], dtype=np.float64
        )
        weights /= weights.sum()
        added = 0
        for content, weight in zip(contents, weights, strict=True):
            text = content["arrays"]["trees"].numpy().tobytes().decode()
            blocks = tree_blocks(_as_model(text))
            self.blocks.extend(scale_tree(b, float(weight)) for b in blocks)
            added += len(blocks)
        self.appended[server_round] = added
        metrics = self.train_metrics_aggr_fn(contents, self.weighted_by_key)
        return self.model_arrays(), metrics


def _as_model(trees: str) -> str:
    """Tree blocks as sent (no ``Tree=i`` lines) in the shape :func:`tree_blocks` parses."""
    parts = [p for p in trees.split("\n\n") if p.strip()]
    return "".join(f"Tree={i}\n{p.strip()}\n\n" for i, p in enumerate(parts))
