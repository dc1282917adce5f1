"""The one feature path: per-event features from entity state, then the state update.

Serving calls :meth:`OnlineFeatures.process` once per payment; training replays history through
the very same method (:mod:`vigil.features.replay`), so a model is trained on exactly the numbers
it will see live. Features are read *before* the event updates the state: an event sees only
what came before it, and labels only once their ``label_ts`` has passed.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vigil.features.accounts import AccountBook
from vigil.features.blocks import FeatureBlock
from vigil.features.spec import (
    BUCKETS_PER_WINDOW,
    CONTEXT_FEATURES,
    ROLES,
    UPDATED_FLOWS,
    WINDOWS,
    FeatureSpec,
    default_spec,
)
from vigil.features.state import walk
from vigil.features.stores.base import StateStore, StoreUnavailable, TxnKeys
from vigil.features.stores.memory import MemoryStateStore
from vigil.money import MINOR_UNIT_EXPONENT, to_usd_cents
from vigil.schema.records import Transaction
from vigil.schema.tables import CHANNELS

NAN = math.nan
STORE_SNAPSHOT = "store.snapshot"
#: reads of one payment's state before giving up when other writers keep changing it
COMMIT_ATTEMPTS = 16
DAY = 86_400

CHANNEL_CODE = {name: float(i) for i, name in enumerate(sorted(CHANNELS))}
KIND_CODE = {"person": 0.0, "business": 1.0, "merchant": 2.0}
#: UTC offsets in hours of the markets Vigil knows; others are read in UTC.
UTC_OFFSET_HOURS = {"CN": 8, "HK": 8, "SG": 8, "MY": 8, "PH": 8, "ID": 7, "TH": 7, "VN": 7}
JURISDICTION_CODE = {code: float(i) for i, code in enumerate(sorted(UTC_OFFSET_HOURS))}


@dataclass(frozen=True, slots=True)
class _RoleReader:
    """Everything to read for one role, with the vector positions to write it to."""

    role: str
    slot: int  # where its flow key and flow sit among the instance's roles
    windows: tuple[tuple[str, int, int, int, int], ...]  # window, pos count/sum/mean/max
    distinct: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...]  # field, spans, positions
    novelty: tuple[tuple[str, int], ...]
    history: int  # first position of the History block, or -1


class StateConflict(RuntimeError):
    """A shared store kept refusing a payment's write: other writers changed its flows."""


