"""The network around a case's subject, drawn from the graph store for the case page.

The ring is the set of accounts the case's evidence names (the subject and every payer and
payee of its alerts' payments). Around each ring account the graph store gives its devices,
addresses and strongest counterparties as of the case's last alert, so a device or address
shared across the ring stands out. Nodes carry a ``confirmed`` flag when the account is known
as fraudulent by then: it sent a payment labelled fraud (label already released), or a case on
it was closed as a true positive.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from vigil.graph.store import GraphStore, NodeType, Relation, to_micros
from vigil.schema.io import read_table

_KIND = {NodeType.ACCOUNT: "account", NodeType.DEVICE: "device", NodeType.IP: "ip"}
_RELATION = {Relation.PAYS: "pays", Relation.USES_DEVICE: "device", Relation.USES_IP: "ip"}
_COLUMNS = ("txn_id", "ts", "payer_id", "payee_id", "amount", "currency", "device_id", "ip")


@dataclass
class World:
    """The payments history the dashboard reads: as a frame, as a graph, with its labels."""

    transactions: pl.DataFrame  #: txn_id, ts, parties, amount, device, ip, labels if any
    graph: GraphStore
    merchants: frozenset[str]

    @classmethod
    def load(cls, data: Path) -> World:
        frame = read_table(data, "transactions").sort("ts")
        accounts = read_table(data, "accounts", required=False)
        merchants = frozenset(
            accounts.filter(pl.col("kind") == "merchant").get_column("account_id").to_list()
            if accounts is not None and "kind" in accounts.columns
            else ()
        )
        keep = [
            c
            for c in (*_COLUMNS, "jurisdiction", "channel", "is_fraud", "typology", "label_ts")
            if c in frame.columns
        ]
        frame = frame.select(keep)
        if "is_fraud" in frame.columns and "label_ts" not in frame.columns:
            frame = frame.with_columns(label_ts=pl.col("ts") + pl.duration(days=30))
        return cls(frame, GraphStore.from_transactions(frame), merchants)

    def payments(self, txn_ids: Collection[str]) -> pl.DataFrame:
        return self.transactions.filter(pl.col("txn_id").is_in(list(txn_ids)))

    def confirmed_accounts(self, as_of: datetime) -> set[str]:
        """Payers of payments whose fraud label was released before ``as_of``."""
        if "is_fraud" not in self.transactions.columns:
            return set()
        known = self.transactions.filter(
            pl.col("is_fraud").fill_null(False) & (pl.col("label_ts") < as_of)
        )
        return set(known.get_column("payer_id").to_list())

    def timeline(self, account: str, until: datetime, limit: int = 60) -> list[dict[str, Any]]:
        """The account's latest payments, in and out, up to ``until``, newest first."""
        frame = self.transactions
        rows = (
            frame.filter(
                ((pl.col("payer_id") == account) | (pl.col("payee_id") == account))
                & (pl.col("ts") <= until)
            )
            .tail(limit)
            .reverse()
        )
        out = []
        for row in rows.iter_rows(named=True):
            out.append(
                {
                    "txn_id": row["txn_id"],
                    "ts": row["ts"].isoformat(),
                    "direction": "out" if row["payer_id"] == account else "in",
                    "counterparty": row["payee_id"]
                    if row["payer_id"] == account
                    else row["payer_id"],
                    "amount": row["amount"],
                    "currency": row["currency"],
                    "channel": row.get("channel"),
                }
            )
        return out


def network(
    world: World,
    ring: Collection[str],
    evidence: pl.DataFrame,
    as_of: datetime,
    confirmed: Collection[str],
    per_account: int = 8,
    max_nodes: int = 160,
) -> dict[str, Any]:
    """Nodes and edges (cytoscape's element shape) around the ``ring`` accounts as of ``as_of``.

    Every ring account is drawn with its devices and addresses and its ``per_account``
    strongest counterparties; the evidence payments are edges marked ``evidence``.
    """
    store = world.graph
    adjacency = store.adjacency()
    moment = to_micros(as_of) + 1  # the evidence itself is visible
    confirmed = set(confirmed)
    nodes: dict[int, dict[str, Any]] = {}
    edges: dict[tuple[int, int, str], dict[str, Any]] = {}

    def add_node(node: int, in_ring: bool = False) -> None:
        kind, key = store.key(node)
        if node in nodes:
            nodes[node]["ring"] = nodes[node]["ring"] or in_ring
            return
        label = _KIND.get(kind, kind.name.lower())
        if kind == NodeType.ACCOUNT and key in world.merchants:
            label = "merchant"
        nodes[node] = {
            "id": f"{label}:{key}",
            "key": key,
            "kind": label,
            "ring": in_ring,
            "confirmed": kind == NodeType.ACCOUNT and key in confirmed,
        }

    ring_ids = [n for n in (store.node_id(NodeType.ACCOUNT, a) for a in ring) if n is not None]
    for node in ring_ids:
        add_node(node, in_ring=True)
    for node in ring_ids:
        start = adjacency.indptr[node]
        count = int(adjacency.degree(np.array([node]), moment)[0])
        neighbours = adjacency.neighbor[start : start + count]
        slots = adjacency.edge[start : start + count]
        events, amounts, _ = adjacency.edge_stats(slots, moment)
        relations = adjacency.relation[slots]
        order = np.argsort(-events, kind="stable")
        counterparties = 0
        for i in order:
            other = int(neighbours[i])
            relation = Relation(int(relations[i]))
            if relation not in _RELATION:
                continue
            if relation == Relation.PAYS and other not in ring_ids:
                if counterparties >= per_account:
                    continue
                counterparties += 1
            if other not in nodes and len(nodes) >= max_nodes:
                continue
            add_node(other)
            src, dst = (node, other) if not adjacency.reverse[start + i] else (other, node)
            key = (src, dst, _RELATION[relation])
            edge = edges.setdefault(
                key,
                {
                    "id": f"e{len(edges)}",
                    "source": nodes[src]["id"],
                    "target": nodes[dst]["id"],
                    "relation": _RELATION[relation],
                    "payments": 0,
                    "amount_usd": 0.0,
                    "evidence": False,
                },
            )
            edge["payments"] = max(edge["payments"], int(events[i]))
            edge["amount_usd"] = max(edge["amount_usd"], round(int(amounts[i]) / 100.0, 2))
    by_key = {
        (n["kind"] if n["kind"] != "merchant" else "account", n["key"]): i for i, n in nodes.items()
    }
    for row in evidence.iter_rows(named=True):
        src = by_key.get(("account", row["payer_id"]))
        dst = by_key.get(("account", row["payee_id"]))
        if src is None or dst is None:
            continue
        edge = edges.setdefault(
            (src, dst, "pays"),
            {
                "id": f"e{len(edges)}",
                "source": nodes[src]["id"],
                "target": nodes[dst]["id"],
                "relation": "pays",
                "payments": 1,
                "amount_usd": 0.0,
                "evidence": True,
            },
        )
        edge["evidence"] = True
    return {
        "nodes": list(nodes.values()),
        "edges": list(edges.values()),
        "ring": sorted(nodes[n]["key"] for n in ring_ids),
    }
