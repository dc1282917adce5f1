"""Rule packs: read a YAML pack, resolve ``extends``, validate it and compile it.

A pack is data written by compliance staff, so every error names the file, the YAML line and the
rule, and nothing is half-loaded: :func:`compile_pack` either returns a whole
:class:`CompiledPack` or raises :class:`RulePackError`. The compiled pack is immutable, which is
what lets the registry swap it under running decisions by replacing one reference.

Inheritance is resolved on the YAML data, before compiling: a child's params and lists replace
the parent's of the same name, and a child rule with a parent rule's id is merged over it key by
key (so ``{id: BASE-X, enabled: false}`` switches a base rule off). Every condition is then
compiled in the child's scope, so a base rule written against ``large_value`` picks up each
jurisdiction's own threshold.
"""

from __future__ import annotations

import difflib
import keyword
import re
from bisect import bisect_right
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from vigil.rules.expression import (
    FUNCTIONS,
    Condition,
    Evaluator,
    ExpressionError,
    Scope,
    compile_expression,
    row_of,
)

#: ``flag`` adds a reason and a score weight but sets no action floor.
ACTIONS = ("approve", "review", "decline", "flag")
BASE = "base"
#: The packs shipped with Vigil, one file per jurisdiction plus ``base.yaml``.
PACKS_DIR = Path(__file__).with_name("packs")

#: Nodes visited while reading one YAML document; aliases count each time they are expanded,
#: so a "billion laughs" document is refused instead of eating the memory of the server.
_MAX_NODES = 100_000
_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_PACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class RulePackError(ValueError):
    """A pack that cannot be used, reported as ``file:line: problem``."""

    def __init__(self, problem: str, source: str | None = None, line: int | None = None):
        self.problem, self.source, self.line = problem, source, line
        where = source if line is None or source is None else f"{source}:{line}"
        super().__init__(f"{where}: {problem}" if where else problem)


def context_names() -> list[str]:
    """What conditions may read: the transaction's contract fields and the engine's features.

    Labels are left out on purpose: a rule that read ``is_fraud`` would look perfect in a
    backtest and be useless live.
    """
    from vigil.features.spec import default_feature_names
    from vigil.schema.tables import TRANSACTIONS

    return [c.name for c in TRANSACTIONS.columns if not c.label] + default_feature_names()


def pack_key(name: str) -> str:
    """The registry key of a pack name: jurisdiction codes upper case, ``base`` lower case."""
    upper = name.strip().upper()
    return BASE if upper == BASE.upper() else upper


# --- reading YAML with line numbers ------------------------------------------------------------


class _Map(dict):
    """A YAML mapping that remembers the (1-based) line of each key."""

    def __init__(self, line: int):
        super().__init__()
        self.line = line
        self.lines: dict[str, int] = {}


class _Seq(list):
    def __init__(self, line: int):
        super().__init__()
        self.line = line
        self.lines: list[int] = []


def _read_yaml(text: str, source: str) -> Any:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        raise RulePackError(
            f"not valid YAML: {problem}", source, mark.line + 1 if mark else None
        ) from None
    if root is None:
        raise RulePackError("the pack is empty", source)
    return _YamlReader(source).value(root)


class _YamlReader:
    def __init__(self, source: str):
        self.source = source
        self.constructor = SafeConstructor()
        self.budget = _MAX_NODES

    def value(self, node: yaml.Node) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise RulePackError("the document is too large (too many YAML nodes)", self.source)
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out = _Map(line)
            for key_node, value_node in node.value:
                key = self.value(key_node)
                if not isinstance(key, str):
                    raise RulePackError(f"key {key!r} must be text", self.source, line)
                if key in out:
                    raise RulePackError(
                        f"duplicate key '{key}'", self.source, key_node.start_mark.line + 1
                    )
                out[key] = self.value(value_node)
                out.lines[key] = key_node.start_mark.line + 1
            return out
        if isinstance(node, yaml.SequenceNode):
            seq = _Seq(line)
            for item in node.value:
                seq.append(self.value(item))
                seq.lines.append(item.start_mark.line + 1)
            return seq
        try:
            return self.constructor.construct_object(node)
        except yaml.YAMLError as error:
            problem = getattr(error, "problem", None) or str(error)
            raise RulePackError(f"bad value: {problem}", self.source, line) from None


