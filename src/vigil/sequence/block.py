"""The sequence encoder as a feature block: every account's recurrent state, one payment at a time.

Per payment the block reads the payer's state *before* the payment (its embedding and event
count), steps the payer's state with the payment as money out and scores it, then steps the
payee's state with the same payment as money in and scores that too. Both states move, so a
mule's state holds the victim's transfer by the time the mule pays it on, and the payee score
(``seq_payee_score``) is what sees a brand-new account start receiving. The embedding is the
payer's state before the payment, what the account was, for the GBDT to weigh against the
payment's own features; what the payment does to that state is in the score.

Per-account memory, measured by ``bench/sequence.py`` with tracemalloc over a restore: about
1.2 KiB at the default sizes (hidden 24; 8 + 3 + 3 remembered hashes), of which the state proper
is ~200 bytes (96 of hidden vector, the previous event's time, amount and country, the hashes)
and the rest is Python and numpy object overhead and the dict entry with its account id. Every
account ever seen keeps its state: a dormant account's memory is the point.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch

from vigil.schema.records import Transaction
from vigil.sequence.cell import GruStep
from vigil.sequence.config import EncoderConfig, split_params
from vigil.sequence.inputs import AccountState, EventInputs
from vigil.sequence.model import INCOMING, OUTGOING, SequenceModel
from vigil.sequence.sequences import walk
from vigil.sequence.train import train

CONFIG = "config.json"
WEIGHTS = "weights.npz"
_FORMAT = 1


class SequenceError(ValueError):
    pass


class SequenceBlock:
    """Features ``seq_score``, ``seq_payee_score``, ``seq_emb_*`` and ``seq_events``."""

    kind = "sequence"
    degraded = False  #: never: see :meth:`live`

    def __init__(self, model: SequenceModel, training: dict[str, Any] | None = None):
        self.model = model.eval()
        self.config: EncoderConfig = model.config
        #: how the weights were made (settings, seed, data size, time): provenance only
        self.training = training or {}
        self.inputs = EventInputs(
            self.config.mcc_buckets, self.config.peers, self.config.devices, self.config.ips
        )
        self.step = GruStep(model)
        self.names: tuple[str, ...] = (
            "seq_score",
            "seq_payee_score",
            *(f"seq_emb_{i}" for i in range(self.config.hidden)),
            "seq_events",
        )
        self.fingerprint = _fingerprint(model)
        self.states: dict[str, AccountState] = {}

    # ---- per payment ------------------------------------------------------------------------

    def process(self, txn: Transaction) -> list[float]:
        """Values for ``names``: the payer's embedding and event count from its state before
        ``txn``; each side's score from its state stepped with ``txn``, which then stays."""
        step, inputs, states = self.step, self.inputs.step, self.states
        payer = states.get(txn.payer_id)
        if payer is None:
            payer = states[txn.payer_id] = AccountState(step.h0)
        before, events = payer.hidden, payer.events
        x, bucket = inputs(payer, txn, False)
        payer.hidden = step(before, x, bucket)
        score = step.probability(payer.hidden, OUTGOING)
        payee = states.get(txn.payee_id)
        if payee is None:
            payee = states[txn.payee_id] = AccountState(step.h0)
        x, bucket = inputs(payee, txn, True)
        payee.hidden = step(payee.hidden, x, bucket)
        return [score, step.probability(payee.hidden, INCOMING), *before.tolist(), float(events)]

    def live(self, budget_us: int | None) -> None:
        """Nothing to leave out: one recurrent step per side costs the same for every payment."""

    def observe_label(self, txn_id: str, is_fraud: bool) -> None:
        """A no-op, on purpose: the encoder's inputs carry no labels. Labels arrive late and in
        bursts; a state that absorbed them would depend on when each one arrived, and they
        already reach the vector through the feature engine's label counts. They reach the
        encoder by retraining."""

    # ---- state ------------------------------------------------------------------------------

    def snapshot(self, path: Path) -> None:
        """Every account's state to one file, column by column (one array for all hidden
        vectors), tagged with the model fingerprint; written atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        states = list(self.states.values())
        hidden = (
            np.stack([s.hidden for s in states])
            if states
            else np.empty((0, self.config.hidden), dtype=np.float32)
        )
        data = {
            "format": _FORMAT,
            "fingerprint": self.fingerprint,
            "accounts": list(self.states),
            "hidden": hidden,
            **{
                field: [getattr(s, field) for s in states]
                for field in AccountState.__slots__
                if field != "hidden"
            },
        }
        partial = path.with_name(path.name + ".partial")
        with partial.open("wb") as handle:
            pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, path)

    def restore(self, path: Path) -> None:
        """Replace every account's state with a snapshot's. Pickle is safe here for the reason
        the feature store gives: a snapshot is only read back by the engine that wrote it, and
        one written by another model is refused by its fingerprint."""
        with Path(path).open("rb") as handle:
            data = pickle.load(handle)
        if data.get("format") != _FORMAT:
            raise SequenceError(f"{path}: snapshot format {data.get('format')} is not {_FORMAT}")
        if data.get("fingerprint") != self.fingerprint:
            raise SequenceError(
                f"{path}: snapshot was written by sequence model {data.get('fingerprint')}, "
                f"this block is {self.fingerprint}"
            )
        fields = [f for f in AccountState.__slots__ if f != "hidden"]
        states: dict[str, AccountState] = {}
        for i, account in enumerate(data["accounts"]):
            state = AccountState(data["hidden"][i].copy())
            for field in fields:
                setattr(state, field, data[field][i])
            states[account] = state
        self.states = states

    # ---- model ------------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Weights and settings (not the account states) to ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        weights = {k: v.detach().numpy() for k, v in self.model.state_dict().items()}
        np.savez(folder / WEIGHTS, **weights)
        manifest = {
            "format": _FORMAT,
            "kind": self.kind,
            "fingerprint": self.fingerprint,
            "names": list(self.names),
            "encoder": asdict(self.config),
            "training": self.training,
        }
        (folder / CONFIG).write_text(json.dumps(manifest, indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> SequenceBlock:
        """A saved block with every account cold; refuses weights that do not match the
        fingerprint they were saved with."""
        folder = Path(folder)
        manifest = json.loads((folder / CONFIG).read_text())
        if manifest.get("format") != _FORMAT:
            raise SequenceError(f"{folder}: format {manifest.get('format')} is not {_FORMAT}")
        with torch.random.fork_rng():  # building the module draws an initial h0; keep it local
            model = SequenceModel(EncoderConfig(**manifest["encoder"]))
        with np.load(folder / WEIGHTS, allow_pickle=False) as weights:
            model.load_state_dict({k: torch.from_numpy(weights[k]) for k in weights.files})
        block = cls(model, manifest.get("training"))
        if block.fingerprint != manifest["fingerprint"]:
            raise SequenceError(
                f"{folder}: weights hash to {block.fingerprint}, the manifest says "
                f"{manifest['fingerprint']}"
            )
        return block

    @classmethod
    def fit(
        cls, frame: pl.DataFrame, seed: int = 0, progress: bool = False, **params: Any
    ) -> SequenceBlock:
        """Train on a time-ordered frame of labelled transactions (all of it is training
        data). ``params`` are fields of :class:`EncoderConfig` and :class:`TrainConfig`."""
        encoder, training = split_params(params)
        if "is_fraud" not in frame.columns:
            raise SequenceError("the sequence encoder trains on is_fraud; the frame has none")
        table = walk(
            frame,
            EventInputs(encoder.mcc_buckets, encoder.peers, encoder.devices, encoder.ips),
            progress,
        )
        fraud = frame.get_column("is_fraud").cast(pl.Float32).to_numpy()  # null -> NaN
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = SequenceModel(encoder)
            metrics = train(model, table, fraud[table.row], training, seed, progress)
        return cls(
            model,
            {"settings": asdict(training), "seed": seed, "rows": frame.height, **metrics},
        )


def _fingerprint(model: SequenceModel) -> str:
    digest = hashlib.sha256(json.dumps(asdict(model.config), sort_keys=True).encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().numpy().tobytes())
    return digest.hexdigest()[:16]
