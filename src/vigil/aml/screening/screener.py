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
from vigil.aml.screening.scratch import ThreadArray
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
    #: Forms scored in the first bulk chunk; later chunks double.
    bulk_chunk = 32
    #: Fewer contents than this not met before in a chunk are scored one by one.
    bulk_few = 8

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
        self._scratch = ThreadArray(np.int32)
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
        entries = np.fromiter((entry for entry, *_ in found), dtype=np.int64, count=len(found))
        verdicts = self.births.evidence(entries, dob).tolist()  # all hits at once
        hits = tuple(
            self._hit(entry, form, sim, score, verdict)
            for (entry, form, sim, score), verdict in zip(found, verdicts, strict=True)
        )
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
        sim = self.scorer.similarities(query, forms)
        raw = self.scorer.bound(weights, forms, sim)
        if dob is not None:
            # No date of birth lifts a form by more than a full date's boost: the forms that
            # cannot reach ``floor`` even so are dropped before their dates are looked up
            # (the dates of a few hundred entries cost more than this test). The scan keeps
            # the order of those left, so it meets the same forms in the same order.
            lifted = raw + policy.dob_date_boost * np.maximum(0.0, 1.0 - raw)
            kept = np.flatnonzero(lifted >= floor)
            if len(kept) < len(forms):
                forms, sim, raw = forms[kept], sim[:, kept, :], raw[kept]
        penalty = np.zeros(len(forms), dtype=np.float32)
        boost = np.zeros(len(forms), dtype=np.float32)
        if country is not None:
            listed = index.form_country[forms]
            penalty += policy.country_penalty * ((listed != "") & (listed != country))
        if dob is not None and len(forms):
            evidence = self.births.evidence(index.form_entry[forms], dob)
            penalty += policy.dob_penalty * (evidence == CONFLICT)
            boost[evidence == DATE] = policy.dob_date_boost
            boost[evidence == YEAR] = policy.dob_year_boost
        # s + b (1 - s) grows with s, so it bounds the boosted score; above 1 the raw bound
        # already exceeds any boosted score.
        bound = raw + boost * np.maximum(0.0, 1.0 - raw) - penalty
        near = np.flatnonzero(bound >= floor)
        # The scan: forms in decreasing order of the bound. An entry ranks by its best score,
        # ties by where the scan met the form that scored it; once ``limit`` entries are found
        # and no bound left beats the limit-th score, nothing left can enter the top (bounds
        # never understate, and a tie met later ranks lower), so the scan stops there.
        order = near[np.argsort(-bound[near], kind="stable")]
        if len(order) >= self.bulk_from:
            return self._ranked_bulk(
                query, weights, forms, sim, bound, penalty, boost, order, floor, limit
            )
        best: dict[int, tuple[int, int, float, float, int]] = {}
        w = weights.tolist()
        content = index.form_content[forms[order]].tolist()
        known: dict[int, float] = {}  # similarity per content already scored
        for position, k in enumerate(order.tolist()):
            entry = int(index.form_entry[forms[k]])
            if limit is not None and len(best) >= limit:
                kth = sorted((v[3] for v in best.values()), reverse=True)[limit - 1]
                if bound[k] <= kth:
                    break
            if entry in best and bound[k] <= best[entry][3]:
                continue
            similarity = known.get(content[position])
            if similarity is None:
                similarity = self.scorer.exact(query, w, int(forms[k]), sim[:, k, :])
                known[content[position]] = similarity
            score = similarity + float(boost[k]) * (1.0 - similarity) - float(penalty[k])
            if score >= floor and (entry not in best or score > best[entry][3]):
                best[entry] = (entry, int(forms[k]), similarity, score, position)
        ranked = sorted(best.values(), key=lambda hit: (-hit[3], hit[4]))[:limit]
        return [hit[:4] for hit in ranked]

    def _ranked_bulk(
        self,
        query: NormalName,
        weights: np.ndarray,
        forms: np.ndarray,
        sim: np.ndarray,
        bound: np.ndarray,
        penalty: np.ndarray,
        boost: np.ndarray,
        order: np.ndarray,
        floor: float,
        limit: int | None,
    ) -> list[tuple[int, int, float, float]]:
        """What the scan in :meth:`match` returns, scoring many forms at once
        (:meth:`~.score.FormScorer.exact_many`, bit-identical to ``exact``): chunks of the scan
        in turn, each twice the last, with the scan's stopping test between chunks. A common
        name (Wahyudi on 300 listed forms) finds its ``limit`` namesakes in the first chunk
        and scores no more. Forms alike token for token (the index's ``form_content``: Juan
        Santos, listed for many people) score alike, so each content is scored once, where
        the scan first meets it, and a chunk that meets only a few new contents scores them
        one by one."""
        entry_of = self.index.form_entry
        # Where the scan first meets each place's content (a slot per content, written from
        # the end so that the first place writes last): each content is scored there once.
        content = self.index.form_content[forms[order]]
        places = np.arange(len(order))
        slot = self._scratch.of(self.index.contents)
        slot[content[::-1]] = places[::-1]
        first = slot[content]
        is_first = first == places
        similarity = np.empty(len(order))
        found: list[tuple[np.ndarray, ...]] = []  # (position, entry, similarity, score)
        start, size = 0, self.bulk_chunk
        w = weights.tolist()
        while start < len(order):
            end = min(start + size, len(order))
            new = start + np.flatnonzero(is_first[start:end])
            if len(new) >= self.bulk_few:
                part = order[new]
                similarity[new] = self.scorer.exact_many(
                    query, weights, forms[part], sim[:, part, :]
                )
            else:  # a few contents not met before: one by one costs less than a bulk call
                for place, k in zip(new.tolist(), order[new].tolist(), strict=True):
                    similarity[place] = self.scorer.exact(query, w, int(forms[k]), sim[:, k, :])
            part = order[start:end]
            chunk = similarity[first[start:end]]
            lift = boost[part].astype(np.float64)
            score = chunk + lift * (1.0 - chunk) - penalty[part].astype(np.float64)
            kept = np.flatnonzero(score >= floor)
            if len(kept):
                found.append((kept + start, entry_of[forms[part[kept]]], chunk[kept], score[kept]))
            start = end
            size *= 2
            if limit is None or not found or start >= len(order):
                continue
            position, entry, _, score = (np.concatenate(c) for c in zip(*found, strict=True))
            ranked = _ranked(position, entry, score)
            if len(ranked) >= limit and bound[order[start]] <= score[ranked[limit - 1]]:
                break
        if not found:
            return []
        position, entry, similarity, score = (np.concatenate(c) for c in zip(*found, strict=True))
        return [
            (int(entry[r]), int(forms[order[position[r]]]), float(similarity[r]), float(score[r]))
            for r in _ranked(position, entry, score)[:limit].tolist()
        ]

    def _hit(
        self, entry: int, form: int, similarity: float, score: float, evidence: int
    ) -> ScreeningHit:
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
            EVIDENCE[evidence],
        )


def _ranked(position: np.ndarray, entry: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Indices of each entry's best form (the earliest met on a tie), ranked by score, then by
    where the scan met it."""
    by_entry = np.lexsort((position, -score, entry))
    first = np.concatenate(([True], entry[by_entry][1:] != entry[by_entry][:-1]))
    best = by_entry[first]
    return best[np.lexsort((position[best], -score[best]))]
