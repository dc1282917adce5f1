"""Point-in-time event sequences: a time-ordered frame walked into each account's events.

Each payment is two events, in this order: the payer's (money out), then the payee's (money
in). Serving steps the two states in the same order, so a payment to oneself sees its own
outgoing half before its incoming half in both paths. The inputs come from
:class:`~vigil.sequence.inputs.EventInputs`, the code that serves, walking the rows in time
order, so every event's inputs see only that account's earlier events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from rich.progress import Progress

from vigil.features.replay import transactions_of
from vigil.runtime import collector_paused
from vigil.sequence.inputs import DENSE_INPUTS, AccountState, EventInputs


@dataclass(frozen=True)
class EventTable:
    """Every event of a frame, grouped by account: account ``a``'s events are rows
    ``starts[a] : starts[a] + lengths[a]`` of the per-event arrays, oldest first."""

    inputs: np.ndarray  # (events, DENSE_INPUTS) float32
    mcc: np.ndarray  # (events,) int64 bucket
    incoming: np.ndarray  # (events,) bool
    row: np.ndarray  # (events,) int64 frame row of the payment
    position: np.ndarray  # (events,) int64 events of the account before this one
    starts: np.ndarray  # (accounts,) int64
    lengths: np.ndarray  # (accounts,) int64

    @property
    def events(self) -> int:
        return len(self.row)


def walk(frame: pl.DataFrame, encoder: EventInputs, progress: bool = False) -> EventTable:
    """The events of a time-ordered frame, from a cold start (every account new)."""
    if not frame.get_column("ts").is_sorted():
        raise ValueError("sequences are walked in time order; sort the frame by ts first")
    n = 2 * frame.height
    inputs = np.empty((n, DENSE_INPUTS), dtype=np.float32)
    mcc = np.empty(n, dtype=np.int64)
    account = np.empty(n, dtype=np.int64)
    position = np.empty(n, dtype=np.int64)
    states: dict[str, AccountState] = {}
    index: dict[str, int] = {}
    step = encoder.step
    with collector_paused(), Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("sequence events", total=frame.height)
        e = 0
        for i, txn in enumerate(transactions_of(frame)):
            for account_id, incoming in ((txn.payer_id, False), (txn.payee_id, True)):
                state = states.get(account_id)
                if state is None:
                    state = states[account_id] = AccountState()
                    index[account_id] = len(index)
                position[e] = state.events
                x, mcc[e] = step(state, txn, incoming)
                inputs[e] = x
                account[e] = index[account_id]
                e += 1
            if i % 10_000 == 0:
                bar.update(task, completed=i)
    order = np.argsort(account, kind="stable")  # by account, time order kept within each
    lengths = np.bincount(account, minlength=len(index))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return EventTable(
        inputs=inputs[order],
        mcc=mcc[order],
        incoming=np.tile([False, True], frame.height)[order],
        row=np.repeat(np.arange(frame.height), 2)[order],
        position=position[order],
        starts=starts,
        lengths=lengths,
    )
