"""Candidate blocking: the few listed forms that can reach the threshold, without scoring all.

The proof that a form can be skipped is the scorer's own arithmetic: the exact score
(:meth:`~.score.FormScorer.exact`) is ``sum s * (w_q + x) / (W + C)`` over one-to-one pairs of
a query token of weight ``w_q`` with a form token of weight ``x`` at similarity ``s``, where
``W`` and ``C`` are the weights of the whole query and form. It reaches ``floor`` only if
``sum (s * w_q + (s - floor) * x) >= floor * W``; each query token adds at most ``g_q``, the best
of ``s * w_q + (s - floor) * x`` over the tokens it can pair with (exact, one edit away,
another romanisation of a surname, an initial; see :meth:`~.score.FormScorer.neighbours`).

So for any set of probes (a query token's partners, or its word partners alone) whose gains
the other tokens cannot make up for, a *cover*, a form that can reach ``floor`` must hold at
least one probe of the cover (see :func:`_covers`). The forms of the cheapest cover are read
from the inverted index and each other cover cuts them; where every cover is common, covers
are bitmaps ANDed 64 forms at a time: two common tokens on 10,000 forms each meet on a few
hundred. Where many survive, they are cut again by the same test on the query tokens each form
does pair with (one bit per query token, looked up through the vocabulary, capped one to one),
so on a 100,000-entry list a few dozen forms reach the scorer. Nothing the scorer would accept
at ``floor`` is lost (tests check it against an exhaustive scan).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from vigil.aml.screening.index import WatchlistIndex
from vigil.aml.screening.normalize import SURNAME_BITS, NormalName
from vigil.aml.screening.score import INITIAL_SIM, SURNAME_SIM, FormScorer
from vigil.aml.screening.scratch import ThreadArray

#: Query tokens tracked with a bit for a word partner and one for an initial partner; any
#: beyond count as paired.
_MAX_BITS = 16
#: Up to this many tokens, gains of every subset are tabulated.
_TABLE_BITS = 8
#: Most names have at most this many tokens; longer forms are read in a second pass.
_SHORT = 4
#: Up to this many tokens, the one-to-one cap is looked up in a table of every (word bits,
#: initial bits) code, 4 ** tokens rows, instead of sorting gains per form.
_BEST_TABLE = 4
#: ... when this many forms or more need it.
_BEST_TABLE_FROM = 1024
#: A token whose partners are on this many forms or more keeps them as a bitmap too, one bit
#: per listed form: covers of common tokens are then intersected 64 forms at a time (3,500
#: machine words for 222,000 forms) instead of id by id over thousands of ids.
_BITMAP_FROM = 1024
#: Common tokens whose word partners' bitmap is kept, 28 kB each on a 100,000-entry list.
_BITMAP_CACHE = 1024
#: Common tokens whose bitmap with their initials' is kept too: a token a query gives in
#: full stands for forms giving its initial (John for J.), and an initial in the query for
#: every word it begins (S. for the thousands of words in S), a bitmap dear to build each time;
#: 28 kB each too (with 256, one name in five missed; with 1,024, only tokens met first).
_FULL_CACHE = 1024
#: Fewer forms than this left by the covers go straight to the scorer's bound, which is
#: tighter: the second cut's dozen numpy calls cost more than bounding a few dozen forms.
_CUT_FROM = 64


class _Reach:
    """Where one query token can pair, whatever the floor: its partners in the vocabulary and,
    computed when first asked for, the forms holding them."""

    def __init__(self, blocker: Blocker, ids: np.ndarray, sims: np.ndarray):
        self.index = blocker.index
        self.blocker = blocker
        self.bitmaps = blocker.bitmaps
        initial = sims <= INITIAL_SIM
        #: vocabulary ids it pairs with as a word (exact, one edit, surname), with similarities
        self.words, self.word_sims = ids[~initial], sims[~initial]
        #: ... through an initial
        self.initials, self.initial_sims = ids[initial], sims[initial]
        self._ids = {True: self.words, False: ids}
        self._reads: dict[bool, int] = {}
        self._forms: dict[bool, np.ndarray] = {}
        self._rare: dict[bool, np.ndarray] = {}
        self._common: dict[bool, list[int]] = {}

    def gains(self, weight: float, floor: float) -> tuple[float, float]:
        """The most the token adds to ``sum (s * w_q + (s - floor) * x)`` via a word partner,
        and via an initial."""
        out = []
        for ids, sims in ((self.words, self.word_sims), (self.initials, self.initial_sims)):
            gain = sims * weight + (sims - floor) * self.index.token_weight[ids]
            out.append(max(0.0, float(gain.max(initial=0.0))))
        return out[0], out[1]

    def reads(self, word_only: bool) -> int:
        """How many postings its partners (its word partners, with ``word_only``) hold, a form
        holding two counting twice: how common the token is, known without merging anything."""
        if word_only not in self._reads:
            self._reads[word_only] = self.index.postings_size(self._ids[word_only])
        return self._reads[word_only]

    def forms(self, word_only: bool) -> np.ndarray:
        """Forms holding a partner (a word partner, with ``word_only``), sorted, once each."""
        if word_only not in self._forms:
            self._forms[word_only] = self.index.forms_of(self._ids[word_only])
        return self._forms[word_only]

    def mark(self, bitmap: np.ndarray, initials: bool) -> None:
        """Set in ``bitmap`` the bits of the forms holding a word partner (with ``initials``,
        an initial partner): common partners OR their own bitmaps, the rare ones (typos, other
        spellings) set their few bits, and nothing is merged."""
        ids = self.initials if initials else self.words
        if initials not in self._rare:
            common = self.blocker.is_common[ids]
            self._common[initials] = ids[common].tolist()
            self._rare[initials] = self.index.forms_of(ids[~common])
        for i in self._common[initials]:
            bitmap |= self.bitmaps[i]
        _set(bitmap, self._rare[initials])


#: One member of a cover: a query token's reach, and whether only its word partners count.
_Probe = tuple[_Reach, bool]


class Blocker:
    """Finds candidate forms for a query; caches what it learns about each token."""

    def __init__(self, index: WatchlistIndex, scorer: FormScorer, cache_size: int = 4_096):
        self.index = index
        self.scorer = scorer
        self._scratch = ThreadArray(np.int32)
        #: each vocabulary token on :data:`_BITMAP_FROM` forms or more, as a bitmap of its forms
        #: (a few hundred tokens of a 100,000-entry list, 28 kB each)
        self.bitmaps: dict[int, np.ndarray] = {}
        words = (index.forms + 63) // 64
        common = np.flatnonzero(index.posting_sizes() >= _BITMAP_FROM).tolist()
        for token in common:
            self.bitmaps[token] = np.zeros(words, dtype=np.uint64)
            _set(self.bitmaps[token], index.forms_of(np.array([token])))
        #: per vocabulary token (and the padding id), whether it has a bitmap of its own
        self.is_common = np.zeros(index.pad + 1, dtype=bool)
        self.is_common[common] = True
        self.reach = lru_cache(maxsize=cache_size)(self._reach)
        self.partners = lru_cache(maxsize=cache_size)(self._partners)
        self._word_bitmap = lru_cache(maxsize=_BITMAP_CACHE)(self._words_of)
        self._full_bitmap = lru_cache(maxsize=_FULL_CACHE)(self._all_of)
        #: built here and never evicted, so that no query pays for them: the single letters of
        #: the list (initials: an initial in a query stands for every word it begins) with
        #: their full bitmaps, and the tokens with a bitmap of their own (as a given name and,
        #: for a surname spelling, as a surname) with their word and full bitmaps
        self._kept: dict[tuple[str, int], _Reach] = {}
        self._kept_words: dict[_Reach, np.ndarray] = {}
        self._kept_full: dict[_Reach, np.ndarray] = {}
        for token in index.tokens:
            if len(token) == 1:
                self._keep(token, 0)
        for token in common:
            text = index.tokens[token]
            if len(text) > 1:
                self._keep(text, 0)
                if SURNAME_BITS.get(text):
                    self._keep(text, SURNAME_BITS[text])

    def _keep(self, token: str, rows: int) -> None:
        reach = self._kept[token, rows] = self._reach(token, rows)
        self._kept_words[reach] = self._words_of(reach)
        if len(reach.initials):
            self._kept_full[reach] = self._all_of(reach)

    def _words_of(self, reach: _Reach) -> np.ndarray:
        bitmap = np.zeros((self.index.forms + 63) // 64, dtype=np.uint64)
        reach.mark(bitmap, initials=False)
        return bitmap

    def _all_of(self, reach: _Reach) -> np.ndarray:
        bitmap = self.word_bitmap(reach).copy()
        reach.mark(bitmap, initials=True)
        return bitmap

    def word_bitmap(self, reach: _Reach) -> np.ndarray:
        """The forms holding a word partner of ``reach``, as a bitmap, never to be written."""
        kept = self._kept_words.get(reach)
        return self._word_bitmap(reach) if kept is None else kept

    def bitmap(self, reach: _Reach, word_only: bool) -> np.ndarray:
        """The forms a probe reads, as a bitmap, never to be written: its word partners'
        (a few hundred common tokens), and with its initials' partners, are kept."""
        if word_only or not len(reach.initials):
            return self.word_bitmap(reach)
        kept = self._kept_full.get(reach)
        return self._full_bitmap(reach) if kept is None else kept

    def _reach(self, token: str, rows: int) -> _Reach:
        """``rows``: the surnames the token stands for where it stands as one."""
        kept = self._kept.get((token, rows))
        if kept is not None:
            return kept
        index = self.index
        ids, sims = self.scorer.neighbours(token)
        if rows:
            surnames = index.surname_tokens(rows)
            extra = ~np.isin(surnames, ids)
            ids = np.concatenate([ids, surnames[extra]])
            sims = np.concatenate([sims, np.full(int(extra.sum()), SURNAME_SIM, np.float32)])
        return _Reach(self, ids, sims)

    def _partners(
        self, token: str, rows: int, weight: float, floor: float
    ) -> tuple[_Reach, float, float]:
        """The token's reach, and its word and initial gains at ``floor``."""
        reach = self.reach(token, rows)
        return (reach, *reach.gains(weight, floor))

    def candidates(self, name: NormalName, weights: np.ndarray, floor: float) -> np.ndarray:
        """Forms (ids, sorted) that may score ``floor`` against ``name``: every form whose
        exact score reaches it is among them."""
        index = self.index
        tokens = [
            self.partners(t, r, w, floor)
            for t, r, w in zip(name.tokens, name.rows, weights.tolist(), strict=True)
        ]
        word_gains = [g for _, g, _ in tokens]
        initial_gains = [g for _, _, g in tokens]
        gains = [max(g) for g in zip(word_gains, initial_gains, strict=True)]
        total = sum(gains)
        need = floor * float(weights.sum()) - 1e-6
        if total < need:
            return np.empty(0, dtype=np.int32)
        covers = _covers(tokens, gains, total, need)
        if not covers:
            return np.arange(index.forms, dtype=np.int32)  # nothing rules any form out
        covers.sort(key=lambda cover: sum(reach.reads(w) for reach, w in cover))
        bitmaps = len(covers) > 1 and sum(r.reads(w) for r, w in covers[0]) >= _BITMAP_FROM
        if bitmaps:
            # Common tokens only: AND of the covers' bitmaps, each the OR of its members'.
            found = np.zeros((index.forms + 63) // 64, dtype=np.uint64)
            for reach, word_only in covers[0]:
                found |= self.bitmap(reach, word_only)
            for cover in covers[1:]:
                other = self.bitmap(*cover[0])
                for reach, word_only in cover[1:]:
                    other = other | self.bitmap(reach, word_only)
                found &= other
            forms = _members(found)
        else:
            # The first cover is rare: read its forms and look each up in the other covers.
            reach, word_only = covers[0][0]
            forms = reach.forms(word_only)
            if len(covers[0]) > 1:  # forms of several tokens: made distinct, sorted at the end
                forms = self._distinct(np.concatenate([r.forms(w) for r, w in covers[0]]))
            for cover in covers[1:]:
                if not len(forms):
                    break
                forms = forms[self._meets(forms, cover)]
        ordered = bitmaps or len(covers[0]) == 1
        # A one-token name (Sujarwo, Wahyudi) required as a word: every form left holds a word
        # partner, so has the token's whole gain, and the cut would keep them all.
        lone = len(tokens) == 1 and any(len(c) == 1 and c[0][1] for c in covers)
        if lone or len(forms) < max(_CUT_FROM, 1):
            return forms if ordered else np.sort(forms)
        # Second cut, same arithmetic on the query tokens each form does pair with.
        tracked = tokens[:_MAX_BITS]
        bits = np.zeros(index.pad + 1, dtype=np.uint32)
        for k, (reach, _, _) in enumerate(tracked):
            bits[reach.words] |= np.uint32(1 << k)
            bits[reach.initials] |= np.uint32(1 << (k + _MAX_BITS))
        held, partnered = _held(index, forms, bits)
        by_word = held & np.uint32((1 << _MAX_BITS) - 1)
        by_initial = (held >> np.uint32(_MAX_BITS)) & ~by_word
        gain = _subset_sums(by_word, word_gains[:_MAX_BITS])
        gain += _subset_sums(by_initial, initial_gains[:_MAX_BITS])
        kept = gain + sum(gains[_MAX_BITS:]) >= need
        if len(tokens) <= _MAX_BITS:
            # Pairs are one to one: a form with m tokens that have partners pairs at most m
            # query tokens, so only its m best gains count (Li Li is not every form with Li).
            short = np.flatnonzero(kept & (partnered < np.bitwise_count(by_word | by_initial)))
            if len(short):
                # first the m best gains of the whole query (Li Li: one Li is not enough),
                # then, for the forms that pass, the m best of the tokens each pairs with
                top = [0.0]
                for gain in sorted(gains, reverse=True):
                    top.append(top[-1] + gain)
                passed = np.array(top)[partnered[short]] >= need
                kept[short[~passed]] = False
                short = short[passed]
            if len(short) > _BEST_TABLE_FROM and len(tokens) <= _BEST_TABLE:
                # the m best gains of every (word bits, initial bits) code, looked up per form
                n = len(tokens)
                codes = np.arange(1 << (2 * n), dtype=np.uint32)
                mask = np.uint32((1 << n) - 1)
                best = np.stack(
                    _best(codes & mask, codes >> np.uint32(n), word_gains, initial_gains)
                )
                code = by_word[short] | (by_initial[short] << np.uint32(n))
                kept[short] = best[partnered[short], code] >= need
            elif len(short):
                best = _best(by_word[short], by_initial[short], word_gains, initial_gains)
                kept[short] = np.choose(partnered[short], best) >= need
        kept = forms[kept]
        return kept if ordered else np.sort(kept)

    def _meets(self, forms: np.ndarray, cover: list[_Probe]) -> np.ndarray:
        """Which of ``forms`` hold a probe of ``cover``: a bit test where the probe is common,
        else a binary search in its few forms."""
        meets = np.zeros(len(forms), dtype=bool)
        for reach, word_only in cover:
            if reach.reads(word_only) >= _BITMAP_FROM:
                bitmap = self.bitmap(reach, word_only)
                shift = (forms & 63).astype(np.uint64)
                meets |= ((bitmap[forms >> 6] >> shift) & np.uint64(1)).astype(bool)
                continue
            posting = reach.forms(word_only)
            if len(posting):
                at = np.searchsorted(posting, forms).clip(max=len(posting) - 1)
                meets |= posting[at] == forms
        return meets

    def _distinct(self, forms: np.ndarray) -> np.ndarray:
        """Each id once, in no particular order: the last position written for an id is the
        one occurrence kept, without sorting and without scanning a flag per listed form."""
        position = self._scratch.of(self.index.forms)
        order = np.arange(len(forms), dtype=np.int32)
        position[forms] = order
        return forms[position[forms] == order]


def _covers(
    tokens: list[tuple[_Reach, float, float]], gains: list[float], total: float, need: float
) -> list[list[_Probe]]:
    """Sets of probes a form that can reach ``need`` holds one of, each.

    A form without any partner of a query token loses the token's gain; without a word
    partner, it loses the gain less what an initial still brings. Probes whose losses together
    exceed the slack ``total - need`` are a cover. A token the others together fall short
    without is a cover on its own, probed through its words alone where its initial cannot
    close the gap either; the other tokens, and then the word partners of every token not
    already required as words, are grouped greedily, rarest first, into disjoint covers. The
    word covers matter where initials are shared: Chieh and Ching both stand for the initials
    C, Z, Q and J, so the forms holding either token and those holding the other meet on every
    form with such an initial.
    """
    slack = total - need
    covers: list[list[_Probe]] = []
    rest, as_word = [], set()
    for k in sorted(range(len(tokens)), key=lambda k: tokens[k][0].reads(False)):
        reach, _, initial_gain = tokens[k]
        if gains[k] > slack:
            if gains[k] - initial_gain > slack:
                as_word.add(k)
            covers.append([(reach, k in as_word)])
        else:
            rest.append(k)
    covers += _grouped([(tokens[k][0], False, gains[k]) for k in rest], slack)
    words = [k for k in range(len(tokens)) if k not in as_word]
    words.sort(key=lambda k: tokens[k][0].reads(True))
    covers += _grouped([(tokens[k][0], True, gains[k] - tokens[k][2]) for k in words], slack)
    distinct: dict[tuple[tuple[int, bool], ...], list[_Probe]] = {}
    for cover in covers:  # a token twice in a name (Li Li) is one cover, not two to intersect
        distinct.setdefault(tuple(sorted((id(r), w) for r, w in cover)), cover)
    return list(distinct.values())


def _grouped(probes: list[tuple[_Reach, bool, float]], slack: float) -> list[list[_Probe]]:
    """Disjoint covers from ``(reach, word_only, loss)`` in order, each the shortest prefix of
    what is left whose losses exceed ``slack``."""
    covers: list[list[_Probe]] = []
    while probes:
        cover, lost = [], 0.0
        for reach, word_only, loss in probes:
            if lost > slack:
                break
            cover.append((reach, word_only))
            lost += loss
        if lost <= slack:
            break
        covers.append(cover)
        probes = probes[len(cover) :]
    return covers


def _set(bitmap: np.ndarray, forms: np.ndarray) -> None:
    """Set bit ``f % 64`` of word ``f // 64`` for each of ``forms`` (sorted): the bits of one
    word are ORed together first (``np.bitwise_or.at`` is several times slower)."""
    if not len(forms):
        return
    words = forms >> 6
    bits = np.left_shift(np.uint64(1), (forms & 63).astype(np.uint64))
    first = np.flatnonzero(np.concatenate(([True], words[1:] != words[:-1])))
    bitmap[words[first]] |= np.bitwise_or.reduceat(bits, first)


def _members(bitmap: np.ndarray) -> np.ndarray:
    """The forms whose bits are set, sorted: only the words with a bit set are unpacked."""
    words = np.flatnonzero(bitmap != 0)
    bits = np.unpackbits(bitmap[words].view(np.uint8), bitorder="little")
    bits = np.flatnonzero(bits.view(bool))  # nonzero is several times faster on bools
    return (words[bits >> 6] * 64 + (bits & 63)).astype(np.int32)


def _held(index: WatchlistIndex, forms: np.ndarray, bits: np.ndarray) -> tuple[np.ndarray, ...]:
    """OR of ``bits`` over each form's tokens, and how many of its tokens have any bit; slots
    past the fourth only for long forms."""
    slots = index.slot_tok
    got = bits[np.take(slots[:_SHORT], forms, axis=1)]  # the first slots of all forms at once
    held = np.bitwise_or.reduce(got, axis=0)
    partnered = np.count_nonzero(got, axis=0)
    if len(slots) > _SHORT:
        rest = np.flatnonzero(index.form_len[forms] > _SHORT)
        if len(rest):
            long = forms[rest]
            for slot in range(_SHORT, len(slots)):
                got = bits[slots[slot].take(long)]
                held[rest] |= got
                partnered[rest] += got != 0
    return held, partnered


def _subset_sums(held: np.ndarray, gains: list[float]) -> np.ndarray:
    """Per form, the summed gain of the query tokens whose bits are set in ``held``."""
    if len(gains) <= _TABLE_BITS:
        table = [0.0]  # table[code]: the gains of code's bits, doubled one token at a time
        for gain in gains:
            table += [t + gain for t in table]
        return np.array(table)[held]
    return sum(((held >> np.uint32(k)) & 1) * np.float32(g) for k, g in enumerate(gains))


def _best(
    by_word: np.ndarray, by_initial: np.ndarray, word_gains: list[float], initial_gains: list[float]
) -> list[np.ndarray]:
    """``[m]``: per form, the sum of the ``m`` best gains of the query tokens it pairs with.

    The gains are sorted column-wise by a sorting network (odd-even transposition, one
    maximum and one minimum per comparator over all forms at once): ``np.sort`` along rows of
    two to five gains pays its per-row cost thousands of times.
    """
    columns = [
        np.where((by_word >> k) & 1, word, np.where((by_initial >> k) & 1, initial, 0.0))
        for k, (word, initial) in enumerate(zip(word_gains, initial_gains, strict=True))
    ]
    for rank in range(len(columns)):
        for j in range(rank % 2, len(columns) - 1, 2):
            high = np.maximum(columns[j], columns[j + 1])
            columns[j + 1] = np.minimum(columns[j], columns[j + 1])
            columns[j] = high
    best = [np.zeros(len(by_word))]
    for column in columns:
        best.append(best[-1] + column)
    return best