# --- the document ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Located:
    """A value from a pack file together with where it was written, for error messages."""

    value: Any
    source: str
    line: int


@dataclass(frozen=True, slots=True)
class Param:
    value: Any
    note: str | None = None


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One rule entry as written: the keys it sets, each with its location."""

    id: str
    keys: Mapping[str, Located]
    source: str
    line: int


@dataclass(frozen=True)
class PackDocument:
    """A pack file read and checked for shape, not yet merged with its parent or compiled."""

    pack: str
    version: str
    extends: str | None
    effective_from: datetime | None
    params: Mapping[str, Located]  #: value is a :class:`Param`
    lists: Mapping[str, Located]  #: value is a tuple of literals
    rules: tuple[RuleSpec, ...]
    text: str
    source: str
    line: int  #: of ``extends`` when present, else 1; where chain errors point


_TOP_KEYS = (
    "pack",
    "version",
    "extends",
    "effective_from",
    "description",
    "note",
    "params",
    "lists",
    "rules",
)
_RULE_KEYS = (
    "id",
    "description",
    "when",
    "action",
    "reason",
    "weight",
    "enabled",
    "effective_from",
    "effective_to",
    "note",
)
_REQUIRED_RULE_KEYS = ("when", "action", "reason", "weight")
_SCALARS = (bool, int, float, str)


def read_pack(text: str, source: str = "<api>") -> PackDocument:
    """Parse one pack's YAML and check its shape; names and conditions are checked later."""
    data = _read_yaml(text, source)
    if not isinstance(data, _Map):
        raise RulePackError("a pack is a mapping with pack, version and rules", source, 1)
    _refuse_unknown(data, _TOP_KEYS, source, "pack")
    for required in ("pack", "version"):
        if required not in data:
            raise RulePackError(f"missing '{required}'", source, data.line)
    pack = _text(data, "pack", source)
    if not _PACK_NAME.match(pack):
        raise RulePackError(f"pack name {pack!r} is not a code", source, data.lines["pack"])
    version = data["version"]
    if not isinstance(version, str) or not version.strip():
        raise RulePackError(
            f"version must be text; quote it, e.g. version: '{version}'",
            source,
            data.lines["version"],
        )
    extends = _text(data, "extends", source) if "extends" in data else None
    return PackDocument(
        pack=pack_key(pack),
        version=version.strip(),
        extends=pack_key(extends) if extends is not None else None,
        effective_from=_time(data, "effective_from", source),
        params=_params(data, source),
        lists=_lists(data, source),
        rules=_rule_specs(data, source),
        text=text,
        source=source,
        line=data.lines.get("extends", 1),
    )


def _refuse_unknown(data: _Map, allowed: Sequence[str], source: str, what: str) -> None:
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise RulePackError(f"unknown {what} key '{key}'{hint}", source, data.lines[key])


