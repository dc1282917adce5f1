"""The watchlist, normalised once and laid out for fast lookup.

Every listed name and alias (a *form*) is normalised once and stored as a row of token ids with
the token's surname rows, patronymic side, class and weight. Token weights are inverse list
frequencies (a token on many entries, like Nguyen or Trading, identifies little) times the
class weight of :mod:`~vigil.aml.screening.normalize`.

Two inverted indexes serve blocking (:mod:`.blocking`) and scoring (:mod:`.score`): token id ->
forms containing it, and *key* -> vocabulary tokens, where a token's keys are itself and, for
tokens of four letters or more, its one-letter deletions (as in SymSpell), so that two tokens
one typo or transposition apart always share a key.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from vigil.aml.screening.normalize import (
    CLASS_WEIGHT,
    NormalName,
    initials_of,
    normalize,
    token_class,
)
from vigil.aml.screening.watchlist import Entry

#: Tokens this long or longer tolerate one edit (typo, transposition, doubled letter).
FUZZY_MIN = 4


@lru_cache(maxsize=1 << 16)
def keys_of(token: str) -> frozenset[str]:
    """The token and, when long enough, each of its one-letter deletions."""
    keys = {token}
    if len(token) >= FUZZY_MIN:
        keys.update(token[:i] + token[i + 1 :] for i in range(len(token)))
    return frozenset(keys)


class WatchlistIndex:
    """Forms as padded token-id rows with their attributes, and the inverted indexes."""

    def __init__(self, entries: Sequence[Entry]):
        self.entries = list(entries)
        forms: list[NormalName] = []
        owner: list[int] = []
        #: each form as the list writes it, to show which name or alias matched
        self.form_text: list[str] = []
        df: dict[str, int] = defaultdict(int)
        for i, entry in enumerate(self.entries):
            seen: set[tuple[str, ...]] = set()
            for text in entry.names:
                form = normalize(text)
                if form.tokens and form.tokens not in seen:
                    seen.add(form.tokens)
                    forms.append(form)
                    owner.append(i)
                    self.form_text.append(text)
            for token in {t for tokens in seen for t in tokens}:
                df[token] += 1
        self.tokens = sorted(df)
        self.vocab: dict[str, int] = {t: i for i, t in enumerate(self.tokens)}
        n = max(1, len(self.entries))
        idf = [math.log(1.0 + n / df[t]) for t in self.tokens]
        self.idf = np.array([*idf, 0.0], dtype=np.float32)
        #: weight of a query token the list never uses: as rare as a token can be
        self.unseen_idf = math.log(1.0 + n)
        self.pad = len(self.tokens)  # the extra last id: a padding token of weight 0
        self._layout(forms, owner)
        self._lookups()

    def _layout(self, forms: list[NormalName], owner: list[int]) -> None:
        lengths = np.array([len(f.tokens) for f in forms], dtype=np.int64)
        width = int(lengths.max(initial=1))
        row = np.repeat(np.arange(len(forms)), lengths)
        col = np.arange(len(row)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        flat_tok = np.array([self.vocab[t] for f in forms for t in f.tokens], dtype=np.int32)

        def padded(values: list[int], fill: int, dtype: type) -> np.ndarray:
            out = np.full((len(forms), width), fill, dtype=dtype)
            out[row, col] = values
            return out

        self.form_entry = np.asarray(owner, dtype=np.int32)
        self.form_len = lengths.astype(np.int8)
        self.form_tok = padded(flat_tok.tolist(), self.pad, np.int32)
        #: the same, one contiguous row per token slot: blocking gathers a slot of thousands of
        #: forms at once, and reads only the slots a form has
        self.slot_tok = np.ascontiguousarray(self.form_tok.T)
        self.form_rows = padded([r for f in forms for r in f.rows], 0, np.int64)
        self.form_side = padded([s for f in forms for s in f.sides], 0, np.int8)
        self.form_class = padded([c for f in forms for c in f.classes], -1, np.int8)
        #: per form, bit ``c`` set when it has a token of class ``c``: the scorer looks for
        #: conflicting initials or company words only in forms that have some
        self.form_classes = np.bitwise_or.reduce(
            np.where(self.form_class >= 0, 1 << self.form_class.clip(min=0), 0), axis=1
        ).astype(np.int8)
        class_w = padded([w for f in forms for w in f.weights], 0, np.float32)
        self.form_w = self.idf[self.form_tok] * class_w
        self.form_weight = self.form_w.sum(axis=1)
        #: ``form_top[k]``: the weight of each form's k + 1 heaviest tokens, all that k + 1
        #: query tokens can pair with (row-major by k, for contiguous lookups)
        self.form_top = np.ascontiguousarray(np.cumsum(-np.sort(-self.form_w, axis=1), axis=1).T)
        #: forms whose word order carries identity: Malay and Tamil names with a connector
        self.form_patronymic = (self.form_side != 0).any(axis=1)
        self.form_country = np.array([self.entries[i].country or "" for i in owner], dtype="U2")
        self.form_is_entity = np.array([self.entries[i].kind == "entity" for i in owner])
        #: one id per content: forms alike token for token (tokens, surname rows, sides,
        #: classes, kind) have the same similarities to any query and the same exact score,
        #: so a scan scores each content once (many listed people share a common name)
        content = np.concatenate(
            [
                self.form_tok,
                self.form_rows.view(np.int32),
                self.form_side.astype(np.int32),
                self.form_class.astype(np.int32),
                self.form_is_entity[:, None].astype(np.int32),
            ],
            axis=1,
        )
        packed = np.ascontiguousarray(content).view(np.dtype((np.void, 4 * content.shape[1])))
        _, inverse = np.unique(packed.ravel(), return_inverse=True)
        self.form_content = inverse.astype(np.int32)
        self.contents = int(inverse.max(initial=-1)) + 1
        # token id -> forms holding it, as CSR arrays
        pairs = np.unique(np.stack([flat_tok.astype(np.int64), row]), axis=1)
        self._posting_forms = pairs[1].astype(np.int32)
        self._posting_start = np.searchsorted(pairs[0], np.arange(len(self.tokens) + 1))
        #: each token's weight as a form token: list frequency times its class weight
        classes = [CLASS_WEIGHT[token_class(t)] for t in self.tokens]
        self.token_weight = self.idf * np.array([*classes, 0.0], dtype=np.float32)
        # surname rows each token stands for where it stands as a surname
        role = self.form_rows != 0
        self.token_rows = np.zeros(len(self.tokens) + 1, dtype=np.int64)
        np.bitwise_or.at(self.token_rows, self.form_tok[role], self.form_rows[role])

    def _lookups(self) -> None:
        #: one-edit keys over the vocabulary, to find a query token's neighbours
        self.key_tokens: dict[str, list[int]] = defaultdict(list)
        by_letter: dict[str, list[int]] = defaultdict(list)
        for i, token in enumerate(self.tokens):
            for key in keys_of(token):
                self.key_tokens[key].append(i)
            if len(token) > 1:
                for letter in initials_of(token):
                    by_letter[letter].append(i)
        #: whole words by the initials that may stand for them
        self.words_by_letter = {k: np.asarray(v, dtype=np.int32) for k, v in by_letter.items()}
        self._surname_tokens = np.flatnonzero(self.token_rows).astype(np.int32)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def forms(self) -> int:
        return len(self.form_entry)

    def weights(self, name: NormalName) -> np.ndarray:
        """Query token weights on the list's scale."""
        idf = [
            float(self.idf[self.vocab[t]]) if t in self.vocab else self.unseen_idf
            for t in name.tokens
        ]
        return np.asarray(idf, dtype=np.float32) * np.asarray(name.weights, dtype=np.float32)

    def forms_of(self, token_ids: np.ndarray) -> np.ndarray:
        """Forms holding any of ``token_ids``, sorted, each once."""
        start, posting = self._posting_start, self._posting_forms
        if len(token_ids) <= 4:
            parts = [posting[start[i] : start[i + 1]] for i in token_ids.tolist()]
            if len(parts) <= 1:  # a posting list is sorted and holds each form once
                return parts[0] if parts else np.empty(0, dtype=np.int32)
            merged = np.concatenate(parts)
        else:  # the posting lists of many tokens (typos, other spellings) gathered at once
            begin = start[token_ids]
            sizes = start[token_ids + 1] - begin
            at = np.repeat(begin - (np.cumsum(sizes) - sizes), sizes)
            merged = posting[at + np.arange(len(at))]
        # np.unique is many times slower here; a stable sort merges the sorted runs
        merged = np.sort(merged, kind="stable")
        return merged[np.concatenate(([True], merged[1:] != merged[:-1]))]

    def posting_sizes(self) -> np.ndarray:
        """How many forms hold each vocabulary token."""
        return np.diff(self._posting_start)

    def postings_size(self, token_ids: np.ndarray) -> int:
        """How many (token, form) postings ``token_ids`` hold together."""
        start = self._posting_start
        return int((start[token_ids + 1] - start[token_ids]).sum())

    def surname_tokens(self, rows: int) -> np.ndarray:
        """Tokens standing somewhere as a surname of one of ``rows``."""
        ids = self._surname_tokens
        return ids[(self.token_rows[ids] & rows) != 0]
