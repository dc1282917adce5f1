"""Graph neural networks over transaction graphs: GeniePath and the baselines it is judged by."""

from torch import nn

from vigil.graph.nn.baselines import GAT, GCN, GraphSAGE
from vigil.graph.nn.geniepath import AdaptiveBreadth, AdaptiveDepth, GeniePath, GeniePathLazy

MODEL_NAMES = ("geniepath", "geniepath_lazy", "gcn", "gat", "sage")


def build_model(
    name: str, in_channels: int, hidden: int, out_channels: int, edge_dim: int | None = None
) -> nn.Module:
    """A node classifier by name, so experiments and config can pick models as strings.

    Every model takes ``forward(x, edge_index, edge_attr=None)`` to logits and has ``embed`` with
    the same arguments; GCN and GraphSAGE ignore ``edge_attr``.
    """
    if name == "geniepath":
        return GeniePath(in_channels, hidden, out_channels, edge_dim=edge_dim)
    if name == "geniepath_lazy":
        return GeniePathLazy(in_channels, hidden, out_channels, edge_dim=edge_dim)
    if name == "gcn":
        return GCN(in_channels, hidden, out_channels)
    if name == "gat":
        return GAT(in_channels, hidden, out_channels, edge_dim=edge_dim)
    if name == "sage":
        return GraphSAGE(in_channels, hidden, out_channels)
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")


__all__ = [
    "GAT",
    "GCN",
    "MODEL_NAMES",
    "AdaptiveBreadth",
    "AdaptiveDepth",
    "GeniePath",
    "GeniePathLazy",
    "GraphSAGE",
    "build_model",
]