def _text(data: _Map, key: str, source: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        raise RulePackError(f"'{key}' must be non-empty text", source, data.lines[key])
    return value.strip()


def _time(data: _Map, key: str, source: str) -> datetime | None:
    if key not in data or data[key] is None:
        return None
    value = data[key]
    line = data.lines[key]
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise RulePackError(
                f"'{key}' must be an RFC 3339 time, e.g. 2026-01-01T00:00:00Z", source, line
            ) from None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise RulePackError(f"'{key}' must be a time, got {value!r}", source, line)


def _params(data: _Map, source: str) -> dict[str, Located]:
    raw = data.get("params") or _Map(data.line)
    if not isinstance(raw, _Map):
        raise RulePackError("'params' must be a mapping of name: value", source, data.line)
    out = {}
    for name, value in raw.items():
        line = raw.lines[name]
        note = None
        if isinstance(value, _Map):
            _refuse_unknown(value, ("value", "note"), source, f"param '{name}'")
            if "value" not in value:
                raise RulePackError(f"param '{name}' has no 'value'", source, line)
            note = value.get("note")
            value = value["value"]
        if not isinstance(value, _SCALARS):
            raise RulePackError(
                f"param '{name}' must be a number, text or boolean, got {value!r}", source, line
            )
        out[name] = Located(Param(value, note), source, line)
    return out


def _lists(data: _Map, source: str) -> dict[str, Located]:
    raw = data.get("lists") or _Map(data.line)
    if not isinstance(raw, _Map):
        raise RulePackError("'lists' must be a mapping of name: [values]", source, data.line)
    out = {}
    for name, values in raw.items():
        line = raw.lines[name]
        if isinstance(values, _Map):
            _refuse_unknown(values, ("values", "note"), source, f"list '{name}'")
            values = values.get("values")
        if not isinstance(values, list) or not all(isinstance(v, _SCALARS) for v in values):
            raise RulePackError(f"list '{name}' must be a list of literals", source, line)
        out[name] = Located(tuple(values), source, line)
    return out


def _rule_specs(data: _Map, source: str) -> tuple[RuleSpec, ...]:
    raw = data.get("rules")
    if raw is None:
        return ()
    if not isinstance(raw, _Seq):
        raise RulePackError("'rules' must be a list", source, data.lines["rules"])
    specs: dict[str, RuleSpec] = {}
    for entry, line in zip(raw, raw.lines, strict=True):
        if not isinstance(entry, _Map):
            raise RulePackError("each rule must be a mapping", source, line)
        if "id" not in entry:
            raise RulePackError("rule has no 'id'", source, line)
        rule_id = entry["id"]
        if not isinstance(rule_id, str) or not _RULE_ID.match(rule_id):
            raise RulePackError(
                f"rule id {rule_id!r} must be a code like SG-CARD-TEST", source, line
            )
        if rule_id in specs:
            raise RulePackError(f"rule {rule_id}: defined twice in this pack", source, line)
        _refuse_unknown(entry, _RULE_KEYS, source, f"rule {rule_id}")
        keys = {
            k: Located(_rule_value(rule_id, k, entry, source), source, entry.lines[k])
            for k in entry
        }
        specs[rule_id] = RuleSpec(rule_id, keys, source, line)
    return tuple(specs.values())


def _rule_value(rule_id: str, key: str, entry: _Map, source: str) -> Any:
    """Check one rule key's type, so a typo is reported at the line that has it."""
    value, line = entry[key], entry.lines[key]

    def bad(expected: str) -> RulePackError:
        return RulePackError(
            f"rule {rule_id}: '{key}' must be {expected}, got {value!r}", source, line
        )

    if key in ("effective_from", "effective_to"):
        return _time(entry, key, source)
    if key == "when":
        if isinstance(value, bool):  # `when: true` reads naturally for an always-on rule
            return str(value)
        if not isinstance(value, str):
            raise bad("a condition")
        return value
    if key == "action":
        if value not in ACTIONS:
            raise bad(f"one of {', '.join(ACTIONS)}")
        return value
    if key == "weight":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise bad("a number in [0, 1]")
        return float(value)
    if key == "enabled":
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if not isinstance(value, str):
        raise bad("text")
    return value


# --- the compiled pack -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleHit:
    """A rule that fired: what it asks for and why, ready to become a decision's reason."""

    rule_id: str
    action: str
    code: str
    detail: str
    weight: float


@dataclass(frozen=True, slots=True)
class Rule:
    """A compiled rule; ``hit`` is built once, so firing allocates nothing."""

    id: str
    when: str
    action: str
    reason: str
    weight: float
    description: str
    enabled: bool
    effective_from: datetime | None
    effective_to: datetime | None  #: exclusive
    note: str | None
    condition: Condition = field(repr=False, compare=False)
    hit: RuleHit = field(repr=False, compare=False)

    def in_force(self, at: datetime) -> bool:
        return (self.effective_from is None or self.effective_from <= at) and (
            self.effective_to is None or at < self.effective_to
        )


_Check = tuple[Evaluator, RuleHit]


@dataclass(frozen=True, eq=False, slots=True)
class CompiledPack:
    """An immutable, validated pack ready to evaluate one transaction at a time."""

    jurisdiction: str
    version: str
    effective_from: datetime | None
    rules: tuple[Rule, ...]
    params: Mapping[str, Param]
    lists: Mapping[str, tuple[Any, ...]]
    text: str  #: the YAML of this pack alone (not its parent), as published
    source: str
    layout: tuple[str, ...]  #: the names of the row :meth:`evaluate` reads, by position
    parent_version: str | None = None
    fields: frozenset[str] = field(init=False)  #: context names the enabled rules read
    _checks: tuple[_Check, ...] = field(init=False, repr=False)
    _bounds: tuple[datetime, ...] = field(init=False, repr=False)
    _slices: tuple[tuple[_Check, ...], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        enabled = [r for r in self.rules if r.enabled]
        object.__setattr__(
            self, "fields", frozenset().union(*(r.condition.fields for r in enabled))
        )
        object.__setattr__(self, "_checks", tuple((r.condition.test, r.hit) for r in enabled))
        # Rule dates cut time into intervals; each interval's in-force rules are listed once
        # here so that evaluation does one bisect instead of two comparisons per rule.
        bounds = sorted(
            {t for r in enabled for t in (r.effective_from, r.effective_to) if t is not None}
        )
        slices = [tuple((r.condition.test, r.hit) for r in enabled if r.effective_from is None)]
        slices += [
            tuple((r.condition.test, r.hit) for r in enabled if r.in_force(start))
            for start in bounds
        ]
        object.__setattr__(self, "_bounds", tuple(bounds))
        object.__setattr__(self, "_slices", tuple(slices))

    @property
    def dated(self) -> bool:
        """Whether any rule has effective dates (evaluation then needs a real ``at``)."""
        return bool(self._bounds)

    def row(self, ctx: Mapping[str, Any]) -> list[Any]:
        """Transaction fields and features by name, as the row :meth:`evaluate` reads."""
        return row_of(self.layout, ctx)

    def evaluate(self, row: Sequence[Any], at: datetime) -> list[RuleHit]:
        """The hits of the rules in force at ``at``.

        ``row`` holds transaction fields and features in :attr:`layout` order (see :meth:`row`),
        so that the engine can hand over its feature vector instead of a dictionary per payment.
        Never raises for missing or mistyped values; see :mod:`vigil.rules.expression`.
        """
        if self._bounds:
            if at.tzinfo is None:
                at = at.replace(tzinfo=UTC)
            checks = self._slices[bisect_right(self._bounds, at)]
        else:
            checks = self._checks
        return [hit for test, hit in checks if test(row)]


# --- merging and compiling ---------------------------------------------------------------------


def compile_pack(
    chain: Sequence[PackDocument],
    known_names: Collection[str],
    effective_from: datetime | None = None,
) -> CompiledPack:
    """Compile a pack and its ancestors, child first: ``[sg, base]``.

    ``known_names`` are the names conditions may read (transaction fields and feature names),
    in the order of the rows the pack will evaluate; ``effective_from``, when given, overrides
    the pack's own (a registry publish sets it).
    """
    if not chain:
        raise RulePackError("no pack to compile")
    _check_chain(chain)
    known = frozenset(known_names)
    params, lists, specs = _merge(chain)
    _check_names(params, lists, known)
    scope = Scope(
        fields=known_names,
        params={name: p.value.value for name, p in params.items()},
        lists={name: located.value for name, located in lists.items()},
    )
    rules = tuple(_compile_rule(rule_id, keys, scope) for rule_id, keys in specs.items())
    head = chain[0]
    return CompiledPack(
        jurisdiction=head.pack,
        version=head.version,
        effective_from=effective_from or head.effective_from,
        rules=rules,
        params={name: located.value for name, located in params.items()},
        lists=dict(scope.lists),
        text=head.text,
        source=head.source,
        layout=scope.layout,
        parent_version=chain[1].version if len(chain) > 1 else None,
    )


def _check_chain(chain: Sequence[PackDocument]) -> None:
    seen: set[str] = set()
    for child, parent in zip(chain, [*chain[1:], None], strict=True):
        if child.pack in seen:
            raise RulePackError(
                f"'extends' loops back to pack '{child.pack}'", child.source, child.line
            )
        seen.add(child.pack)
        if parent is None and child.extends is not None:
            raise RulePackError(
                f"extends '{child.extends}', which was not found", child.source, child.line
            )
        if parent is not None and child.extends != parent.pack:
            raise RulePackError(
                f"extends '{child.extends}', but the parent given declares pack '{parent.pack}'",
                child.source,
                child.line,
            )


def _merge(
    chain: Sequence[PackDocument],
) -> tuple[dict[str, Located], dict[str, Located], dict[str, dict[str, Located]]]:
    params: dict[str, Located] = {}
    lists: dict[str, Located] = {}
    rules: dict[str, dict[str, Located]] = {}
    for document in reversed(chain):  # root first, so each child overrides its parent
        params.update(document.params)
        lists.update(document.lists)
        for spec in document.rules:
            merged = rules.get(spec.id, {})
            rules[spec.id] = {**merged, **spec.keys}
    return params, lists, rules


def _check_names(
    params: Mapping[str, Located], lists: Mapping[str, Located], known: frozenset[str]
) -> None:
    for kind, names in (("param", params), ("list", lists)):
        for name, located in names.items():
            problem = None
            if not name.isidentifier() or keyword.iskeyword(name):
                problem = f"{kind} name '{name}' is not a valid name (letters, digits, _)"
            elif name in known:
                problem = f"{kind} '{name}' would hide the field of the same name; rename it"
            elif name in FUNCTIONS:
                problem = f"{kind} '{name}' would hide the function of the same name"
            elif kind == "list" and name in params:
                problem = f"'{name}' is both a param and a list"
            if problem:
                raise RulePackError(problem, located.source, located.line)


def _compile_rule(rule_id: str, keys: Mapping[str, Located], scope: Scope) -> Rule:
    where = keys["id"]
    for required in _REQUIRED_RULE_KEYS:
        if required not in keys:
            raise RulePackError(f"rule {rule_id}: missing '{required}'", where.source, where.line)
    when = keys["when"]
    try:
        condition = compile_expression(when.value, scope)
    except ExpressionError as error:
        raise RulePackError(f"rule {rule_id}: {error.problem}", when.source, when.line) from None
    start = keys["effective_from"].value if "effective_from" in keys else None
    end = keys["effective_to"].value if "effective_to" in keys else None
    if start is not None and end is not None and end <= start:
        located = keys["effective_to"]
        raise RulePackError(
            f"rule {rule_id}: effective_to must be after effective_from",
            located.source,
            located.line,
        )

    def get(key: str, default: Any = None) -> Any:
        return keys[key].value if key in keys else default

    description = get("description", "") or ""
    hit = RuleHit(
        rule_id=rule_id,
        action=get("action"),
        code=get("reason"),
        detail=description or condition.text,
        weight=get("weight"),
    )
    return Rule(
        id=rule_id,
        when=condition.text,
        action=hit.action,
        reason=hit.code,
        weight=hit.weight,
        description=description,
        enabled=get("enabled", True),
        effective_from=start,
        effective_to=end,
        note=get("note"),
        condition=condition,
        hit=hit,
    )


# --- files -------------------------------------------------------------------------------------


def pack_file(packs_dir: Path, pack: str) -> Path | None:
    """The file holding ``pack`` in ``packs_dir`` (``sg.yaml`` for SG), or None."""
    for suffix in (".yaml", ".yml"):
        path = Path(packs_dir) / f"{pack.lower()}{suffix}"
        if path.exists():
            return path
    return None


def read_pack_file(path: Path) -> PackDocument:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RulePackError(f"cannot read the pack: {error}", str(path)) from None
    return read_pack(text, str(path))


def resolve_chain(document: PackDocument, packs_dir: Path | None) -> list[PackDocument]:
    """The document followed by its ancestors, read from ``packs_dir``."""
    chain = [document]
    while (parent := chain[-1].extends) is not None:
        child = chain[-1]
        if parent in {d.pack for d in chain}:
            raise RulePackError(
                f"'extends' loops back to pack '{parent}'", child.source, child.line
            )
        path = pack_file(packs_dir, parent) if packs_dir is not None else None
        if path is None:
            where = f"in {packs_dir}" if packs_dir is not None else "(no packs folder given)"
            raise RulePackError(
                f"extends '{parent}', but no {parent.lower()}.yaml was found {where}",
                child.source,
                child.line,
            )
        document = read_pack_file(path)
        if document.pack != parent:
            raise RulePackError(
                f"declares pack '{document.pack}', but {child.source} extends it as '{parent}'",
                document.source,
                1,
            )
        chain.append(document)
    return chain


def compile_pack_text(
    text: str,
    known_names: Collection[str],
    source: str = "<api>",
    packs_dir: Path | None = None,
) -> CompiledPack:
    """Compile pack YAML; ``extends`` is resolved from ``packs_dir``."""
    return compile_pack(resolve_chain(read_pack(text, source), packs_dir), known_names)


def load_pack(
    path: Path, known_names: Collection[str], packs_dir: Path | None = None
) -> CompiledPack:
    """Compile a pack file; ``extends`` is resolved from ``packs_dir`` (default: its folder)."""
    path = Path(path)
    document = read_pack_file(path)
    return compile_pack(resolve_chain(document, packs_dir or path.parent), known_names)
