"""The live rule packs: versioned, effective-dated, swapped atomically under running decisions.

Readers (the decision path) never lock. Everything they read hangs off one immutable
:class:`_View` (each jurisdiction's version history and a precomputed timeline of compiled
packs), and a writer builds a whole new view, compiling and validating every pack it could
select, before it replaces the reference. A decision therefore sees the old view or the new one,
never a mix, and a pack that fails to compile never becomes visible.

Time matters twice. A version is in force from its ``effective_from`` until a later-dated
version takes over or it is rolled back, so a decision at time *t* gets the version in force at
*t*, also when *t* is in the past (replays, audits). And packs extend ``base``: a child compiled
on top of one base version is a different pack from the same child on the next base, so the
timeline pairs every child version with the base version in force alongside it, and publishing
a new base re-validates every child against it before anything changes.
"""

from __future__ import annotations

import itertools
import logging
import threading
from bisect import bisect_right
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vigil.rules.pack import (
    BASE,
    CompiledPack,
    PackDocument,
    RulePackError,
    compile_pack,
    pack_key,
    read_pack,
    read_pack_file,
)

log = logging.getLogger(__name__)

Audit = Callable[[dict[str, Any]], None]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Entry:
    """One published version of one jurisdiction's pack."""

    seq: int  #: publish order across the registry; keys the compile cache
    document: PackDocument
    effective_from: datetime | None  #: None: in force since the beginning of time
    published_at: datetime
    actor: str
    rolled_back_at: datetime | None = None
    rolled_back_by: str | None = None

    def in_force(self, at: datetime | None) -> bool:
        """``at`` None stands for the beginning of time."""
        if self.effective_from is not None and (at is None or at < self.effective_from):
            return False
        return self.rolled_back_at is None or at is None or at < self.rolled_back_at


def _select(entries: tuple[_Entry, ...], at: datetime | None) -> _Entry | None:
    """The entry in force at ``at``: the latest effective time wins, then the latest publish."""
    live = [e for e in entries if e.in_force(at)]
    if not live:
        return None
    return max(live, key=lambda e: (e.effective_from or datetime.min.replace(tzinfo=UTC), e.seq))


@dataclass(frozen=True, slots=True)
class _Timeline:
    """``packs[i]`` is in force from ``bounds[i - 1]`` (inclusive) to ``bounds[i]``."""

    bounds: tuple[datetime, ...]
    packs: tuple[CompiledPack | None, ...]

    def at(self, at: datetime) -> CompiledPack | None:
        return self.packs[bisect_right(self.bounds, at)]

    def first(self) -> CompiledPack | None:
        return next((p for p in self.packs if p is not None), None)


@dataclass(frozen=True, slots=True)
class _View:
    histories: Mapping[str, tuple[_Entry, ...]]
    timelines: Mapping[str, _Timeline]
    shadows: Mapping[str, CompiledPack]


