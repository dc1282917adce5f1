"""One typed configuration for a federated run, carried to every node as Flower's run config.

The server and every client read the same :class:`FederatedConfig`; Flower moves it as a flat
``run_config`` mapping (strings, numbers, booleans), so :meth:`to_run_config` and
:meth:`from_run_config` are the only translation, in one place.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

MODELS = ("mlp", "gbdt")
STRATEGIES = ("fedavg", "fedprox")
#: the federated GBDT: every client's trees averaged each round, or one client a round in turn
TREE_STRATEGIES = ("bagging", "cyclic")
#: none; record-level DP-SGD inside each client; client-level (Flower's central DP wrapper)
PRIVACY = ("none", "record", "client")


@dataclass(frozen=True)
class FederatedConfig:
    model: str = "mlp"
    strategy: str = "fedavg"
    rounds: int = 10
    #: training rows are those before this instant; later rows are held out for evaluation
    until: str = "2026-01-24T00:00:00+00:00"
    valid_share: float = 0.2
    seed: int = 0
    threads: int = 1
    #: how many nodes the server waits for before it starts (0: whatever is connected)
    min_nodes: int = 0
    out_dir: str = ""
    # -- MLP
    hidden: str = "64,32"
    local_epochs: int = 1
    #: each client keeps its Adam moments from round to round (local state, never sent)
    keep_optimizer: bool = True
    batch_size: int = 512
    learning_rate: float = 2e-3
    proximal_mu: float = 0.0
    # -- GBDT (federated LightGBM trees)
    tree_strategy: str = "bagging"
    local_trees: int = 2
    num_leaves: int = 15
    tree_learning_rate: float = 0.1
    min_data_in_leaf: int = 40
    # -- privacy
    secagg: bool = False
    #: SecAgg+ shares per client and how many reconstruct a secret (fractions of the clients)
    secagg_shares: float = 1.0
    secagg_threshold: float = 0.7
    #: every parameter lies in [-clip, clip] before SecAgg+ quantisation
    secagg_clip: float = 8.0
    dp: str = "none"
    noise_multiplier: float = 1.0
    #: record level: per-example gradient norm bound; client level: model-update norm bound
    clip_norm: float = 1.0
    dp_delta: float = 1e-5
    #: record level: noise std on each score-bin count sent for calibration (sensitivity 1)
    calibration_noise: float = 20.0

    def __post_init__(self) -> None:
        for name, allowed in (
            ("model", MODELS),
            ("strategy", STRATEGIES),
            ("tree_strategy", TREE_STRATEGIES),
            ("dp", PRIVACY),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.model == "gbdt" and (self.secagg or self.dp != "none"):
            raise ValueError(
                "the federated GBDT appends each client's trees, which a masked sum cannot carry: "
                "SecAgg+ and DP apply to the MLP (see docs/federated.md)"
            )
        if self.strategy == "fedprox" and self.proximal_mu <= 0:
            raise ValueError("FedProx needs proximal_mu > 0")
        self.train_until  # noqa: B018 - validates the date

    @property
    def train_until(self) -> datetime:
        parsed = datetime.fromisoformat(self.until)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        return tuple(int(h) for h in self.hidden.split(",") if h.strip())

    def to_run_config(self) -> dict[str, Any]:
        return {f.name.replace("_", "-"): getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_run_config(cls, run_config: dict[str, Any]) -> FederatedConfig:
        defaults = cls()
        known = {f.name for f in fields(cls)}
        values = {}
        for key, value in run_config.items():
            name = key.replace("-", "_")
            if name in known:  # TOML may give 1 for 1.0: each value takes its field's type
                values[name] = type(getattr(defaults, name))(value)
        return cls(**values)

    def with_(self, **changes: Any) -> FederatedConfig:
        return replace(self, **changes)

    def describe(self) -> dict[str, Any]:
        return asdict(self)
