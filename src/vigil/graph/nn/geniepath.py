"""GeniePath: a GNN that learns which neighbours to listen to and how far to look.

Liu et al., "GeniePath: Graph Neural Networks with Adaptive Receptive Paths", AAAI 2019. A fixed
GCN averages every neighbour at every hop, so one mule account among fifty ordinary
counterparties is diluted away, and stacking hops smooths everything towards the same vector.
GeniePath makes both choices learnable: an *adaptive breadth* function attends over each node's
one-hop neighbourhood, and an *adaptive depth* function, an LSTM-style memory across hops,
decides per feature what each new hop adds to, or erases from, what the node already knows.

Heterogeneous graphs (accounts, devices, merchants; transfer, login, shared-device edges) are
taken as one homogeneous graph with node and edge types given as features: node types as
columns of ``x``, edge types as one-hot columns of ``edge_attr`` next to numeric attributes such
as log amount or recency. The alternative, one weight set per relation (R-GCN, HAN), pays off
with many relation types and plenty of labelled data. Vigil has a handful of relation types,
few labels (confirmed fraud is rare), and trains on subgraphs sampled from a heterogeneous store
and flattened; per-relation weights would split those few labels across relations, and each
sampled subgraph would train only the relations that happen to appear in it. Types as features
share every weight across relations and still let attention tell a transfer from a login.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import add_self_loops, remove_self_loops, softmax

# Per hop: the edges attention ran over (self loops included) and each edge's weight.
Attention = tuple[Tensor, Tensor]


class AdaptiveBreadth(MessagePassing):
    """One hop of attention: ``tanh(sum_j alpha_ij W h_j)`` over ``j`` in N(i) and i itself.

    The score is the paper's additive form ``v^T tanh(W_s h_i + W_d h_j)``, extended by a
    linear map of the edge's attributes inside the ``tanh``, so the same neighbour can matter
    more through a large recent transfer than through an old login. The self loop carries
    all-zero attributes: "no relation" rather than an average of real ones, so attention can
    weigh the node's own state against its neighbours'.
    """

    def __init__(self, channels: int, edge_dim: int | None = None):
        super().__init__(aggr="add", node_dim=0)
        self.lin = nn.Linear(channels, channels, bias=False)
        self.lin_self = nn.Linear(channels, channels)
        self.lin_neighbour = nn.Linear(channels, channels, bias=False)
        self.lin_edge = nn.Linear(edge_dim, channels, bias=False) if edge_dim else None
        self.att = nn.Linear(channels, 1, bias=False)

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_attr: Tensor | None = None,
        return_attention: bool = False,
    ) -> Tensor | tuple[Tensor, Attention]:
        if edge_attr is not None and self.lin_edge is None:
            raise ValueError("edge_attr given to a layer built without edge_dim")
        if edge_attr is None and self.lin_edge is not None:
            raise ValueError("layer built with edge_dim needs edge_attr")
        # Existing self loops are replaced so every node has exactly one, with the same meaning.
        edge_index, edge_attr = remove_self_loops(edge_index, edge_attr)
        edge_index, edge_attr = add_self_loops(
            edge_index, edge_attr, fill_value=0.0, num_nodes=x.size(0)
        )
        alpha = self.edge_updater(
            edge_index, score=(self.lin_neighbour(x), self.lin_self(x)), edge_attr=edge_attr
        )
        out = torch.tanh(self.propagate(edge_index, x=self.lin(x), alpha=alpha))
        if return_attention:
            return out, (edge_index, alpha)
        return out

    def edge_update(
        self,
        score_j: Tensor,
        score_i: Tensor,
        edge_attr: Tensor | None,
        index: Tensor,
        ptr: Tensor | None,
        dim_size: int | None,
    ) -> Tensor:
        score = score_i + score_j
        if edge_attr is not None:
            score = score + self.lin_edge(edge_attr)
        return softmax(self.att(torch.tanh(score)).squeeze(-1), index, ptr, dim_size)

    def message(self, x_j: Tensor, alpha: Tensor) -> Tensor:
        return alpha.unsqueeze(-1) * x_j


class AdaptiveDepth(nn.Module):
    """LSTM-style gates over hops: keep, forget or expose what each new hop contributes.

    ``C = f * C + i * tanh(W_c u)`` and ``h = o * tanh(C)``, with ``i, f, o = sigmoid(W u)``.
    ``u`` is the hop's breadth output in GeniePath, and that output next to the memory so far in
    GeniePath-lazy, where the gates are the only place the two meet.
    """

    def __init__(self, in_channels: int, channels: int):
        super().__init__()
        self.gates = nn.Linear(in_channels, 4 * channels)

    def forward(self, u: Tensor, cell: Tensor) -> tuple[Tensor, Tensor]:
        i, f, o, candidate = self.gates(u).chunk(4, dim=-1)
        cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(candidate)
        return torch.sigmoid(o) * torch.tanh(cell), cell


class _GeniePathBase(nn.Module):
    """Input projection, per-hop breadth and depth, and the classifier head both variants share."""

    # Lazy depth gates read the hop's breadth output next to the memory so far, hence twice as wide.
    _gates_read_memory = False

    def __init__(
        self,
        in_channels: int,
        hidden: int,
        out_channels: int,
        layers: int = 2,
        edge_dim: int | None = None,
        dropout: float = 0.0,
    ):
        super().__init__()
        if layers < 1:
            raise ValueError(f"layers must be at least 1, got {layers}")
        self.dropout = dropout
        self.lin_in = nn.Linear(in_channels, hidden)
        self.breadth = nn.ModuleList(AdaptiveBreadth(hidden, edge_dim) for _ in range(layers))
        gate_in = 2 * hidden if self._gates_read_memory else hidden
        self.depth = nn.ModuleList(AdaptiveDepth(gate_in, hidden) for _ in range(layers))
        self.head = nn.Linear(hidden, out_channels)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        """Logits per node."""
        h = self.embed(x, edge_index, edge_attr)
        return self.head(F.dropout(h, self.dropout, self.training))

    def embed(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        """Final hidden state per node, the representation handed on as graph features."""
        return self._run(x, edge_index, edge_attr)[0]

    def attention(
        self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None
    ) -> list[Attention]:
        """Per hop, ``(edge_index, alpha)``: which neighbours each node listened to, and how much.

        ``edge_index`` includes the self loops attention ran over; ``alpha`` sums to 1 over each
        target node's incoming edges. This is what an analyst sees as "why this account".
        """
        return self._run(x, edge_index, edge_attr)[1]

    def _input(self, x: Tensor) -> Tensor:
        return self.lin_in(F.dropout(x, self.dropout, self.training))

    def _run(
        self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None
    ) -> tuple[Tensor, list[Attention]]:
        raise NotImplementedError


class GeniePath(_GeniePathBase):
    """Breadth then depth at every hop: hop ``t`` attends over states already gated by depth."""

    def _run(
        self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None
    ) -> tuple[Tensor, list[Attention]]:
        h = self._input(x)
        cell = torch.zeros_like(h)
        attentions = []
        for breadth, depth in zip(self.breadth, self.depth, strict=True):
            h_tmp, attention = breadth(h, edge_index, edge_attr, return_attention=True)
            h, cell = depth(h_tmp, cell)
            attentions.append(attention)
        return h, attentions


class GeniePathLazy(_GeniePathBase):
    """All breadth hops first, each on the previous hop's output; then depth reads the stack.

    The paper's lazy variant: breadth outputs ``h^(1..T)`` cover 1..T hops from the input, and
    the depth memory ``mu`` walks them in order, gating on ``[h^(t), mu^(t)]``. Attention thus sees
    propagated states before any gating, and depth weighs whole hops against each other.
    """

    _gates_read_memory = True

    def _run(
        self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None
    ) -> tuple[Tensor, list[Attention]]:
        h = self._input(x)
        hops, attentions = [], []
        for breadth in self.breadth:
            h, attention = breadth(h, edge_index, edge_attr, return_attention=True)
            hops.append(h)
            attentions.append(attention)
        memory = torch.zeros_like(h)
        cell = torch.zeros_like(h)
        for hop, depth in zip(hops, self.depth, strict=True):
            memory, cell = depth(torch.cat([hop, memory], dim=-1), cell)
        return memory, attentions
