"""Screen one name against the watchlist: block, score, apply the policy, explain the hits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from vigil.aml.screening.blocking import Blocker
from vigil.aml.screening.index import WatchlistIndex
from vigil.aml.screening.normalize import NormalName, known_tokens, normalize
from vigil.aml.screening.score import FormScorer
from vigil.aml.screening.watchlist import Entry, fingerprint, read_watchlist
from vigil.schema.io import read_table

#: Account kinds of the contract, as the list's kinds.
LIST_KIND = {"person": "person", "entity": "entity", "business": "entity", "merchant": "entity"}


@dataclass(frozen=True, slots=True)
class ScreeningPolicy:
    """When a name is a match: the operator's settings, not constants buried in the scorer.

    ``country_penalty`` is taken off the score when both sides give a nationality and they
    differ: on a list, nationality is what tells a listed person from a customer with the same
    common name.
    """

    threshold: float = 0.85
    country_penalty: float = 0.2
    max_hits: int = 10


@dataclass(frozen=True, slots=True)
class ScreeningHit:
    """One listed entry at or above the threshold, and why."""

    entry_id: str
    list: str
    listed_name: str  #: the entry's primary name
    matched_name: str  #: the name or alias that matched best
    country: str | None
    kind: str
    score: float  #: similarity after the country penalty, 0-1
    similarity: float  #: name similarity alone


@dataclass(frozen=True, slots=True)
class ScreeningResult:
    """The answer for one name, with what an auditor needs to reproduce it."""

    query: str
    country: str | None
    kind: str | None
    at: datetime
    list_version: str  #: fingerprint of the list content screened against
    hits: tuple[ScreeningHit, ...]

    @property
    def matched(self) -> bool:
        return bool(self.hits)


class Screener:
    """A watchlist index with its scorer and policy; build once, screen many names."""

    #: From this many forms over the bound on, exact scores are computed all at once: cheaper
    #: than one by one for common names, dearer for the usual handful.
    bulk_from = 24

    def __init__(
        self,
        entries: Sequence[Entry],
        policy: ScreeningPolicy | None = None,
        known: frozenset[str] = frozenset(),
    ):
        self.policy = policy or ScreeningPolicy()
        self.index = WatchlistIndex(entries)
        self.scorer = FormScorer(self.index, known)
        self.blocker = Blocker(self.index, self.scorer)
        self.list_version = fingerprint(self.index.entries)

    @classmethod
    def from_world(cls, data_dir: Path, policy: ScreeningPolicy | None = None) -> Screener:
        """The world's watchlist, with the names in common use among its accounts as
        ``known`` (see :func:`~vigil.aml.screening.normalize.known_tokens`)."""
        accounts = read_table(Path(data_dir), "accounts", required=False)
        names = [] if accounts is None else accounts["name"].drop_nulls().to_list()
        return cls(read_watchlist(data_dir), policy, known_tokens(names))

    def screen(
        self,
        name: str,
        *,
        country: str | None = None,
        kind: str | None = None,
        at: datetime | None = None,
    ) -> ScreeningResult:
        """Entries matching ``name`` best first; ``at`` (default now) is recorded, for audit.

        ``kind`` (person, entity, or an account kind: business, merchant) keeps persons from
        matching firms; ``country`` (alpha-2) applies the policy's nationality penalty.
        """
        found = self.match(
            name,
            country=country,
            kind=kind,
            floor=self.policy.threshold,
            limit=self.policy.max_hits,
        )
        hits = tuple(self._hit(entry, form, sim, score) for entry, form, sim, score in found)
        return ScreeningResult(
            name, country, kind, at or datetime.now(UTC), self.list_version, hits
        )

    def match(
        self,
        name: str,
        *,
        country: str | None,
        kind: str | None,
        floor: float,
        limit: int | None = None,
    ) -> list[tuple[int, int, float, float]]:
        """(entry, form, similarity, score) with score >= ``floor``, best first, one per entry,
        at most ``limit`` entries.

        ``floor`` below the policy's threshold lists near misses too (for evaluation and
        tuning); blocking is sized by it, so nothing at or above it is lost.
        """
        query = normalize(name)
        if not query.tokens:
            return []
        index = self.index
        weights = index.weights(query)
        forms = self.blocker.candidates(query, weights, floor)
        list_kind = LIST_KIND.get(kind) if kind else None
        if list_kind is not None and len(forms):
            forms = forms[index.form_is_entity[forms] == (list_kind == "entity")]
        if not len(forms):
            return []
        penalty = np.zeros(len(forms), dtype=np.float32)
        if country is not None:
            listed = index.form_country[forms]
            penalty += self.policy.country_penalty * ((listed != "") & (listed != country))
        sim = self.scorer.similarities(query, forms)
        bound = self.scorer.bound(weights, forms, sim) - penalty
        near = np.flatnonzero(bound >= floor)
        if len(near) >= self.bulk_from:
            return self._ranked_bulk(query, weights, forms, sim, bound, penalty, near, floor, limit)
        # Exact scores in decreasing order of the bound; stop once no bound can beat the
        # limit-th best entry found (bounds never understate, so nothing is lost).
        order = near[np.argsort(-bound[near], kind="stable")]
        best: dict[int, tuple[int, int, float, float]] = {}
        w = weights.tolist()
        for k in order.tolist():
            entry = int(index.form_entry[forms[k]])
            if limit is not None and len(best) >= limit:
                kth = sorted((v[3] for v in best.values()), reverse=True)[limit - 1]
                if bound[k] <= kth:
                    break
            if entry in best and bound[k] <= best[entry][3]:
                continue
            similarity = self.scorer.exact(query, w, int(forms[k]), sim[:, k, :])
            score = similarity - float(penalty[k])
            if score >= floor and (entry not in best or score > best[entry][3]):
                best[entry] = (entry, int(forms[k]), similarity, score)
        return sorted(best.values(), key=lambda hit: -hit[3])[:limit]

    def _ranked_bulk(
        self,
        query: NormalName,
        weights: np.ndarray,
        forms: np.ndarray,
        sim: np.ndarray,
        bound: np.ndarray,
        penalty: np.ndarray,
        near: np.ndarray,
        floor: float,
        limit: int | None,
    ) -> list[tuple[int, int, float, float]]:
        """What the scan in :meth:`match` returns, for many forms at once: exact scores
        vectorised (:meth:`~.score.FormScorer.exact_many`), one per entry (its best score, the
        earliest in the scan on a tie), entries by score, then by where the scan met them."""
        near = near[np.argsort(-bound[near], kind="stable")]
        similarity = self.scorer.exact_many(query, weights, forms[near], sim[:, near, :])
        score = similarity - penalty[near].astype(np.float64)
        kept = np.flatnonzero(score >= floor)  # positions in the scan, in scan order
        if not len(kept):
            return []
        entry = self.index.form_entry[forms[near[kept]]]
        by_entry = np.lexsort((kept, -score[kept], entry))
        first = np.concatenate(([True], entry[by_entry][1:] != entry[by_entry][:-1]))
        best = by_entry[first]
        met = np.minimum.reduceat(kept[by_entry], np.flatnonzero(first))
        ranked = best[np.lexsort((met, -score[kept][best]))][:limit]
        return [
            (
                int(entry[r]),
                int(forms[near[kept[r]]]),
                float(similarity[kept[r]]),
                float(score[kept[r]]),
            )
            for r in ranked
        ]

    def _hit(self, entry: int, form: int, similarity: float, score: float) -> ScreeningHit:
        e = self.index.entries[entry]
        return ScreeningHit(
            e.entry_id,
            e.list,
            e.name,
            self.index.form_text[form],
            e.country,
            e.kind,
            round(score, 4),
            round(similarity, 4),
        )
