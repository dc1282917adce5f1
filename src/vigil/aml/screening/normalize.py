"""From a written name to the tokens a matcher compares.

Lists and customers spell one person many ways. Everything that changes the spelling but not
the identity is removed here, once, so that the scorer compares only what can tell two people
apart: case, accents, punctuation, honorifics, legal forms, Malay and Tamil connectors, Filipino
particle spacing, Chinese given names spaced, hyphenated or run together, pinyin against
Wade-Giles, and spellings that differ by ear (Thai ph/p, old Indonesian oe/u). Chinese surnames
are not rewritten, because one spelling can stand for two characters: the token keeps its
spelling and carries the set of surnames it may be (:attr:`NormalName.rows`), and the scorer
accepts any two surnames that share one.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

from vigil.aml.screening.tables import (
    CONNECTORS,
    DIALECT_SYLLABLES,
    GENERIC_ENTITY_WORDS,
    HONORIFIC_PAIRS,
    HONORIFICS,
    LEGAL_PREFIXES,
    LEGAL_SUFFIXES,
    NAME_EQUIVALENTS,
    PARTICLES,
    PINYIN_SYLLABLES,
    SLASH_CONNECTORS,
    SOUND_RULES,
    SURNAME_ROWS,
    WADE_GILES_FINALS,
    WADE_GILES_INITIALS,
    WADE_GILES_SYLLABLES,
)

_SLASH = re.compile(r"\b(?:" + "|".join(re.escape(c) for c in SLASH_CONNECTORS) + r")(?=\s|$)")
_DOTTED = re.compile(r"\b(?:[a-z]\.){2,}")  # "p.t.", "j.s.c." -> "pt", "jsc"
_TOKEN = re.compile(r"[a-z0-9]+(?:[-&][a-z0-9]+)*\.?")  # "Wei-Ming", "F&B"
_REPEAT = re.compile(r"(.)\1+")
#: Token classes and how much each tells about identity, before list frequencies.
WORD, INITIAL, GENERIC = 0, 1, 2
CLASS_WEIGHT = {WORD: 1.0, INITIAL: 0.6, GENERIC: 0.25}
#: Sides of a patronymic name ("Ismail bin Othman"): unknown, the person's own, the father's.
UNKNOWN, GIVEN, FATHER = 0, 1, 2
_CN_CITIES = frozenset(
    [
        "shenzhen",
        "guangzhou",
        "shanghai",
        "beijing",
        "hangzhou",
        "ningbo",
        "dongguan",
        "suzhou",
        "xiamen",
        "chengdu",
        "foshan",
        "qingdao",
        "tianjin",
        "wuhan",
    ]
)


@dataclass(frozen=True, slots=True)
class NormalName:
    """A name as the matcher sees it.

    ``rows[i]`` is a bit set of :data:`~vigil.aml.screening.tables.SURNAME_ROWS` when token
    ``i`` stands where a Chinese surname stands, else 0. ``sides[i]`` says whether the token is
    the person's own name or the father's, where a patronymic connector tells. ``classes``
    say how much a token tells about identity: a word fully, an initial or a generic company
    word ("Trading", a city) little.
    """

    tokens: tuple[str, ...]
    rows: tuple[int, ...]
    sides: tuple[int, ...]
    classes: tuple[int, ...]  #: WORD, INITIAL or GENERIC

    @property
    def text(self) -> str:
        return " ".join(self.tokens)

    @property
    def weights(self) -> tuple[float, ...]:
        return tuple(CLASS_WEIGHT[c] for c in self.classes)


def fold(text: str) -> str:
    """Lower case without diacritics: Nguyễn -> nguyen, Đặng -> dang."""
    text = text.replace("Đ", "D").replace("đ", "d").replace("Ø", "O").replace("ø", "o")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def _sound(token: str) -> str:
    for old, new in SOUND_RULES:
        token = token.replace(old, new)
    return _REPEAT.sub(r"\1", token)


def _surname_bits() -> dict[str, int]:
    bits: dict[str, int] = {}
    for i, row in enumerate(SURNAME_ROWS):
        for spelling in map(_sound, row):
            bits[spelling] = bits.get(spelling, 0) | (1 << i)
    return bits


SURNAME_BITS = _surname_bits()


@cache
def wade_giles(syllable: str) -> str:
    """One pinyin syllable in Wade-Giles; a syllable already in Wade-Giles comes back as is."""
    if syllable in WADE_GILES_SYLLABLES:
        return WADE_GILES_SYLLABLES[syllable]
    if syllable not in PINYIN_SYLLABLES:
        return syllable
    head, tail = "", syllable
    for pinyin, wg in WADE_GILES_INITIALS:
        if syllable.startswith(pinyin):
            head, tail = wg, syllable[len(pinyin) :]
            break
    for pinyin, wg in WADE_GILES_FINALS:
        if tail.endswith(pinyin):
            tail = tail[: -len(pinyin)] + wg
            break
    return head + tail


_SYLLABLES = PINYIN_SYLLABLES | DIALECT_SYLLABLES | {wade_giles(s) for s in PINYIN_SYLLABLES}
_LONGEST = max(map(len, _SYLLABLES))


@lru_cache(maxsize=1 << 16)
def syllables(word: str) -> tuple[str, ...] | None:
    """Split a run-together Chinese name into syllables of two letters or more, if it is one."""
    if not word:
        return ()
    for size in range(min(_LONGEST, len(word)), 1, -1):
        head = word[:size]
        if head in _SYLLABLES:
            rest = syllables(word[size:])
            if rest is not None:
                return (head, *rest)
    return None


def _strip_honorifics(tokens: list[str]) -> list[str]:
    while len(tokens) > 1:
        if len(tokens) > 2 and (tokens[0], tokens[1]) in HONORIFIC_PAIRS:
            tokens = tokens[2:]
        elif tokens[0].rstrip(".") in HONORIFICS:
            tokens = tokens[1:]
        else:
            break
    return tokens


def _strip_legal_form(tokens: list[str]) -> tuple[list[str], bool]:
    """Drop legal forms at either end ("PT ...", "... Sdn Bhd"); keep at least one token."""
    bare = [t.rstrip(".") for t in tokens]
    found = False
    if len(bare) > 1 and bare[0] in LEGAL_PREFIXES:
        tokens, bare, found = tokens[1:], bare[1:], True
    stripped = True
    while stripped:
        stripped = False
        for form in LEGAL_SUFFIXES:
            if len(bare) > len(form) and tuple(bare[-len(form) :]) == form:
                tokens, bare = tokens[: -len(form)], bare[: -len(form)]
                found = stripped = True
                break
    return tokens, found


def _join_particles(tokens: list[str], sides: list[int]) -> tuple[list[str], list[int]]:
    """ "de la cruz", "dela cruz", "delacruz" -> "delacruz"."""
    out: list[str] = []
    out_sides: list[int] = []
    pending = ""
    for i, token in enumerate(tokens):
        leads = token in PARTICLES and token not in ("la", "los")
        follows = pending and token in PARTICLES
        if (leads or follows) and i < len(tokens) - 1:
            pending += token
            continue
        out.append(pending + token)
        out_sides.append(sides[i])
        pending = ""
    return out, out_sides


def _family_positions(tokens: list[str]) -> set[int]:
    """Where a Chinese surname stands: first, second after an English name, or last."""
    found: set[int] = set()
    for i in (0, 1):
        if i < len(tokens) - 1 and _sound(tokens[i]) in SURNAME_BITS:
            found.add(i)
            break
    if len(tokens) > 1 and _sound(tokens[-1]) in SURNAME_BITS:
        found.add(len(tokens) - 1)
    return found


def _chinese_parts(token: str) -> list[str]:
    """A given name or brand as Wade-Giles syllables: Xiaoming, Hsiao-ming -> hsiao ming."""
    parts = token.split("-")
    if len(parts) > 1 and all(p == "i" or syllables(p) for p in parts):
        # "I" is how Wade-Giles writes yi inside a hyphenated name ("Chang I-ming").
        return [wade_giles(s) for p in parts for s in (("yi",) if p == "i" else syllables(p))]
    joined = token.replace("-", "")
    split = syllables(joined)
    if split and len(split) > 1:
        return [wade_giles(s) for s in split]
    return [wade_giles(joined)]


def _connector_sides(raw: list[str]) -> tuple[list[str], list[int]]:
    """Drop patronymic connectors; tokens before one are the given name, after it the father's.

    "Ismail bin Othman" and "Othman bin Ismail" are two people, so where a connector is written
    each token keeps its side; where a list drops it ("Ismail Othman") the side is unknown.
    """
    tokens: list[str] = []
    sides: list[int] = []
    side = UNKNOWN
    for k, token in enumerate(raw):
        bare = NAME_EQUIVALENTS.get(token, token).rstrip(".")
        if bare in CONNECTORS or (token == "b." and 0 < k < len(raw) - 1):
            sides = [GIVEN] * len(tokens)
            side = FATHER
            continue
        tokens.append(NAME_EQUIVALENTS.get(bare, bare))
        sides.append(side)
    return tokens, sides


#: Chinese syllables as they come out of :func:`normalize`: distinct syllables are often one
#: letter apart (ching/chung, hsiao/hsiang), so one edit between them is another name.
SYLLABLE_TOKENS = frozenset(_sound(s) for s in _SYLLABLES)


@lru_cache(maxsize=1 << 18)  # names recur (payments); bounded, as a service sees endless new ones
def normalize(name: str) -> NormalName:
    """The tokens of ``name`` with their surname rows, sides and weights (see NormalName)."""
    text = _SLASH.sub(" bin ", fold(name))
    text = _DOTTED.sub(lambda m: m.group(0).replace(".", ""), text)
    raw = _TOKEN.findall(text.replace("'", ""))
    raw = _strip_honorifics(raw)
    raw, entity = _strip_legal_form(raw)
    tokens, sides = _connector_sides(raw)
    if not tokens:
        tokens, sides = [t.rstrip(".") for t in raw], [UNKNOWN] * len(raw)
    tokens, sides = _join_particles(tokens, sides)
    family = set() if entity else _family_positions(tokens)
    chinese = bool(family) or any("-" in t or t in _CN_CITIES for t in tokens)
    out: list[str] = []
    rows: list[int] = []
    out_sides: list[int] = []
    classes: list[int] = []
    for k, token in enumerate(tokens):
        if k in family or token in GENERIC_ENTITY_WORDS:
            parts = [token]
        elif chinese:
            parts = _chinese_parts(token)
        else:
            parts = [token.replace("-", "")]
        for part in parts:
            sound = _sound(part)
            if not sound:
                continue
            out.append(sound)
            rows.append(SURNAME_BITS[sound] if k in family else 0)
            out_sides.append(sides[k])
            classes.append(token_class(sound))
    return NormalName(tuple(out), tuple(rows), tuple(out_sides), tuple(classes))


_GENERIC_TOKENS = frozenset(_sound(w) for w in GENERIC_ENTITY_WORDS)


def token_class(token: str) -> int:
    """WORD, INITIAL or GENERIC, from the normalised token alone."""
    if len(token) == 1:
        return INITIAL
    if token in _GENERIC_TOKENS:
        return GENERIC
    return WORD


#: Letters a Wade-Giles syllable's initial may be written with in pinyin: Jie is Chieh, so
#: "J." may stand for Chieh.
_PINYIN_INITIALS = (
    ("ch", "czqj"), ("hs", "hx"), ("ts", "tzc"), ("tz", "tzc"), ("p", "pb"), ("t", "td"),
    ("k", "kg"), ("j", "jr"),
)  # fmt: skip


def initials_of(token: str) -> str:
    """The letters an initial standing for ``token`` may be."""
    if token in SYLLABLE_TOKENS:
        for prefix, letters in _PINYIN_INITIALS:
            if token.startswith(prefix):
                return letters
    return token[0]


def known_tokens(names: Iterable[str], min_count: int = 3) -> frozenset[str]:
    """Name tokens used by at least ``min_count`` of ``names`` (a customer base, say).

    A spelling many people share is a name in its own right; a typo is a spelling almost no
    one has. The scorer uses this to keep Pichai and Wichai apart while still forgiving
    "Ismial" for Ismail.
    """
    counts = Counter(t for name in names for t in set(normalize(name).tokens) if len(t) > 1)
    return frozenset(t for t, n in counts.items() if n >= min_count)
