"""A sanctions and internal block list whose names are as messy as real lists.

Real lists spell one person many ways: the same Chinese surname is Zhang in pinyin, Chang in
Wade-Giles, Cheung in Cantonese and Teo in Hokkien; Malay patronymics lose their ``bin``;
Vietnamese names lose their diacritics; Thai and old-orthography Indonesian names are spelt by
ear. Screening is judged on three kinds of entry, all drawn here:

* true hits, derived from real account holders (``matched_account_id`` names the account), whose
  primary name is often a variant, so exact matching misses them;
* near misses (false-positive bait): a different person whose name differs from a customer's by
  one whole name part, or an identical name of another nationality;
* unrelated people and entities, some of whom share common names with customers by chance.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar

import numpy as np
import polars as pl

from vigil.schema.tables import TABLES
from vigil.world import names as nm
from vigil.world.population import adult_birth_days

REGION = ("CN", "HK", "SG", "MY", "ID", "PH", "TH", "VN")


@dataclass(frozen=True, slots=True)
class WatchlistParams:
    """Sizes of the list; shares are of named accounts.

    The caps bound the per-entry string work (aliases are built name by name) on big worlds.
    """

    hit_share: float = 0.001  #: accounts that are really listed (true hits)
    bait_share: float = 0.002  #: accounts given a near-miss entry (false-positive bait)
    homonym_share: float = 0.3  #: of near misses: the same name, another nationality
    unrelated_share: float = 0.01  #: entries unrelated to any customer, per account
    min_unrelated: int = 200
    max_per_kind: int = 10_000  #: cap on each of hits, near misses and unrelated entries
    mean_aliases: float = 2.0  #: Poisson mean of aliases per entry
    max_aliases: int = 5  #: for true hits
    #: how a listed person's date of birth is given: a full date, only the year, or nothing
    #: (real lists: most persons carry a DOB, many only a year or "circa")
    dob_full_share: float = 0.6
    dob_year_share: float = 0.25
    dob_alt_share: float = 0.1  #: of full dates: a second candidate date a year or two apart


HIT_LISTS = (("internal_block", 0.4), ("OFAC", 0.25), ("UN", 0.2), ("EU", 0.15))
OTHER_LISTS = (("OFAC", 0.4), ("UN", 0.3), ("EU", 0.2), ("internal_block", 0.1))

# --- transliteration tables -------------------------------------------------------------------

_SURNAME_ROWS: dict[str, list[tuple[str, ...]]] = {}
for _row in nm.CHINESE_SURNAMES:
    for _spelling in set(_row):
        _SURNAME_ROWS.setdefault(_spelling, []).append(_row)

#: Pinyin to Wade-Giles as printed in Taiwanese passports (no apostrophes or umlauts).
WADE_GILES: dict[str, str] = {
    "jing": "ching", "jun": "chun", "xiao": "hsiao", "yan": "yen", "hong": "hung",
    "jian": "chien", "guo": "kuo", "qiang": "chiang", "xin": "hsin", "long": "lung",
    "bo": "po", "yi": "i", "juan": "chuan", "zhi": "chih", "rui": "jui", "qing": "ching",
    "xue": "hsueh", "zhen": "chen", "dong": "tung", "gang": "kang", "de": "te",
    "jie": "chieh", "xiu": "hsiu", "zhong": "chung",
}  # fmt: skip

_VIET_FAMILY = frozenset(plain for plain, _, _ in nm.VIETNAMESE_FAMILY)
#: Vietnamese words of business names, with their tone marks.
_VIET_BRAND_ACCENTS = (
    ("Viet", "Việt"), ("Hoang", "Hoàng"), ("Phat", "Phát"), ("Dai", "Đại"), ("Thinh", "Thịnh"),
    ("Tien", "Tiến"), ("Phu", "Phú"), ("Tan", "Tân"), ("Thai", "Thái"),
)  # fmt: skip
_VIET_ACCENTS: dict[str, str] = dict(
    [(a, b) for a, b, _ in nm.VIETNAMESE_FAMILY]
    + list(nm.VIETNAMESE_MIDDLE_MALE + nm.VIETNAMESE_MIDDLE_FEMALE + nm.VIETNAMESE_GIVEN)
    + list(_VIET_BRAND_ACCENTS)
)

#: Thai has no single romanisation; these are the alternations seen across documents.
THAI_SPELLINGS = (
    ("ph", "p"), ("th", "t"), ("porn", "phon"), ("w", "v"), ("ch", "j"), ("ee", "i"),
    ("oo", "u"), ("ai", "ay"), ("ks", "x"), ("sawat", "swat"),
)  # fmt: skip
#: Pre-1972 Indonesian spelling still found on old documents: Soeharto, Djoko, Tjahjo.
INDONESIAN_SPELLINGS = (("u", "oe"), ("j", "dj"), ("c", "tj"), ("y", "j"), ("kh", "ch"))
MUHAMMAD = ("Muhammad", "Mohammad", "Mohamad", "Mohd", "Mohamed")
LEGAL_FORM_VARIANTS: dict[str, tuple[str, ...]] = {
    "Pte Ltd": ("Pte. Ltd.", "Private Limited", "PTE LTD", ""),
    "Sdn Bhd": ("Sdn. Bhd.", "Sendirian Berhad", "SDN BHD", ""),
    "Co., Ltd": ("Co. Ltd", "Company Limited", "Co Ltd", ""),
    "Company Limited": ("Co., Ltd", "Co. Ltd", ""),
    "(HK) Limited": ("(Hong Kong) Limited", "Limited", ""),
    "Limited": ("Ltd", "Ltd.", ""),
    "JSC": ("Joint Stock Company", "J.S.C.", ""),
    "Inc.": ("Inc", "Incorporated", ""),
    "Corp.": ("Corporation", "Corp", ""),
    "Corporation": ("Corp.", ""),
    "Enterprise": ("Enterprises", ""),
}
LEGAL_PREFIXES = {"PT": ("P.T.", ""), "CV": ("C.V.", "")}
CONNECTORS = frozenset({"bin", "binti", "s/o", "d/o", "a/l", "a/p"})

_Transform = Callable[[np.random.Generator, str], str | None]


def _strip_accents(text: str) -> str:
    text = text.replace("Đ", "D").replace("đ", "d")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_T = TypeVar("_T")


def _pick(rng: np.random.Generator, options: Sequence[_T]) -> _T:
    return options[int(rng.integers(0, len(options)))]


def _family_index(tokens: list[str]) -> int | None:
    """Position of a Chinese surname: first, or second after an English given name."""
    for i in (0, 1):
        if i < len(tokens) - 1 and tokens[i] in _SURNAME_ROWS:
            return i
    return None


def _segment_pinyin(word: str) -> list[str] | None:
    """Split a run-together pinyin given name ("xiaoming") into syllables, if it is one."""
    if not word:
        return []
    for size in range(min(6, len(word)), 0, -1):
        head = word[:size]
        if head in nm.PINYIN_SYLLABLES:
            rest = _segment_pinyin(word[size:])
            if rest is not None:
                return [head, *rest]
    return None


# --- person transforms: each returns None where it does not apply -----------------------------


def _chinese_dialect(rng: np.random.Generator, name: str) -> str | None:
    """Respell the surname as another romanisation of the same character (Chen/Chan/Tan)."""
    tokens = name.split()
    i = _family_index(tokens)
    if i is None:
        return None
    row = _pick(rng, _SURNAME_ROWS[tokens[i]])
    others = sorted(set(row) - {tokens[i]})
    if not others:
        return None
    tokens[i] = _pick(rng, others)
    return " ".join(tokens)


def _wade_giles(rng: np.random.Generator, name: str) -> str | None:
    """Mainland pinyin to Taiwanese Wade-Giles: "Zhang Xiaoming" -> "Chang Hsiao-ming"."""
    tokens = name.split()
    if len(tokens) != 2 or tokens[0] not in _SURNAME_ROWS:
        return None
    syllables = _segment_pinyin(tokens[1].lower())
    if not syllables:
        return None
    rows = [r for r in _SURNAME_ROWS[tokens[0]] if r[0] == tokens[0]]
    family = rows[0][1] if rows else tokens[0]
    given = "-".join(WADE_GILES.get(s, s) for s in syllables).capitalize()
    variant = f"{family} {given}"
    return variant if variant != name else None


def _swap_order(rng: np.random.Generator, name: str) -> str | None:
    """Family-first names written Western style, or the reverse: "Tai Man Chan"."""
    tokens = name.split()
    if len(tokens) < 2 or CONNECTORS & set(tokens):
        return None
    i = _family_index(tokens)
    if i is not None:
        return " ".join(tokens[:i] + tokens[i + 1 :] + [tokens[i]])
    return " ".join([tokens[-1], *tokens[:-1]])


def _given_spacing(rng: np.random.Generator, name: str) -> str | None:
    """Two-syllable given names spaced, hyphenated or run together: Wei Ming/Wei-Ming/Weiming."""
    tokens = name.split()
    i = _family_index(tokens)
    if i is None:
        return None
    given = tokens[i + 1 :]
    if len(given) == 2:
        joined = _pick(rng, [f"{given[0]}-{given[1]}", given[0] + given[1].lower()])
        return " ".join([*tokens[: i + 1], joined])
    if len(given) == 1 and (parts := _segment_pinyin(given[0].lower())) and len(parts) == 2:
        return " ".join([*tokens[: i + 1], *(p.capitalize() for p in parts)])
    return None


def _malay_patronymic(rng: np.random.Generator, name: str) -> str | None:
    """Drop or abbreviate ``bin``/``binti``: "Ahmad Ismail", "Ahmad b. Ismail", "Siti bte Ali"."""
    tokens = name.split()
    for i, tok in enumerate(tokens):
        if tok in ("bin", "binti"):
            short = ("b.", "") if tok == "bin" else ("bte", "bt.", "")
            tokens[i] = _pick(rng, short)
            return " ".join(t for t in tokens if t)
    return None


def _muhammad(rng: np.random.Generator, name: str) -> str | None:
    tokens = name.split()
    for i, tok in enumerate(tokens):
        if tok in MUHAMMAD:
            tokens[i] = _pick(rng, [m for m in MUHAMMAD if m != tok])
            return " ".join(tokens)
        if tok == "Abdul":
            tokens[i] = "Abd"
            return " ".join(tokens)
    return None


def _indian_connector(rng: np.random.Generator, name: str) -> str | None:
    tokens = name.split()
    for i, tok in enumerate(tokens):
        if tok in ("s/o", "d/o", "a/l", "a/p"):
            swap = {"s/o": "a/l", "d/o": "a/p", "a/l": "s/o", "a/p": "d/o"}[tok]
            tokens[i] = _pick(rng, [swap, ""])
            return " ".join(t for t in tokens if t)
    return None


def _diacritics(rng: np.random.Generator, name: str) -> str | None:
    """Vietnamese with and without tone marks: Nguyen Van An <-> Nguyễn Văn An."""
    plain = _strip_accents(name)
    if plain != name:
        return plain
    tokens = name.split()
    accented = " ".join(_VIET_ACCENTS.get(t, t) for t in tokens)
    return accented if accented != name else None


def _respell(rules: tuple[tuple[str, str], ...]) -> _Transform:
    """Apply one applicable spelling alternation, in either direction."""

    def transform(rng: np.random.Generator, name: str) -> str | None:
        lowered = name.lower()
        options = [(a, b) for a, b in rules if a in lowered] + [
            (b, a) for a, b in rules if b in lowered
        ]
        if not options:
            return None
        old, new = _pick(rng, options)
        start = lowered.index(old)
        piece = name[start : start + len(old)]
        replacement = new.capitalize() if piece[:1].isupper() else new
        return name[:start] + replacement + name[start + len(old) :]

    return transform


def _filipino(rng: np.random.Generator, name: str) -> str | None:
    """Particle spacing (Dela Cruz/De la Cruz/Delacruz), "Ma." for Maria, no middle initial."""
    options = []
    if "Dela " in name:
        options += [name.replace("Dela ", "De la "), name.replace("Dela ", "Dela")]
    if "De " in name or "Del " in name:
        options.append(name.replace("De ", "De").replace("Del ", "Del"))
    if name.startswith("Maria "):
        options.append("Ma. " + name[len("Maria ") :])
    tokens = name.split()
    if any(len(t) == 2 and t.endswith(".") for t in tokens):
        options.append(" ".join(t for t in tokens if not (len(t) == 2 and t.endswith("."))))
    return _pick(rng, options) if options else None


def _initials(rng: np.random.Generator, name: str) -> str | None:
    """Shorten every given name to an initial, keeping the family name whole."""
    tokens = name.split()
    if len(tokens) < 2:
        return None
    family = _family_index(tokens)
    if family is None:
        family = 0 if _strip_accents(tokens[0]) in _VIET_FAMILY else len(tokens) - 1
    out = [
        t if (k == family or t in CONNECTORS or t.endswith(".")) else t[0] + "."
        for k, t in enumerate(tokens)
    ]
    variant = " ".join(out)
    return variant if variant != name else None


_NEIGHBOURS = "qwertyuiopasdfghjklzxcvbnm"


def _typo(rng: np.random.Generator, name: str) -> str | None:
    """One keyboard edit (substitute, delete, insert or transpose) inside a word."""
    letters = [i for i, ch in enumerate(name) if ch.islower() and i > 0]
    if not letters:
        return None
    i = _pick(rng, letters)
    op = int(rng.integers(0, 4))
    letter = _NEIGHBOURS[int(rng.integers(0, len(_NEIGHBOURS)))]
    if op == 0:
        return name[:i] + letter + name[i + 1 :]
    if op == 1:
        return name[:i] + name[i + 1 :]
    if op == 2:
        return name[:i] + name[i] + name[i:]
    if i + 1 < len(name) and name[i + 1].islower() and name[i + 1] != name[i]:
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    return None


# --- entity transforms ------------------------------------------------------------------------


def _legal_form(rng: np.random.Generator, name: str) -> str | None:
    """Rewrite or drop the legal form: "Pte. Ltd.", "Sendirian Berhad", no "PT"."""
    for prefix, variants in LEGAL_PREFIXES.items():
        if name.startswith(prefix + " "):
            return (_pick(rng, variants) + name[len(prefix) :]).strip()
    for suffix in sorted(LEGAL_FORM_VARIANTS, key=len, reverse=True):
        if name.endswith(" " + suffix):
            stem = name[: -len(suffix)].rstrip()
            return f"{stem} {_pick(rng, LEGAL_FORM_VARIANTS[suffix])}".strip()
    return None


_SECTOR_TOKENS = frozenset(w for _, words in nm.SECTOR_WORDS for p in words for w in p.split())


def _drop_word(rng: np.random.Generator, name: str) -> str | None:
    """Lists often record a firm without its line of business: "Soon Seng Pte Ltd"."""
    tokens = name.split()
    slots = [k for k, t in enumerate(tokens) if t in _SECTOR_TOKENS]
    if len(tokens) < 3 or not slots:
        return None
    k = _pick(rng, slots)
    return " ".join(tokens[:k] + tokens[k + 1 :])


def _pinyin_brand(rng: np.random.Generator, name: str) -> str | None:
    """Mainland brand words in Wade-Giles: "Shenzhen Jinlong ..." -> "Shenzhen Chin-lung ..."."""
    tokens = name.split()
    for i, tok in enumerate(tokens):
        parts = _segment_pinyin(tok.lower())
        if parts and len(parts) == 2 and tok not in nm.CN_CITIES:
            converted = "-".join(WADE_GILES.get(p, p) for p in parts).capitalize()
            if converted.replace("-", "") != tok.lower():
                tokens[i] = converted
                return " ".join(tokens)
    return None


#: Transforms by culture with weights: transliteration is likelier than typos and initials.
TRANSFORMS: dict[str, tuple[tuple[_Transform, float], ...]] = {
    "chinese": (
        (_chinese_dialect, 3.0), (_wade_giles, 3.0), (_swap_order, 2.0),
        (_given_spacing, 1.5), (_initials, 0.7), (_typo, 1.0),
    ),
    "malay": ((_malay_patronymic, 3.0), (_muhammad, 2.0), (_initials, 0.5), (_typo, 1.0)),
    "indian": ((_indian_connector, 3.0), (_swap_order, 0.5), (_initials, 0.5), (_typo, 1.0)),
    "vietnamese": ((_diacritics, 3.0), (_swap_order, 2.0), (_initials, 0.7), (_typo, 1.0)),
    "thai": ((_respell(THAI_SPELLINGS), 4.0), (_swap_order, 1.0), (_initials, 0.7),
             (_typo, 1.0)),
    "indonesian": ((_respell(INDONESIAN_SPELLINGS), 3.0), (_swap_order, 0.7), (_typo, 1.0)),
    "filipino": ((_filipino, 3.0), (_swap_order, 1.0), (_initials, 0.7), (_typo, 1.0)),
    "generic": ((_swap_order, 1.0), (_initials, 1.0), (_typo, 1.0)),
    "entity": ((_legal_form, 3.0), (_drop_word, 1.0), (_typo, 1.0)),
    "entity_cn": ((_legal_form, 3.0), (_pinyin_brand, 2.0), (_drop_word, 1.0), (_typo, 1.0)),
    "entity_vn": ((_legal_form, 3.0), (_diacritics, 2.0), (_drop_word, 1.0), (_typo, 1.0)),
    "entity_th": ((_legal_form, 3.0), (_respell(THAI_SPELLINGS), 2.0), (_typo, 1.0)),
}  # fmt: skip


def culture(name: str, country: str | None, kind: str) -> str:
    """Which naming convention a name follows, which decides how it can be respelt."""
    tokens = set(name.split())
    if kind == "entity":
        return {"CN": "entity_cn", "VN": "entity_vn", "TH": "entity_th"}.get(country, "entity")
    if tokens & {"bin", "binti"}:
        return "malay"
    if tokens & {"s/o", "d/o", "a/l", "a/p"}:
        return "indian"
    by_country = {"VN": "vietnamese", "TH": "thai", "ID": "indonesian", "PH": "filipino"}
    if country in by_country:
        return by_country[country]
    if _family_index(name.split()) is not None:
        return "chinese"
    return "generic"


def variants(rng: np.random.Generator, name: str, style: str, count: int) -> list[str]:
    """Up to ``count`` distinct respellings of ``name``; a third chain two transforms."""
    table = TRANSFORMS[style]
    weights = np.array([w for _, w in table])
    weights /= weights.sum()
    found: list[str] = []
    for _ in range(6 * count):
        if len(found) >= count:
            break
        steps = 2 if rng.random() < 0.33 else 1
        out: str | None = name
        for _step in range(steps):
            transform = table[int(rng.choice(len(table), p=weights))][0]
            out = transform(rng, out) if out else None
        if out and out != name and out not in found:
            found.append(out)
    return found


# --- near misses --------------------------------------------------------------------------------

_BAIT_TOKENS: dict[str, tuple[str, ...]] = {
    "chinese": nm.CANTONESE_SYLLABLES
    + nm.HOKKIEN_SYLLABLES
    + tuple(a.capitalize() + b for a in nm.PINYIN_SYLLABLES[:12] for b in nm.PINYIN_SYLLABLES[:8]),
    "malay": nm.MALAY_MALE + nm.MALAY_FEMALE,
    "indian": nm.INDIAN_MALE + nm.INDIAN_FEMALE,
    "vietnamese": tuple(a for a, _ in nm.VIETNAMESE_GIVEN),
    "thai": nm.THAI_GIVEN,
    "indonesian": nm.INDONESIAN_GIVEN + nm.INDONESIAN_SINGLE,
    "filipino": nm.FILIPINO_GIVEN,
    "generic": nm.ENGLISH_GIVEN,
}


def _near_miss_person(rng: np.random.Generator, name: str, style: str) -> str:
    """Another person: one given-name part swapped for a different one of the same culture."""
    tokens = name.split()
    family = _family_index(tokens)
    if family is None:
        family = 0 if style == "vietnamese" else len(tokens) - 1
    slots = [k for k, t in enumerate(tokens) if k != family and t not in CONNECTORS and len(t) > 2]
    if not slots:
        pool = _BAIT_TOKENS.get(style, nm.ENGLISH_GIVEN)
        return f"{name} {_pick(rng, [t for t in pool if t not in tokens])}"
    k = _pick(rng, slots)
    english = style == "chinese" and k < family  # "Jason Tan Wei Ming": swap Jason, not Wei
    pool = nm.ENGLISH_GIVEN if english else _BAIT_TOKENS.get(style, nm.ENGLISH_GIVEN)
    tokens[k] = _pick(rng, [t for t in pool if t not in tokens])
    return " ".join(tokens)


def _near_miss_entity(rng: np.random.Generator, name: str, country: str) -> str:
    """Another firm: one brand word changed ("Soon Seng Trading" -> "Soon Huat Trading")."""
    tokens = name.split()
    words = [w.capitalize() for w in nm.BRAND_WORDS.get(country, nm.BRAND_WORDS["SG"])]
    if country == "CN":  # mainland brands are two run-together syllables after the city
        pool = [a + b.lower() for a in words[:10] for b in words[10:]]
        slots = [1] if len(tokens) > 2 else [0]
    else:
        pool = [w for w in words if " " not in w]
        slots = [k for k, t in enumerate(tokens) if t in words] or [
            int(tokens[0] in LEGAL_PREFIXES)
        ]
    k = _pick(rng, slots)
    tokens[k] = _pick(rng, [w for w in pool if w != tokens[k]])
    return " ".join(tokens)


# --- assembly ---------------------------------------------------------------------------------


def _choose(rng: np.random.Generator, table: tuple[tuple[str, float], ...], n: int) -> np.ndarray:
    labels = np.array([k for k, _ in table], dtype=object)
    p = np.array([w for _, w in table])
    return labels[rng.choice(len(table), size=n, p=p / p.sum())]


def _unrelated(rng: np.random.Generator, n: int) -> list[tuple[str, str | None, str]]:
    countries = rng.choice(np.array(REGION), size=n)
    is_person = rng.random(n) < 0.7
    persons = nm.person_names(rng, countries)
    sectors = rng.choice(np.array(["trading", "logistics", "mining", "import_export"]), size=n)
    firms = nm.business_names(rng, countries, sectors)
    unknown = rng.random(n) < 0.05
    return [
        (
            persons[i] if is_person[i] else firms[i],
            None if unknown[i] else str(countries[i]),
            "person" if is_person[i] else "entity",
        )
        for i in range(n)
    ]


def build_watchlist(
    rng: np.random.Generator,
    accounts: pl.DataFrame,
    *,
    params: WatchlistParams | None = None,
    dob_rng: np.random.Generator | None = None,
) -> pl.DataFrame:
    """Sanctions and internal-list entries, with ``matched_account_id`` as screening truth.

    Dates of birth are drawn from ``dob_rng`` (default: a child stream spawned from ``rng``,
    which leaves ``rng``'s own draws untouched), so lists built before they existed keep every
    other column. A true hit lists the account's ``birth_date`` (when the accounts carry one).
    """
    params = params or WatchlistParams()
    named = accounts.filter(pl.col("name").is_not_null() & (pl.col("name").str.len_chars() > 0))
    n = named.height
    n_hits = min(params.max_per_kind, round(n * params.hit_share)) if n else 0
    n_bait = min(params.max_per_kind, round(n * params.bait_share)) if n else 0
    n_bait = min(n_bait, n - n_hits)
    n_other = min(params.max_per_kind, max(params.min_unrelated, round(n * params.unrelated_share)))
    chosen = rng.choice(n, size=n_hits + n_bait, replace=False) if n else np.array([], int)
    ids = named["account_id"].to_list()
    acc_names = named["name"].to_list()
    acc_countries = named["country"].to_list()
    acc_kinds = ["person" if k == "person" else "entity" for k in named["kind"].to_list()]
    acc_dobs = named["birth_date"].to_list() if "birth_date" in named.columns else [None] * n
    # The listed person's real date of birth per row: the account's for a true hit, DRAW for
    # someone else (near misses and unrelated people have their own), None for firms.
    real_dob: list[str | date | None] = []

    # Each row: name, aliases, country, kind, list, matched_account_id.
    rows: list[tuple[str, str | None, str | None, str, str, str | None]] = []
    hit_lists = _choose(rng, HIT_LISTS, n_hits)
    for j, a in enumerate(chosen[:n_hits]):
        name, country, kind = acc_names[a], acc_countries[a], acc_kinds[a]
        style = culture(name, country, kind)
        count = 1 + min(params.max_aliases - 1, int(rng.poisson(params.mean_aliases)))
        alts = variants(rng, name, style, count + 1)
        primary = alts[0] if alts and rng.random() < 0.4 else name
        aliases = [v for v in alts if v != primary][:count]
        if primary != name and rng.random() < 0.3:
            aliases.append(name)
        listed_country = country if rng.random() < 0.9 else None
        rows.append((primary, _alias_text(aliases), listed_country, kind, hit_lists[j], ids[a]))
        real_dob.append(acc_dobs[a] if kind == "person" else None)

    other_lists = _choose(rng, OTHER_LISTS, n_bait + n_other)
    for j, a in enumerate(chosen[n_hits:]):
        name, country, kind = acc_names[a], acc_countries[a], acc_kinds[a]
        style = culture(name, country, kind)
        if rng.random() < params.homonym_share:
            listed_name = name
            country = _pick(rng, [c for c in REGION if c != country])
        elif kind == "person":
            listed_name = _near_miss_person(rng, name, style)
        else:
            listed_name = _near_miss_entity(rng, name, country)
        aliases = variants(rng, listed_name, style, int(rng.poisson(params.mean_aliases)))
        rows.append((listed_name, _alias_text(aliases), country, kind, other_lists[j], None))
        real_dob.append(_DRAW if kind == "person" else None)

    for j, (name, country, kind) in enumerate(_unrelated(rng, n_other)):
        style = culture(name, country, kind)
        aliases = variants(rng, name, style, int(rng.poisson(params.mean_aliases)))
        rows.append((name, _alias_text(aliases), country, kind, other_lists[n_bait + j], None))
        real_dob.append(_DRAW if kind == "person" else None)

    order = rng.permutation(len(rows))
    rows = [rows[i] for i in order]
    # Dates of birth come from a stream of their own, so every other column is what it was
    # before lists carried them.
    dob_rng = dob_rng if dob_rng is not None else rng.spawn(1)[0]
    listed_dates, listed_years = _listed_births(
        dob_rng, [real_dob[i] for i in order], _reference_day(accounts), params
    )
    schema = TABLES["watchlist"].polars_schema() | {"matched_account_id": pl.String()}
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in range(6)]
    return pl.DataFrame(
        {
            "entry_id": [f"WL{i:06d}" for i in range(len(rows))],
            "name": columns[0],
            "aliases": columns[1],
            "country": columns[2],
            "kind": columns[3],
            "list": columns[4],
            "birth_date": listed_dates,
            "birth_year": listed_years,
            "matched_account_id": columns[5],
        },
        schema=schema,
    )


_DRAW = "draw"  #: a listed person who is no customer: their date of birth is drawn


def _reference_day(accounts: pl.DataFrame) -> int:
    """The day listed people's ages are counted from: the latest account opening, else 2026."""
    if "created_at" in accounts.columns and accounts["created_at"].drop_nulls().len():
        latest = accounts["created_at"].max()
        return int((latest - datetime(1970, 1, 1, tzinfo=latest.tzinfo)).days)  # type: ignore[operator,union-attr]
    return (date(2026, 1, 1) - date(1970, 1, 1)).days


def _listed_births(
    rng: np.random.Generator,
    real: list[str | date | None],
    start_day: int,
    params: WatchlistParams,
) -> tuple[list[str | None], list[int | None]]:
    """How each entry's date of birth is listed: (``birth_date``, ``birth_year``) per row.

    A person's real date (the account's for a true hit, a drawn one for anyone else) is listed
    in full, sometimes with a second candidate a year or two off ("DOB 1961; alt. DOB 1962"),
    or only as its year, or not at all, in the shares of ``params``. Firms get neither.
    """
    n = len(real)
    drawn = adult_birth_days(rng, n, start_day)
    how = rng.random(n)
    alt = rng.random(n) < params.dob_alt_share
    alt_shift = rng.choice(np.array([-730, -365, 365, 730]), n) + rng.integers(-150, 150, n)
    alt_first = rng.random(n) < 0.5
    epoch = date(1970, 1, 1)
    dates: list[str | None] = []
    years: list[int | None] = []
    for i, dob in enumerate(real):
        if dob is None:
            dates.append(None)
            years.append(None)
            continue
        if isinstance(dob, date):
            day = dob
        elif dob == _DRAW:
            day = epoch + timedelta(days=int(drawn[i]))
        else:
            day = date.fromisoformat(dob)
        if how[i] < params.dob_full_share:
            listed = [day.isoformat()]
            if alt[i]:
                other = (day + timedelta(days=int(alt_shift[i]))).isoformat()
                listed = [other, *listed] if alt_first[i] else [*listed, other]
            dates.append(";".join(listed))
            years.append(None)
        elif how[i] < params.dob_full_share + params.dob_year_share:
            dates.append(None)
            years.append(day.year)
        else:
            dates.append(None)
            years.append(None)
    return dates, years


def _alias_text(aliases: list[str]) -> str | None:
    return ";".join(aliases) if aliases else None
