"""How alike two normalised names are: weighted token alignment, vectorised over candidates.

Tokens of the query and of a listed form are paired one to one, strongest pairs first; the
score is the weighted share of both sides that found a partner::

    S = sum_pairs s(q, c) * (w_q + w_c) / (sum_q w_q + sum_c w_c)

so word order does not matter for people (Tan Wei Ming = Wei Ming Tan), a missing or extra
token costs its weight on one side (a dropped sector word costs little, a dropped given name a
lot), and a different given name (the classic near miss, Nguyen Van An vs Nguyen Van Binh)
fails on both sides. Token similarity is deliberately coarse: equal, one edit apart in a long
token that is not a Chinese syllable (rapidfuzz Damerau-Levenshtein; Ling/Ming or
ching/chung are different names, not typos), the same Chinese surname in another
romanisation, or an initial standing for a word. Every relation is one the blocking keys of
:mod:`.index` can find, so blocking never hides a pair the scorer would accept.

Scoring runs in two steps so that one name against a large list stays well under a
millisecond: every candidate form gets a vectorised upper bound (each token credited with its
best partner, pairs not exclusive), and only forms whose bound clears the threshold get the
exact one-to-one pairing in Python.

Some evidence counts against a match: a word on the father's side of one name matching the
given side of the other (Ismail bin Othman vs Othman bin Ismail), two different middle
initials (Michelle C. Castillo vs Michelle N. Castillo) or line-of-business words (Udom Siam
Transport vs Udom Siam Trading), and words in another order where order carries identity
(firms: Tan Phat vs Phat Tan; patronymic names). People's names may be reordered freely.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import pairwise

import numpy as np
from rapidfuzz.distance import DamerauLevenshtein

from vigil.aml.screening.index import FUZZY_MIN, WatchlistIndex, keys_of
from vigil.aml.screening.normalize import (
    GENERIC,
    INITIAL,
    SYLLABLE_TOKENS,
    WORD,
    NormalName,
    initials_of,
)
from vigil.aml.screening.scratch import ThreadArray

#: Another romanisation of the same surname (Chen/Chan/Tan): near certain, not certain.
SURNAME_SIM = 0.9
#: An initial standing for a word ("C." for Chee): weak evidence.
INITIAL_SIM = 0.5
#: Taken off the score when both names have an initial (or a generic company word) the other
#: lacks, and when words that keep their order in a name are reordered.
MINOR_CONFLICT = 0.15
ORDER_CONFLICT = 0.25


def one_edit_sim(a: str, b: str, known: frozenset[str] = frozenset()) -> float:
    """Similarity of two different tokens one edit apart, or 0 where that is no evidence.

    Two names ``known`` to be in use (Pichai and Wichai, Osman and Othman) are two names, not a
    typo of one; a typo makes a spelling nobody else has.
    """
    if min(len(a), len(b)) < FUZZY_MIN - 1 or max(len(a), len(b)) < FUZZY_MIN:
        return 0.0
    if a in SYLLABLE_TOKENS or b in SYLLABLE_TOKENS or (a in known and b in known):
        return 0.0
    if DamerauLevenshtein.distance(a, b, score_cutoff=1) > 1:
        return 0.0
    return 1.0 - 1.0 / max(len(a), len(b))


class FormScorer:
    """Scores one query against many forms of a :class:`WatchlistIndex` at once.

    ``known`` holds name tokens in common use (see :func:`~vigil.aml.screening.normalize.
    known_tokens`), which are never taken for typos of each other.
    """

    def __init__(
        self, index: WatchlistIndex, known: frozenset[str] = frozenset(), cache_size: int = 65_536
    ):
        self.index = index
        self.known = known
        #: every listed token's neighbours, found once at build (about 30 µs a token): a name
        #: screened for the first time then costs no search for its listed tokens
        self._listed = [self._neighbours(token) for token in index.tokens]
        self._unlisted = lru_cache(maxsize=cache_size)(self._neighbours)
        self._scratch = ThreadArray(np.float32)

    def neighbours(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """Vocabulary ids similar to ``token`` (surnames aside), with their similarity > 0."""
        at = self.index.vocab.get(token)
        return self._unlisted(token) if at is None else self._listed[at]

    def _neighbours(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        index = self.index
        sims: dict[int, float] = {}
        if len(token) == 1:
            for i in index.words_by_letter.get(token, ()):
                sims[int(i)] = INITIAL_SIM
        else:
            for letter in initials_of(token):
                if letter in index.vocab:
                    sims[index.vocab[letter]] = INITIAL_SIM
        for key in keys_of(token):
            for i in index.key_tokens.get(key, ()):
                if i not in sims:
                    sims[i] = one_edit_sim(token, index.tokens[i], self.known)
        if token in index.vocab:
            sims[index.vocab[token]] = 1.0
        sims = {i: v for i, v in sims.items() if v > 0}
        ids = np.fromiter(sims, dtype=np.int32, count=len(sims))
        return ids, np.fromiter(sims.values(), dtype=np.float32, count=len(sims))

    def similarities(self, name: NormalName, forms: np.ndarray) -> np.ndarray:
        """Token similarity of each query token to each token of each form: (query, form, slot)."""
        index = self.index
        tok = index.form_tok[forms]
        out = np.empty((len(name.tokens), *tok.shape), dtype=np.float32)
        # One zeroed slot per vocabulary token, kept per thread: each query token's neighbours
        # are written, read through the forms' tokens, and wiped (zeroing 17,000 slots for
        # every token of every name cost more than the lookups).
        lookup = self._scratch.of(index.pad + 1)
        rows = sides = None
        for i, token in enumerate(name.tokens):
            ids, values = self.neighbours(token)
            lookup[ids] = values
            sim = out[i]
            np.take(lookup, tok, out=sim)
            lookup[ids] = 0.0
            if name.rows[i]:
                if rows is None:
                    rows = index.form_rows[forms]
                np.maximum(sim, SURNAME_SIM * ((rows & name.rows[i]) != 0), out=sim)
            if name.sides[i]:  # given (1) against father (2) or the reverse
                if sides is None:
                    sides = index.form_side[forms]
                sim[sides == 3 - name.sides[i]] = 0.0
        return out

    def bound(self, weights: np.ndarray, forms: np.ndarray, sim: np.ndarray) -> np.ndarray:
        """Each token credited with its best partner: an upper bound of :meth:`exact`, cheap
        enough to compute for every candidate form at once. One to one, ``n`` query tokens
        pair with at most ``n`` form tokens, so the form's credit is also capped by the
        weight of its ``n`` heaviest tokens (else a long firm name passes on one word)."""
        index = self.index
        form_side = (index.form_w[forms] * sim.max(axis=0)).sum(axis=1)
        paired = min(len(weights), len(index.form_top)) - 1
        form_side = np.minimum(form_side, index.form_top[paired][forms])
        total = float(weights.sum()) + index.form_weight[forms]
        # summed row by row, not by a matrix product, whose rounding depends on how many
        # forms there are: a form's bound, and so where the scan meets it, is its own
        query_side = (weights[:, None] * _slot_max(sim)).sum(axis=0)
        return (query_side + form_side) / np.maximum(total, 1e-9)

    def exact_many(
        self, name: NormalName, weights: np.ndarray, forms: np.ndarray, sim: np.ndarray
    ) -> np.ndarray:
        """:meth:`exact` of many forms at once (``sim``: query, form, slot), to the last bit:
        the same greedy pairing (strongest cell first, ties to the later query token and slot),
        the same sums in the same order, in double precision."""
        index = self.index
        n, count, width = sim.shape
        cells = np.ascontiguousarray(sim.transpose(1, 0, 2), dtype=np.float64)  # form, q, slot
        flat = cells.reshape(count, n * width)
        backwards = flat[:, ::-1]  # argmax there finds the last maximum: the latest (i, j)
        form_w = index.form_w[forms].astype(np.float64)
        w = np.asarray(weights, dtype=np.float64)
        rows = np.arange(count)
        partner = np.full((count, n), -1, dtype=np.int64)
        taken = np.zeros((count, width), dtype=bool)
        credit = np.zeros(count)
        for _ in range(min(n, width)):
            k = n * width - 1 - backwards.argmax(axis=1)
            v = flat[rows, k]
            live = np.flatnonzero(v > 0)
            if not len(live):
                break
            i, j = np.divmod(k[live], width)
            credit[live] += v[live] * (w[i] + form_w[live, j])
            partner[live, i] = j
            taken[live, j] = True
            cells[live, i, :] = 0.0  # each query token and each form token pairs once
            cells[live, :, j] = 0.0
        total = sum(w.tolist())  # left to right, as exact sums
        form_total = np.zeros(count)
        for slot in range(width):
            form_total = form_total + form_w[:, slot]
        score = credit / np.maximum(total + form_total, 1e-9)
        classes = np.asarray(name.classes)
        form_class = index.form_class[forms]
        for minor in (INITIAL, GENERIC):  # C. against N., Transport against Trading
            mine = classes == minor
            if not mine.any():
                continue
            lone = ((partner < 0) & mine).any(axis=1)
            other = ((form_class == minor) & ~taken).any(axis=1)
            score = score - np.where(lone & other, MINOR_CONFLICT, 0.0)
        ordered = index.form_is_entity[forms] | index.form_patronymic[forms] | any(name.sides)
        words = np.flatnonzero(classes == WORD)
        if ordered.any() and len(words) > 1:
            # words out of order: a paired word placed before the furthest earlier one
            places = partner[:, words]
            furthest = np.maximum.accumulate(places, axis=1)
            swapped = ((places[:, 1:] >= 0) & (places[:, 1:] < furthest[:, :-1])).any(axis=1)
            score = score - np.where(ordered & swapped, ORDER_CONFLICT, 0.0)
        return score

    def exact(self, name: NormalName, weights: list[float], form: int, sim: np.ndarray) -> float:
        """The score of one form: tokens paired one to one, strongest pairs first, then the
        evidence against (see the module docstring). Never above :meth:`bound`."""
        index = self.index
        form_w = index.form_w[form].tolist()
        cells = sorted(
            ((v, i, j) for i, row in enumerate(sim.tolist()) for j, v in enumerate(row) if v > 0),
            reverse=True,
        )
        partner: dict[int, int] = {}
        taken: set[int] = set()
        credit = 0.0
        for v, i, j in cells:
            if i not in partner and j not in taken:
                partner[i] = j
                taken.add(j)
                credit += v * (weights[i] + form_w[j])
        score = credit / max(sum(weights) + sum(form_w), 1e-9)
        present = int(index.form_classes[form])
        for minor in (INITIAL, GENERIC):  # C. against N., Transport against Trading
            if not present >> minor & 1 or minor not in name.classes:
                continue
            form_class = index.form_class[form].tolist()
            lone = any(c == minor and i not in partner for i, c in enumerate(name.classes))
            other = any(c == minor and j not in taken for j, c in enumerate(form_class))
            if lone and other:
                score -= MINOR_CONFLICT
        if index.form_is_entity[form] or index.form_patronymic[form] or any(name.sides):
            places = [partner[i] for i, c in enumerate(name.classes) if c == WORD and i in partner]
            if any(b < a for a, b in pairwise(places)):
                score -= ORDER_CONFLICT
        return score


def _slot_max(sim: np.ndarray) -> np.ndarray:
    """``sim.max(axis=2)``, one slot at a time: numpy reduces a short last axis row by row,
    ten times slower on a few hundred forms."""
    out = sim[:, :, 0].copy()
    for slot in range(1, sim.shape[2]):
        np.maximum(out, sim[:, :, slot], out=out)
    return out
