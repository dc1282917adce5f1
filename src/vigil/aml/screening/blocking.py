"""Candidate blocking: the few listed forms that can reach the threshold, without scoring all.

The proof that a form can be skipped is the scorer's own arithmetic: the exact score
(:meth:`~.score.FormScorer.exact`) is ``sum s * (w_q + x) / (W + C)`` over one-to-one pairs of
a query token of weight ``w_q`` with a form token of weight ``x`` at similarity ``s``, where
``W`` and ``C`` are the weights of the whole query and form. It reaches ``floor`` only if
``sum (s * w_q + (s - floor) * x) >= floor * W``; each query token adds at most ``g_q``, the best
of ``s * w_q + (s - floor) * x`` over the tokens it can pair with (exact, one edit away,
another romanisation of a surname, an initial; see :meth:`~.score.FormScorer.neighbours`).

So for any set of query tokens (a *cover*) whose gains the other tokens cannot make up for,
a form that can reach ``floor`` must pair with at least one token of the cover. A token
without which the rest falls short is a cover by itself (usually the surname and one given
name); the remaining tokens are grouped greedily, rarest first, into disjoint covers. The
forms of the cheapest cover are read from the inverted index and each other cover cuts them:
two common tokens on 10,000 forms each meet on a few hundred. The survivors are cut again by
the same test on the query tokens each form does pair with (one bit per query token, looked up
through the vocabulary), so on a 100,000-entry list a few dozen forms reach the scorer. Nothing
the scorer would accept at ``floor`` is lost (tests check it against an exhaustive scan).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from vigil.aml.screening.index import WatchlistIndex
from vigil.aml.screening.normalize import NormalName
from vigil.aml.screening.score import INITIAL_SIM, SURNAME_SIM, FormScorer

#: Query tokens tracked with a bit for a word partner and one for an initial partner; any
#: beyond count as paired.
_MAX_BITS = 16
#: Up to this many tokens, gains of every subset are tabulated.
_TABLE_BITS = 8
#: Most names have at most this many tokens; longer forms are read in a second pass.
_SHORT = 4


class _Scratch(threading.local):
    """Per-thread arrays with a slot per form, to intersect and deduplicate without sorting
    (np.unique is slower on a few thousand ids): flags are cleared after each use, positions
    are only read where just written."""

    size = -1

    def _fit(self, size: int) -> None:
        if size != self.size:
            self.size = size
            self.kept = np.zeros(size, dtype=bool)
            self.position = np.zeros(size, dtype=np.int32)

    def flags(self, size: int) -> np.ndarray:
        self._fit(size)
        return self.kept

    def positions(self, size: int) -> np.ndarray:
        self._fit(size)
        return self.position


@dataclass(frozen=True, slots=True)
class _Partners:
    """What blocking needs to know about one query token, at one floor."""

    words: np.ndarray  #: vocabulary ids it pairs with as a word (exact, one edit, surname)
    initials: np.ndarray  #: vocabulary ids it pairs with through an initial
    forms: np.ndarray  #: forms holding any of them, sorted, once each: what probing it reads
    word_gain: float  #: the most it adds to ``sum (s * w_q + (s - floor) * x)`` via a word
    initial_gain: float  #: ... via an initial


class Blocker:
    """Finds candidate forms for a query; caches what it learns about each token."""

    def __init__(self, index: WatchlistIndex, scorer: FormScorer, cache_size: int = 4_096):
        self.index = index
        self.scorer = scorer
        self._scratch = _Scratch()
        self.partners = lru_cache(maxsize=cache_size)(self._partners)

    def _partners(self, token: str, rows: int, weight: float, floor: float) -> _Partners:
        """``rows``: the surnames the token stands for where it stands as one."""
        index = self.index
        ids, sims = self.scorer.neighbours(token)
        if rows:
            surnames = index.surname_tokens(rows)
            extra = ~np.isin(surnames, ids)
            ids = np.concatenate([ids, surnames[extra]])
            sims = np.concatenate([sims, np.full(int(extra.sum()), SURNAME_SIM, np.float32)])
        gain = sims * weight + (sims - floor) * index.token_weight[ids]
        initial = sims <= INITIAL_SIM
        return _Partners(
            ids[~initial],
            ids[initial],
            index.forms_of(ids),
            max(0.0, float(gain[~initial].max(initial=0.0))),
            max(0.0, float(gain[initial].max(initial=0.0))),
        )

    def candidates(self, name: NormalName, weights: np.ndarray, floor: float) -> np.ndarray:
        """Forms (ids, sorted) that may score ``floor`` against ``name``: every form whose
        exact score reaches it is among them."""
        index = self.index
        tokens = [
            self.partners(t, r, w, floor)
            for t, r, w in zip(name.tokens, name.rows, weights.tolist(), strict=True)
        ]
        gains = [max(p.word_gain, p.initial_gain) for p in tokens]
        total = sum(gains)
        need = floor * float(weights.sum()) - 1e-6
        if total < need:
            return np.empty(0, dtype=np.int32)
        # A *cover* is a set of query tokens whose gains the others cannot make up for: every
        # form that can reach ``floor`` pairs with at least one token of each cover. A token
        # the others together fall short without is a cover on its own; the rest are grouped
        # greedily, rarest first, into disjoint covers. The forms of the cheapest cover are
        # read and every other cover cuts them (two common surname + given name tokens meet
        # in a few hundred forms, not the ten thousand that hold either).
        order = sorted(range(len(tokens)), key=lambda k: len(tokens[k].forms))
        covers = [[k] for k in order if total - gains[k] < need]
        rest = [k for k in order if total - gains[k] >= need]
        while rest:
            cover, left = [], total
            for k in rest:
                if left < need:
                    break
                cover.append(k)
                left -= gains[k]
            if left >= need:
                break
            covers.append(cover)
            rest = [k for k in rest if k not in cover]
        if not covers:
            return np.arange(index.forms, dtype=np.int32)  # nothing rules any form out
        covers.sort(key=lambda cover: sum(len(tokens[k].forms) for k in cover))
        merged = len(covers[0]) > 1  # forms of several tokens: distinct but out of order
        if merged:
            forms = self._distinct(np.concatenate([tokens[k].forms for k in covers[0]]))
        else:
            forms = tokens[covers[0][0]].forms
        for cover in covers[1:]:
            if not len(forms):
                break
            forms = forms[self._meets(forms, [tokens[k].forms for k in cover])]
        if not len(forms):
            return forms
        # Second cut, same arithmetic on the query tokens each form does pair with.
        tracked = tokens[:_MAX_BITS]
        bits = np.zeros(index.pad + 1, dtype=np.uint32)
        for k, p in enumerate(tracked):
            bits[p.words] |= np.uint32(1 << k)
            bits[p.initials] |= np.uint32(1 << (k + _MAX_BITS))
        held = _held(index, forms, bits)
        by_word = held & np.uint32((1 << _MAX_BITS) - 1)
        by_initial = (held >> np.uint32(_MAX_BITS)) & ~by_word
        gain = _subset_sums(by_word, [p.word_gain for p in tracked])
        gain += _subset_sums(by_initial, [p.initial_gain for p in tracked])
        kept = forms[gain + sum(gains[_MAX_BITS:]) >= need]
        return np.sort(kept) if merged else kept

    def _distinct(self, forms: np.ndarray) -> np.ndarray:
        """Each id once, in no particular order: the last position written for an id is the
        one occurrence kept, without sorting and without scanning a flag per listed form."""
        position = self._scratch.positions(self.index.forms)
        order = np.arange(len(forms), dtype=np.int32)
        position[forms] = order
        return forms[position[forms] == order]

    def _meets(self, forms: np.ndarray, postings: list[np.ndarray]) -> np.ndarray:
        """Which of ``forms`` are in at least one of ``postings`` (each sorted, distinct)."""
        if len(forms) * 16 < sum(len(p) for p in postings):  # few: binary search each list
            meets = np.zeros(len(forms), dtype=bool)
            for posting in postings:
                if len(posting):
                    at = np.searchsorted(posting, forms).clip(max=len(posting) - 1)
                    meets |= posting[at] == forms
            return meets
        kept = self._scratch.flags(self.index.forms)
        for posting in postings:
            kept[posting] = True
        meets = kept[forms]
        for posting in postings:
            kept[posting] = False
        return meets


def _held(index: WatchlistIndex, forms: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """OR of ``bits`` over each form's tokens; slots past the fourth only for long forms."""
    slots = index.slot_tok
    held = bits[slots[0].take(forms)]
    for slot in range(1, min(_SHORT, len(slots))):
        held |= bits[slots[slot].take(forms)]
    if len(slots) > _SHORT:
        rest = np.flatnonzero(index.form_len[forms] > _SHORT)
        if len(rest):
            long = forms[rest]
            for slot in range(_SHORT, len(slots)):
                held[rest] |= bits[slots[slot].take(long)]
    return held


def _subset_sums(held: np.ndarray, gains: list[float]) -> np.ndarray:
    """Per form, the summed gain of the query tokens whose bits are set in ``held``."""
    if len(gains) <= _TABLE_BITS:
        codes = np.arange(1 << len(gains))
        table = (((codes[:, None] >> np.arange(len(gains))) & 1) @ np.asarray(gains)).astype(
            np.float32
        )
        return table[held]
    return sum(((held >> np.uint32(k)) & 1) * np.float32(g) for k, g in enumerate(gains))