class OnlineFeatures:
    """Feature vectors for transactions, one at a time, from a :class:`StateStore`."""

    def __init__(
        self,
        spec: FeatureSpec | None = None,
        store: StateStore | None = None,
        accounts: AccountBook | None = None,
        blocks: Sequence[FeatureBlock] = (),
        roles: Sequence[str] | None = None,
    ):
        """``roles`` limits this instance to part of the state (default: all of it): replay
        splits the walk across two processes, each owning the flows of its roles, and the two
        partial vectors together equal the whole one."""
        self.spec = spec or default_spec()
        self.store: StateStore = store if store is not None else MemoryStateStore()
        self.accounts = accounts or AccountBook.empty()
        self.blocks = tuple(blocks)
        #: True when the last payment could not reach the state store (decided without it)
        self.state_missing = False
        #: True when a block left out work on the last payment, or overran, under its live budget
        self.blocks_degraded = False
        self._live_us: int | None = None
        self.roles = tuple(ROLES) if roles is None else tuple(roles)
        unknown = set(self.roles) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown roles {sorted(unknown)}; choose from {', '.join(ROLES)}")
        self._updated = tuple(role for role in UPDATED_FLOWS if role in self.roles)
        core = self.spec.names()
        self.names = core + [name for block in self.blocks for name in block.names]
        self.fingerprint = _fingerprint(self.spec.fingerprint(), self.blocks)
        # each block writes its values into its own slice, after the core features
        self._block_slices = []
        at = len(core)
        for block in self.blocks:
            self._block_slices.append((block, at, at + len(block.names)))
            at += len(block.names)
        self._index = {name: i for i, name in enumerate(self.names)}
        self._layouts = self._flow_layouts()
        self._readers = self._compile_readers()
        #: (slot, windows, remembered fields) of each flow a payment updates
        self._recorders = tuple(
            (self.roles.index(role), *self._layouts[_flow_kind(role)]) for role in self._updated
        )
        # the payer's outgoing amount against its last 24 hours of incoming money
        reads_inflow = "payer_in" in self.roles
        self._ratio_at = self._index.get("payer_in_ratio_24h", -1) if reads_inflow else -1
        self._inflow_at = self._index.get("payer_in_sum_24h", -1)
        # Context values are computed in CONTEXT_FEATURES order (the ratio, last, comes later).
        self._context_positions = [self._index[name] for name in CONTEXT_FEATURES[:-1]]

    # ---- plan -------------------------------------------------------------------------------

    def _flow_layouts(self) -> dict[str, tuple[dict[str, tuple[int, int]], tuple[str, ...]]]:
        """For each flow kind (e.g. ``acct:in``), the windows and remembered fields it keeps."""
        windows: dict[str, dict[str, tuple[int, int]]] = {}
        seen: dict[str, dict[str, None]] = {}
        for role in set(ROLES):
            kind = _flow_kind(role)
            windows.setdefault(kind, {})
            seen.setdefault(kind, {})
        for item in self.spec.windows:
            kind = _flow_kind(item.role)
            for w in item.windows:
                span = WINDOWS[w]
                windows[kind][w] = (span, max(1, span // BUCKETS_PER_WINDOW))
        for item in (*self.spec.distinct, *self.spec.novelty):
            seen[_flow_kind(item.role)][item.of] = None
        return {kind: (windows[kind], tuple(seen[kind])) for kind in windows}

    def _compile_readers(self) -> tuple[_RoleReader, ...]:
        pos = self._index
        readers = []
        for role in ROLES:
            # one entry per window even when several specs read it (e.g. sums and a mean)
            names = dict.fromkeys(
                w for item in self.spec.windows if item.role == role for w in item.windows
            )
            win = tuple(
                (
                    w,
                    pos.get(f"{role}_count_{w}", -1),
                    pos.get(f"{role}_sum_{w}", -1),
                    pos.get(f"{role}_mean_{w}", -1),
                    pos.get(f"{role}_max_{w}", -1),
                )
                for w in names
            )
            distinct = tuple(
                (
                    item.of,
                    tuple(WINDOWS[w] for w in item.windows),
                    tuple(pos[n] for n in item.names()),
                )
                for item in self.spec.distinct
                if item.role == role
            )
            novelty = tuple(
                (item.of, pos[item.names()[0]]) for item in self.spec.novelty if item.role == role
            )
            history = next(
                (pos[item.names()[0]] for item in self.spec.history if item.role == role), -1
            )
            if role in self.roles and (win or distinct or novelty or history >= 0):
                slot = self.roles.index(role)
                readers.append(_RoleReader(role, slot, win, distinct, novelty, history))
        return tuple(readers)

    # ---- per event --------------------------------------------------------------------------

    def process(
        self,
        txn: Transaction,
        context: bool = True,
        into: list[float] | None = None,
        update: bool = True,
    ) -> list[float]:
        """Features of ``txn`` from the state before it, then ``txn`` recorded into the state.

        ``context=False`` leaves the stateless context features (amount, hour, account age, ...)
        missing, for the half of a split walk that the other half completes; ``into`` is the
        vector to complete (by default a new one, all missing). ``update=False`` reads the
        entity state without recording ``txn`` in it (learnt blocks still see it).
        """
        now = int(txn.ts.timestamp())
        amount = to_usd_cents(txn.amount, txn.currency)
        vector = [NAN] * len(self.names) if into is None else into
        if context:
            self._context(txn, now, amount, vector)
        self.state_missing = False
        if self.roles:  # none: the context and blocks' part of a split walk
            try:
                self._walk(txn, now, amount, vector, update)
            except StoreUnavailable:
                # Decided on what is known without the state (its features stay missing);
                # the payment is not counted in the state it could not reach.
                self.state_missing = True
        degraded = False
        for block, begin, end in self._block_slices:
            vector[begin:end] = block.process(txn)
            degraded = degraded or block.degraded
        self.blocks_degraded = degraded
        return vector

    def live(self, budget_us: int | None) -> None:
        """Give each learnt block ``budget_us`` of wall time per payment, or (None) no limit.

        Live decisions set a budget; batches (replay, backtests, training) clear it, so that
        their vectors are a function of the payments alone (see :meth:`FeatureBlock.live`).
        """
        if budget_us != self._live_us:
            for block in self.blocks:
                block.live(budget_us)
            self._live_us = budget_us

    def _walk(
        self, txn: Transaction, now: int, amount: int, vector: list[float], update: bool
    ) -> None:
        """Read, compute, write back; a shared store refuses the write when another worker
        changed one of these flows in between, and the payment is read again."""
        values = _seen_values(txn)
        keys = _flow_keys(txn)
        remembered = TxnKeys(now, txn.payer_id, txn.payee_id, txn.device_id, txn.ip)
        store = self.store
        wanted = [keys[role] for role in self.roles]
        for _ in range(COMMIT_ATTEMPTS):
            flows = store.get_many(wanted)
            updated = walk(
                self._readers,
                self._recorders,
                wanted,
                flows,
                now,
                amount,
                values,
                vector,
                self._ratio_at,
                self._inflow_at,
                self.spec.seen_cap,
                update,
            )
            if updated is None or store.put_many(updated, txn.txn_id, remembered):
                break
        else:
            raise StateConflict(
                f"payment {txn.txn_id}: its entities' state kept changing under it "
                f"({COMMIT_ATTEMPTS} attempts); is the store shared with a runaway writer?"
            )

    def observe_label(self, txn_id: str, is_fraud: bool) -> bool:
        """Credit a label to the entities of its transaction; False if the transaction is unknown
        (never seen, or forgotten by eviction)."""
        for block in self.blocks:
            block.observe_label(txn_id, is_fraud)
        keys = self.store.recall(txn_id)
        if keys is None:
            return False
        if is_fraud:
            credited = {
                "payer": f"acct:{keys.payer}:out",
                "payee": f"acct:{keys.payee}:in",
                "device": None if keys.device is None else f"device:{keys.device}:out",
                "ip": None if keys.ip is None else f"ip:{keys.ip}:out",
            }
            wanted = [key for role in self._updated if (key := credited.get(role))]
            for _ in range(COMMIT_ATTEMPTS):
                flows = self.store.get_many(wanted)
                updated = {}
                for key, flow in zip(wanted, flows, strict=True):
                    if flow is not None:
                        flow.fraud_labels += 1
                        updated[key] = flow
                if self.store.put_many(updated):
                    break
            else:
                raise StateConflict(f"label of {txn_id}: its entities' state kept changing")
        return True

    def snapshot(self, folder: Path) -> None:
        """The whole feature state, the store's and every block's, to files in ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        # the store holds the spec's state only; each block checks its own
        self.store.snapshot(folder / STORE_SNAPSHOT, self.spec.fingerprint())
        for block in self.blocks:
            block.snapshot(folder / f"{block.kind}.snapshot")

    def restore(self, folder: Path) -> None:
        """Start from a :meth:`snapshot` taken by features of the same fingerprint."""
        self.store.restore(folder / STORE_SNAPSHOT, self.spec.fingerprint())
        for block in self.blocks:
            block.restore(folder / f"{block.kind}.snapshot")

    def _context(self, txn: Transaction, now: int, amount: int, vector: list[float]) -> None:
        book = self.accounts
        payer, payee = book.get(txn.payer_id), book.get(txn.payee_id)
        offset = UTC_OFFSET_HOURS.get(txn.jurisdiction, 0) * 3_600
        local = now + offset
        usd = amount / 100.0
        exponent = MINOR_UNIT_EXPONENT.get(txn.currency, 2)
        major_step = 100 * 10**exponent
        cross = (
            float(txn.payer_country != txn.payee_country)
            if txn.payer_country and txn.payee_country
            else NAN
        )
        values = (
            usd,
            math.log1p(usd),
            float(txn.amount % major_step == 0),
            float(local // 3_600 % 24),
            float((local // DAY + 3) % 7),
            CHANNEL_CODE.get(txn.channel, NAN),
            float(txn.mcc) if txn.mcc and txn.mcc.isdigit() else NAN,
            JURISDICTION_CODE.get(txn.jurisdiction, NAN),
            cross,
            (
                float(txn.payer_country != payer.country)
                if payer is not None and txn.payer_country
                else NAN
            ),
            (now - payer.created) / DAY if payer is not None else NAN,
            (now - payee.created) / DAY if payee is not None else NAN,
            payer.kyc_level if payer is not None else NAN,
            payee.kyc_level if payee is not None else NAN,
            KIND_CODE.get(payer.kind, NAN) if payer is not None else NAN,
            KIND_CODE.get(payee.kind, NAN) if payee is not None else NAN,
            float(txn.device_id is not None),
            float(txn.ip is not None),
        )
        for position, value in zip(self._context_positions, values, strict=False):
            vector[position] = value


def _fingerprint(spec: str, blocks: Sequence[FeatureBlock]) -> str:
    if not blocks:
        return spec  # a spec alone keeps its own fingerprint, so older snapshots still load
    digest = hashlib.sha256(spec.encode())
    for block in blocks:
        digest.update(f"{block.kind}:{block.fingerprint}".encode())
    return digest.hexdigest()[:16]


def _flow_kind(role: str) -> str:
    namespace, _, direction = ROLES[role]
    return f"{namespace}:{direction}"


def _flow_keys(txn: Transaction) -> dict[str, str | None]:
    return {
        "payer": f"acct:{txn.payer_id}:out",
        "payee": f"acct:{txn.payee_id}:in",
        "payer_in": f"acct:{txn.payer_id}:in",
        "device": None if txn.device_id is None else f"device:{txn.device_id}:out",
        "ip": None if txn.ip is None else f"ip:{txn.ip}:out",
        "pair": f"pair:{txn.payer_id}>{txn.payee_id}:out",
    }


def _seen_values(txn: Transaction) -> dict[str, str | None]:
    return {
        "payer_id": txn.payer_id,
        "payee_id": txn.payee_id,
        "device_id": txn.device_id,
        "ip": txn.ip,
        "ip_prefix": ip_prefix(txn.ip),
        "payee_country": txn.payee_country,
    }


def ip_prefix(ip: str | None) -> str | None:
    """The network an address sits in (/16 for IPv4, /48 for IPv6): a proxy for place."""
    if ip is None:
        return None
    if ":" in ip:
        return ":".join(ip.split(":")[:3])
    return ".".join(ip.split(".")[:2])
