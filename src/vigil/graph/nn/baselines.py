"""GCN, GAT and GraphSAGE, shaped like GeniePath so one harness can compare them.

Each is two convolutions to ``hidden`` then a linear head, so ``embed`` sees two hops like a
two-layer GeniePath and the comparison is about how neighbours are combined, not about depth or
head size. GCN and GraphSAGE have no use for edge attributes and ignore ``edge_attr``; GAT takes
them into its attention, as GeniePath does.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GATConv, GCNConv, SAGEConv


class _TwoHop(nn.Module):
    def __init__(
        self, conv1: nn.Module, conv2: nn.Module, hidden: int, out_channels: int, dropout: float
    ):
        super().__init__()
        self.conv1 = conv1
        self.conv2 = conv2
        self.head = nn.Linear(hidden, out_channels)
        self.dropout = dropout

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        """Logits per node."""
        h = self.embed(x, edge_index, edge_attr)
        return self.head(F.dropout(h, self.dropout, self.training))

    def embed(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        """Second-hop hidden state per node."""
        h = F.dropout(x, self.dropout, self.training)
        h = F.elu(self._conv(self.conv1, h, edge_index, edge_attr))
        h = F.dropout(h, self.dropout, self.training)
        return F.elu(self._conv(self.conv2, h, edge_index, edge_attr))

    def _conv(
        self, conv: nn.Module, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None
    ) -> Tensor:
        return conv(x, edge_index)


class GCN(_TwoHop):
    def __init__(self, in_channels: int, hidden: int, out_channels: int, dropout: float = 0.0):
        super().__init__(
            GCNConv(in_channels, hidden), GCNConv(hidden, hidden), hidden, out_channels, dropout
        )


class GraphSAGE(_TwoHop):
    def __init__(self, in_channels: int, hidden: int, out_channels: int, dropout: float = 0.0):
        super().__init__(
            SAGEConv(in_channels, hidden), SAGEConv(hidden, hidden), hidden, out_channels, dropout
        )


class GAT(_TwoHop):
    """Multi-head attention whose heads are averaged, keeping ``hidden`` free of head count."""

    def __init__(
        self,
        in_channels: int,
        hidden: int,
        out_channels: int,
        edge_dim: int | None = None,
        heads: int = 4,
        dropout: float = 0.0,
    ):
        super().__init__(
            GATConv(in_channels, hidden, heads=heads, concat=False, edge_dim=edge_dim),
            GATConv(hidden, hidden, heads=heads, concat=False, edge_dim=edge_dim),
            hidden,
            out_channels,
            dropout,
        )

    def _conv(
        self, conv: nn.Module, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None
    ) -> Tensor:
        return conv(x, edge_index, edge_attr)