class RuleRegistry:
    """Every jurisdiction's live rule pack, with history, scheduling, rollback and shadows.

    Loads every ``*.yaml`` in ``packs_dir`` at start (in force since the beginning of time,
    unless a file says otherwise); a pack that does not compile stops the start. ``audit``
    receives one event per change: ``{who, when, what, jurisdiction, version, effective_from}``.
    """

    def __init__(
        self,
        packs_dir: Path,
        known_names: Collection[str],
        audit: Audit | None = None,
        clock: Callable[[], datetime] = _now,
    ):
        self.packs_dir = Path(packs_dir)
        self.known_names = frozenset(known_names)
        #: the row every pack here evaluates: ``known_names`` in the order given
        self.layout = tuple(dict.fromkeys(known_names))
        self._audit = audit
        self._clock = clock
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._compiled: dict[tuple[int, ...], CompiledPack] = {}
        self._stop = threading.Event()
        self._poll_lock = threading.Lock()
        self._seen: dict[Path, tuple[int, int]] = {}
        self._seen_text: dict[Path, str] = {}
        histories: dict[str, tuple[_Entry, ...]] = {}
        now = self._clock()
        for path in self._files():
            document = read_pack_file(path)
            if document.pack in histories:
                raise RulePackError(
                    f"pack '{document.pack}' is defined twice in {self.packs_dir}", str(path), 1
                )
            entry = _Entry(next(self._seq), document, document.effective_from, now, "startup")
            histories[document.pack] = (entry,)
            self._remember(path, document.text)
        self._view: _View = self._build(histories, {})
        for key, (entry,) in histories.items():
            self._record("load", entry.actor, key, entry.document.version, entry.effective_from)

    # --- reading (no locks) --------------------------------------------------------------------

    def active(self, jurisdiction: str, at: datetime) -> CompiledPack:
        """The pack in force for ``jurisdiction`` at ``at``; ``base`` where it has none.

        Never leaves a payment without rules: before any version's effective time it answers
        with the earliest known version.
        """
        view = self._view
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        timeline = view.timelines.get(pack_key(jurisdiction))
        pack = timeline.at(at) if timeline is not None else None
        if pack is not None:
            return pack
        base = view.timelines.get(BASE)
        pack = base.at(at) if base is not None else None
        if pack is None:
            pack = next(
                (t.first() for t in (timeline, base) if t is not None and t.first() is not None),
                None,
            )
        if pack is None:
            raise LookupError(f"no rule pack for '{jurisdiction}' and no base pack")
        return pack

    def shadow(self, jurisdiction: str, at: datetime) -> CompiledPack | None:
        """The shadow pack to evaluate alongside the live one (its hits are logged, not enforced).

        A jurisdiction without packs of its own shares base's shadow, as it shares base's rules.
        """
        view = self._view
        key = pack_key(jurisdiction)
        pack = view.shadows.get(key)
        if pack is None and key not in view.timelines:
            pack = view.shadows.get(BASE)
        if pack is None:
            return None
        if pack.effective_from is not None:
            at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
            if at < pack.effective_from:
                return None
        return pack

    def source(self, jurisdiction: str) -> str:
        """The YAML of the version in force now (base's when the jurisdiction has none)."""
        return self.active(jurisdiction, self._clock()).text

    def versions(self, jurisdiction: str) -> list[dict[str, Any]]:
        """Every version published for ``jurisdiction``, oldest first, with who and when."""
        view = self._view
        key = pack_key(jurisdiction)
        entries = view.histories.get(key, ())
        current = _select(entries, self._clock())
        return [
            {
                "version": e.document.version,
                "effective_from": e.effective_from,
                "published_at": e.published_at,
                "published_by": e.actor,
                "rolled_back_at": e.rolled_back_at,
                "rolled_back_by": e.rolled_back_by,
                "extends": e.document.extends,
                "in_force": e is current,
            }
            for e in entries
        ]

    def jurisdictions(self) -> list[str]:
        return sorted(self._view.histories)

    # --- writing (one writer at a time) --------------------------------------------------------

    def publish(
        self,
        jurisdiction: str,
        text: str,
        effective_from: datetime | None,
        actor: str,
        source: str | None = None,
    ) -> CompiledPack:
        """Validate and schedule a new version; in force from ``effective_from``.

        ``effective_from`` None means the pack's own ``effective_from``, else now. On any error
        :class:`RulePackError` is raised and nothing changes.
        """
        key = pack_key(jurisdiction)
        document = read_pack(text, source or f"<publish {key} by {actor}>")
        if document.pack != key:
            raise RulePackError(
                f"declares pack '{document.pack}' but is published as '{key}'", document.source, 1
            )
        with self._lock:
            now = self._clock()
            when = _utc(effective_from or document.effective_from or now)
            view = self._view
            entries = view.histories.get(key, ())
            for entry in entries:
                if entry.document.version == document.version and entry.document.text != text:
                    raise RulePackError(
                        f"version '{document.version}' of {key} was already published with other "
                        "rules; give these rules a new version",
                        document.source,
                        1,
                    )
            head = _head(entries)
            if (
                head is not None
                and head.document.text == text
                and (effective_from is None or head.effective_from == when)
            ):
                return self._pack_of(view, key, head)  # a repeat changes nothing
            entry = _Entry(next(self._seq), document, when, now, actor)
            histories = {**view.histories, key: (*entries, entry)}
            new_view = self._build(histories, view.shadows)
            self._swap(new_view)
            self._record("publish", actor, key, document.version, when)
            return self._pack_of(new_view, key, entry)

    def rollback(self, jurisdiction: str, actor: str) -> CompiledPack:
        """Undo the latest publish still standing: the version before it is in force again now.

        A version scheduled for the future is cancelled before it takes effect. Decisions
        already made keep their history: asked about a past time, the registry still answers
        with the version that was in force then.
        """
        key = pack_key(jurisdiction)
        with self._lock:
            now = self._clock()
            view = self._view
            entries = view.histories.get(key, ())
            head = _head(entries)
            standing = [e for e in entries if e.rolled_back_at is None]
            if head is None or len(standing) < 2:
                raise RulePackError(f"{key} has no earlier version to roll back to")
            undone = replace(head, rolled_back_at=now, rolled_back_by=actor)
            histories = {**view.histories, key: tuple(undone if e is head else e for e in entries)}
            self._swap(self._build(histories, view.shadows))
            self._record("rollback", actor, key, head.document.version, head.effective_from)
        return self.active(key, now)

    def set_shadow(self, jurisdiction: str, text: str | None, actor: str) -> None:
        """Set (or, with None, clear) the pack evaluated next to the live one but not enforced.

        A shadow extending ``base`` is compiled on the base in force now.
        """
        key = pack_key(jurisdiction)
        with self._lock:
            view = self._view
            shadows = dict(view.shadows)
            if text is None:
                removed = shadows.pop(key, None)
                version = removed.version if removed is not None else None
            else:
                document = read_pack(text, f"<shadow {key} by {actor}>")
                if document.pack != key:
                    raise RulePackError(
                        f"declares pack '{document.pack}' but is set as the shadow of '{key}'",
                        document.source,
                        1,
                    )
                parents = self._ancestors(view.histories, document, self._clock())
                shadows[key] = compile_pack([document, *(e.document for e in parents)], self.layout)
                version = document.version
            self._view = replace(view, shadows=shadows)
            self._record("shadow" if text is not None else "unshadow", actor, key, version, None)

    # --- watching the folder -------------------------------------------------------------------

    def watch(self, interval_s: float = 1.0) -> threading.Thread:
        """Poll ``packs_dir``; publish each changed file that compiles, log and skip the rest."""
        self._stop.clear()
        thread = threading.Thread(
            target=self._watch_loop, args=(interval_s,), name="vigil-rules-watch", daemon=True
        )
        thread.start()
        return thread

    def close(self) -> None:
        """Stop the watcher, if one runs."""
        self._stop.set()

    def poll(self) -> list[str]:
        """Check the folder once; returns the files published. The watcher calls this."""
        with self._poll_lock:
            return [str(path) for path in self._files() if self._poll_file(path)]

    def _poll_file(self, path: Path) -> bool:
        """Publish ``path`` if it changed since last seen and compiles; True if it did."""
        try:
            stat = path.stat()
            if self._seen.get(path) == (stat.st_mtime_ns, stat.st_size):
                return False
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            log.warning("rule pack %s could not be read: %s", path, error)
            return False
        self._seen[path] = (stat.st_mtime_ns, stat.st_size)
        if self._seen_text.get(path) == text:
            return False
        self._seen_text[path] = text
        try:
            document = read_pack(text, str(path))
            self.publish(document.pack, text, None, f"watch:{path.name}", source=str(path))
        except RulePackError as error:
            log.error("rule pack change ignored, the live pack stays: %s", error)
            return False
        return True

    def _watch_loop(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            try:
                self.poll()
            except Exception:  # the watcher must outlive any one bad poll
                log.exception("rule pack watcher: poll failed")

    def _files(self) -> list[Path]:
        return sorted([*self.packs_dir.glob("*.yaml"), *self.packs_dir.glob("*.yml")])

    def _remember(self, path: Path, text: str) -> None:
        stat = path.stat()
        self._seen[path] = (stat.st_mtime_ns, stat.st_size)
        self._seen_text[path] = text

    # --- building views ------------------------------------------------------------------------

    def _build(
        self, histories: Mapping[str, tuple[_Entry, ...]], shadows: Mapping[str, CompiledPack]
    ) -> _View:
        """Compile every pack any time could select; raises before anything is swapped."""
        bounds = sorted(
            {
                t
                for entries in histories.values()
                for e in entries
                for t in (e.effective_from, e.rolled_back_at)
                if t is not None
            }
        )
        starts: list[datetime | None] = [None, *bounds]
        timelines = {}
        for key in histories:
            packs = [self._pack_at(histories, key, start) for start in starts]
            timelines[key] = _merge_runs(bounds, packs)
        return _View(histories, timelines, shadows)

    def _pack_at(
        self, histories: Mapping[str, tuple[_Entry, ...]], key: str, at: datetime | None
    ) -> CompiledPack | None:
        entry = _select(histories.get(key, ()), at)
        if entry is None:
            return None
        chain = (entry, *self._ancestors(histories, entry.document, at))
        cache_key = tuple(e.seq for e in chain)
        pack = self._compiled.get(cache_key)
        if pack is None:
            pack = compile_pack(
                [e.document for e in chain], self.layout, effective_from=entry.effective_from
            )
            self._compiled[cache_key] = pack
        return pack

    def _ancestors(
        self,
        histories: Mapping[str, tuple[_Entry, ...]],
        document: PackDocument,
        at: datetime | None,
    ) -> list[_Entry]:
        chain: list[_Entry] = []
        seen = {document.pack}
        child = document
        while child.extends is not None:
            if child.extends in seen:
                raise RulePackError(
                    f"'extends' loops back to pack '{child.extends}'", child.source, child.line
                )
            parent = _select(histories.get(child.extends, ()), at)
            if parent is None:
                when = at.isoformat() if at is not None else "the start"
                raise RulePackError(
                    f"extends '{child.extends}', which has no version in force at {when}",
                    child.source,
                    child.line,
                )
            chain.append(parent)
            seen.add(child.extends)
            child = parent.document
        return chain

    def _pack_of(self, view: _View, key: str, entry: _Entry) -> CompiledPack:
        """The pack the newest standing entry compiled to: it is in force at its own start."""
        timeline = view.timelines[key]
        start = entry.effective_from
        pack = timeline.at(start) if start is not None else timeline.packs[0]
        assert pack is not None  # the newest standing entry wins at its effective time
        return pack

    def _swap(self, view: _View) -> None:
        """Make ``view`` the one readers see, and forget compiled packs no timeline uses."""
        self._view = view
        alive = {id(p) for t in view.timelines.values() for p in t.packs}
        self._compiled = {k: p for k, p in self._compiled.items() if id(p) in alive}

    def _record(
        self, what: str, actor: str, key: str, version: str | None, effective: datetime | None
    ) -> None:
        if self._audit is None:
            return
        self._audit(
            {
                "who": actor,
                "when": self._clock(),
                "what": what,
                "jurisdiction": key,
                "version": version,
                "effective_from": effective,
            }
        )


def _head(entries: tuple[_Entry, ...]) -> _Entry | None:
    """The latest publish that has not been rolled back."""
    standing = [e for e in entries if e.rolled_back_at is None]
    return max(standing, key=lambda e: e.seq) if standing else None


def _merge_runs(bounds: list[datetime], packs: list[CompiledPack | None]) -> _Timeline:
    """Drop bounds where nothing changes, so lookups bisect a short list."""
    kept_bounds: list[datetime] = []
    kept_packs = [packs[0]]
    for bound, pack in zip(bounds, packs[1:], strict=True):
        if pack is not kept_packs[-1]:
            kept_bounds.append(bound)
            kept_packs.append(pack)
    return _Timeline(tuple(kept_bounds), tuple(kept_packs))


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
