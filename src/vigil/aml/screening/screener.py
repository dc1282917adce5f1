"""Screen one name against the watchlist: block, score, apply the policy, explain the hits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

from vigil.aml.screening.birth import CONFLICT, DATE, EVIDENCE, YEAR, BirthIndex, as_birth_date
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

    Date of birth (:mod:`.birth`), where both sides give one: a conflict takes
    ``dob_penalty`` off (an exact homonym born another year scores 0.7, not a hit); agreement
    closes a share of the gap between the name similarity ``s`` and 1, ``s + boost * (1 - s)``,
    ``dob_date_boost`` for a full date and the weaker ``dob_year_boost`` for a year-only
    candidate (a name at 0.82 with the same full date is a hit); missing on either side leaves
    the name to decide.
    """

    threshold: float = 0.85
    country_penalty: float = 0.2
    max_hits: int = 10
    dob_penalty: float = 0.3
    dob_date_boost: float = 0.2
    dob_year_boost: float = 0.1

    def __post_init__(self) -> None:
        for name in ("dob_date_boost", "dob_year_boost"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name}: expected a share in [0, 1), got {getattr(self, name)}")
        if self.dob_year_boost > self.dob_date_boost:
            raise ValueError("dob_year_boost: a year-only agreement must not outweigh a full date")

    def name_floor(self, floor: float, dob: date | None) -> float:
        """The least name similarity that can still reach ``floor`` once the date of birth
        agrees: what blocking must keep so that it stays lossless."""
        boost = self.dob_date_boost if dob is not None else 0.0
        return max(0.0, (floor - boost) / (1.0 - boost))


@dataclass(frozen=True, slots=True)
class ScreeningHit:
    """One listed entry at or above the threshold, and why."""

    entry_id: str
    list: str
    listed_name: str  #: the entry's primary name
    matched_name: str  #: the name or alias that matched best
    country: str | None
    kind: str
    score: float  #: similarity after the country and date of birth, 0-1
    similarity: float  #: name similarity alone
    dob: str = "unknown"  #: date of birth: ``date``, ``year``, ``conflict`` or ``unknown``


@dataclass(frozen=True, slots=True)
class ScreeningResult:
    """The answer for one name, with what an auditor needs to reproduce it."""

    query: str
    country: str | None
    kind: str | None
    at: datetime
    list_version: str  #: fingerprint of the list content screened against
    hits: tuple[ScreeningHit, ...]
    birth_date: date | None = None

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
        self.births = BirthIndex(
            [e.birth_dates for e in self.index.entries],
            [e.birth_years for e in self.index.entries],
        )
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
        birth_date: date | str | None = None,
        at: datetime | None = None,
    ) -> ScreeningResult:
        """Entries matching ``name`` best first; ``at`` (default now) is recorded, for audit.

        ``kind`` (person, entity, or an account kind: business, merchant) keeps persons from
        matching firms; ``country`` (alpha-2) applies the policy's nationality penalty;
        ``birth_date`` (a date or YYYY-MM-DD, the customer's KYC date of birth) is compared
        with the listed dates of birth.
        """
        dob = as_birth_date(birth_date)
        found = self.match(
            name,
            country=country,
            kind=kind,
            birth_date=dob,
            floor=self.policy.threshold,
            limit=self.policy.max_hits,
        )
        hits = tuple(self._hit(entry, form, sim, score, dob) for entry, form, sim, score in found)
        return ScreeningResult(
            name, country, kind, at or datetime.now(UTC), self.list_version, hits, dob
        )

    def match(
        self,
        name: str,
        *,
        country: str | None,
        kind: str | None,
        floor: float,
        limit: int | None = None,
        birth_date: date | None = None,
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
        dob = birth_date if self.births.any_known else None
        forms = self.blocker.candidates(query, weights, self.policy.name_floor(floor, dob))
        list_kind = LIST_KIND.get(kind) if kind else None
        if list_kind is not None and len(forms):
            forms = forms[index.form_is_entity[forms] == (list_kind == "entity")]
        if not len(forms):
            return []
        policy = self.policy
        penalty = np.zeros(len(forms), dtype=np.float32)
        boost = np.zeros(len(forms), dtype=np.float32)
        if country is not None:
            listed = index.form_country[forms]
            penalty += policy.country_penalty * ((listed != "") & (listed != country))
        if dob is not None:
            evidence = self.births.evidence(index.form_entry[forms], dob)
            penalty += policy.dob_penalty * (evidence == CONFLICT)
            boost[evidence == DATE] = policy.dob_date_boost
            boost[evidence == YEAR] = policy.dob_year_boost
        sim = self.scorer.similarities(query, forms)
        raw = self.scorer.bound(weights, forms, sim)
        # s + b (1 - s) grows with s, so it bounds the boosted score; above 1 the raw bound
        # already exceeds any boosted score.
        bound = raw + boost * np.maximum(0.0, 1.0 - raw) - penalty
        near = np.flatnonzero(bound >= floor)
        if len(near) >= self.bulk_from:
            return self._ranked_bulk(
                query, weights, forms, sim, bound, penalty, boost, near, floor, limit
            )
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
            score = similarity + float(boost[k]) * (1.0 - similarity) - float(penalty[k])
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
        boost: np.ndarray,
        near: np.ndarray,
        floor: float,
        limit: int | None,
    ) -> list[tuple[int, int, float, float]]:
        """What the scan in :meth:`match` returns, for many forms at once: exact scores
        vectorised (:meth:`~.score.FormScorer.exact_many`), one per entry (its best score, the
        earliest in the scan on a tie), entries by score, then by where the scan met them."""
        near = near[np.argsort(-bound[near], kind="stable")]
        similarity = self.scorer.exact_many(query, weights, forms[near], sim[:, near, :])
        lift = boost[near].astype(np.float64)
        score = similarity + lift * (1.0 - similarity) - penalty[near].astype(np.float64)
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

    def _hit(
        self, entry: int, form: int, similarity: float, score: float, dob: date | None
    ) -> ScreeningHit:
        e = self.index.entries[entry]
        evidence = int(self.births.evidence(np.array([entry]), dob)[0])
        return ScreeningHit(
            e.entry_id,
            e.list,
            e.name,
            self.index.form_text[form],
            e.country,
            e.kind,
            round(score, 4),
            round(similarity, 4),
            EVIDENCE[evidence],
        )
