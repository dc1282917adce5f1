"""Romanised person and business names for the eight jurisdictions of the synthetic world.

Sanctions screening is only as hard as the names it sees, so the names follow each country's
real conventions: family-first Chinese and Vietnamese names, Cantonese spellings in Hong Kong
and Hokkien ones in Singapore and Malaysia (the same surname 陈 is Chen, Chan or Tan), Malay
patronymics with ``bin``/``binti``, Indian ``s/o``/``a/l`` connectors, Indonesian single names,
long Thai surnames and Spanish-origin Filipino surnames with a middle initial. Common surnames
are drawn far more often than rare ones, so homonyms (many customers called "Wang Wei") occur
as they do in real customer bases.

Everything is built with vectorised numpy string operations: a million names take seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

_STR = np.dtypes.StringDType()

#: Chinese surnames, most frequent first, as (pinyin, Wade-Giles, Cantonese, Hokkien/Teochew).
#: One row is one written surname; its spellings differ by where the bearer registered it.
CHINESE_SURNAMES: tuple[tuple[str, str, str, str], ...] = (
    ("Wang", "Wang", "Wong", "Ong"),
    ("Li", "Li", "Lee", "Lee"),
    ("Zhang", "Chang", "Cheung", "Teo"),
    ("Liu", "Liu", "Lau", "Lau"),
    ("Chen", "Chen", "Chan", "Tan"),
    ("Yang", "Yang", "Yeung", "Yeo"),
    ("Huang", "Huang", "Wong", "Ng"),
    ("Zhao", "Chao", "Chiu", "Tio"),
    ("Wu", "Wu", "Ng", "Goh"),
    ("Zhou", "Chou", "Chow", "Chew"),
    ("Xu", "Hsu", "Tsui", "Chee"),
    ("Sun", "Sun", "Suen", "Sng"),
    ("Ma", "Ma", "Ma", "Beh"),
    ("Zhu", "Chu", "Chu", "Choo"),
    ("Hu", "Hu", "Wu", "Oh"),
    ("Guo", "Kuo", "Kwok", "Quek"),
    ("He", "Ho", "Ho", "Ho"),
    ("Lin", "Lin", "Lam", "Lim"),
    ("Gao", "Kao", "Ko", "Ko"),
    ("Luo", "Lo", "Law", "Lo"),
    ("Zheng", "Cheng", "Cheng", "Tay"),
    ("Liang", "Liang", "Leung", "Neo"),
    ("Xie", "Hsieh", "Tse", "Chia"),
    ("Song", "Sung", "Sung", "Song"),
    ("Tang", "Tang", "Tong", "Tng"),
    ("Xu", "Hsu", "Hui", "Koh"),
    ("Deng", "Teng", "Tang", "Teng"),
    ("Feng", "Feng", "Fung", "Pang"),
    ("Zeng", "Tseng", "Tsang", "Chan"),
    ("Cai", "Tsai", "Choi", "Chua"),
    ("Hong", "Hung", "Hung", "Ang"),
    ("Ye", "Yeh", "Yip", "Yap"),
    ("Jiang", "Chiang", "Kong", "Kang"),
    ("Zhong", "Chung", "Chung", "Chong"),
    ("Shen", "Shen", "Sum", "Sim"),
)

#: Pinyin syllables used for mainland given names; the same list segments names for
#: transliteration (see :mod:`vigil.world.watchlist`).
PINYIN_SYLLABLES: tuple[str, ...] = (
    "wei", "fang", "jing", "li", "min", "jun", "hua", "ming", "xiao", "yan", "hong", "ying",
    "jian", "guo", "lei", "tao", "ping", "hui", "qiang", "yu", "xin", "long", "feng", "bo",
    "hao", "yi", "na", "juan", "mei", "ling", "zhi", "wen", "rui", "kai", "ning", "qing",
    "yang", "xue", "lan", "zhen", "dong", "gang", "de", "chun", "shan", "jie", "xiu", "zhong",
)  # fmt: skip
CANTONESE_SYLLABLES: tuple[str, ...] = (
    "Tai", "Man", "Ka", "Wai", "Siu", "Ming", "Chi", "Kin", "Wing", "Yee", "Mei", "Ling",
    "Kwok", "Hung", "Chun", "Kit", "Yan", "Fai", "Shing", "Lok", "Hoi", "Sze", "Wah", "Pui",
)  # fmt: skip
HOKKIEN_SYLLABLES: tuple[str, ...] = (
    "Wei", "Ming", "Chee", "Keong", "Boon", "Hock", "Seng", "Kiat", "Hui", "Ling", "Mei",
    "Siew", "Kim", "Beng", "Huat", "Choon", "Soon", "Yong", "Jun", "Jie", "Xin", "Yi", "Hao",
)  # fmt: skip
ENGLISH_GIVEN: tuple[str, ...] = (
    "Peter", "David", "Michael", "Jason", "Kelvin", "Alvin", "Eric", "Raymond", "Vincent",
    "Winnie", "Jenny", "Grace", "Michelle", "Catherine", "Irene", "Joyce", "Karen", "Ivy",
)  # fmt: skip

MALAY_MALE: tuple[str, ...] = (
    "Ahmad", "Muhammad", "Mohd", "Abdul Rahman", "Ismail", "Hafiz", "Faizal", "Azlan",
    "Rosli", "Zulkifli", "Hakim", "Amir", "Syafiq", "Kamal", "Roslan", "Mohammad Firdaus",
)  # fmt: skip
MALAY_FEMALE: tuple[str, ...] = (
    "Siti Nurhaliza", "Nur Aisyah", "Nurul Aina", "Aishah", "Fatimah", "Zainab", "Noraini",
    "Rohani", "Farah", "Aminah", "Salmah", "Nor Azizah", "Siti Khadijah", "Nur Syafiqah",
)  # fmt: skip
MALAY_FATHER: tuple[str, ...] = (
    "Ismail", "Abdullah", "Hassan", "Ibrahim", "Yusof", "Osman", "Ali", "Ahmad", "Hamid",
    "Abdul Rahman", "Othman", "Salleh", "Razak", "Jaafar", "Mohamad", "Sulaiman",
)  # fmt: skip

INDIAN_MALE: tuple[str, ...] = (
    "Rajesh", "Suresh", "Arun", "Ganesh", "Muthu", "Saravanan", "Ravi", "Anand", "Vijay",
)  # fmt: skip
INDIAN_FEMALE: tuple[str, ...] = (
    "Priya", "Kavitha", "Lakshmi", "Devi", "Malathi", "Shanti", "Revathi", "Anita",
)  # fmt: skip
INDIAN_FATHER: tuple[str, ...] = (
    "Kumar", "Ramasamy", "Muniandy", "Subramaniam", "Krishnan", "Pillai", "Raju", "Gopal",
    "Selvam", "Nair",
)  # fmt: skip

INDONESIAN_GIVEN: tuple[str, ...] = (
    "Budi", "Agus", "Dewi", "Siti", "Sri", "Andi", "Eko", "Rina", "Wahyu", "Putri", "Adi",
    "Dian", "Indra", "Fitri", "Rudi", "Hendra", "Yuni", "Ayu", "Rizky", "Dimas", "Bayu",
    "Nur", "Joko", "Yanti",
)  # fmt: skip
INDONESIAN_FAMILY: tuple[str, ...] = (
    "Santoso", "Wijaya", "Saputra", "Pratama", "Setiawan", "Hidayat", "Kusuma", "Lestari",
    "Susanto", "Gunawan", "Hartono", "Nugroho", "Wibowo", "Siregar", "Simanjuntak",
    "Nasution", "Halim", "Purnomo", "Rahayu", "Sulistyo",
)  # fmt: skip
#: Javanese single names: one word is the whole legal name.
INDONESIAN_SINGLE: tuple[str, ...] = (
    "Sutrisno", "Suparman", "Wahyudi", "Sumarni", "Mulyadi", "Supriyadi", "Rahmawati",
    "Kartini", "Slamet", "Paiman", "Suharti", "Sujarwo", "Mujiono", "Tukiyem",
)  # fmt: skip

THAI_GIVEN: tuple[str, ...] = (
    "Somchai", "Somsak", "Prasert", "Sompong", "Kittisak", "Niran", "Anan", "Wichai",
    "Surachai", "Chaiwat", "Siriporn", "Malee", "Ratana", "Kanya", "Sunisa", "Pornthip",
    "Nattaya", "Wanida", "Supaporn", "Apinya", "Thanawat", "Pichai", "Narong",
)  # fmt: skip
THAI_FAMILY: tuple[str, ...] = (
    "Wongsawat", "Chaiyaporn", "Srisuwan", "Thongchai", "Rattanakul", "Kittikachorn",
    "Phromphan", "Charoenphol", "Saetang", "Sirichai", "Boonyarat", "Jaidee", "Suwannarat",
    "Wattanasiri", "Chantharakul", "Phongphaew", "Thammasak", "Siripanich", "Ruangrit",
    "Kongsomboon", "Tangsiri", "Prasertsuk", "Yodprasit", "Sukprasert",
)  # fmt: skip

#: Vietnamese name parts as (ASCII, with diacritics); family names carry real frequencies.
VIETNAMESE_FAMILY: tuple[tuple[str, str, float], ...] = (
    ("Nguyen", "Nguyễn", 38.0), ("Tran", "Trần", 11.0), ("Le", "Lê", 9.5),
    ("Pham", "Phạm", 7.0), ("Hoang", "Hoàng", 5.1), ("Huynh", "Huỳnh", 5.0),
    ("Phan", "Phan", 4.5), ("Vu", "Vũ", 3.9), ("Vo", "Võ", 3.9), ("Dang", "Đặng", 2.1),
    ("Bui", "Bùi", 2.0), ("Do", "Đỗ", 1.4), ("Ho", "Hồ", 1.3), ("Ngo", "Ngô", 1.3),
    ("Duong", "Dương", 1.0), ("Ly", "Lý", 0.5),
)  # fmt: skip
VIETNAMESE_MIDDLE_MALE: tuple[tuple[str, str], ...] = (
    ("Van", "Văn"), ("Van", "Văn"), ("Van", "Văn"), ("Duc", "Đức"), ("Minh", "Minh"),
    ("Quoc", "Quốc"), ("Huu", "Hữu"), ("Thanh", "Thanh"), ("Cong", "Công"),
)  # fmt: skip
VIETNAMESE_MIDDLE_FEMALE: tuple[tuple[str, str], ...] = (
    ("Thi", "Thị"), ("Thi", "Thị"), ("Thi", "Thị"), ("Thi", "Thị"), ("Ngoc", "Ngọc"),
    ("Thu", "Thu"), ("Thanh", "Thanh"), ("Kim", "Kim"),
)  # fmt: skip
VIETNAMESE_GIVEN: tuple[tuple[str, str], ...] = (
    ("An", "An"), ("Binh", "Bình"), ("Cuong", "Cường"), ("Dung", "Dũng"), ("Hai", "Hải"),
    ("Hoa", "Hoa"), ("Hung", "Hùng"), ("Lan", "Lan"), ("Linh", "Linh"), ("Mai", "Mai"),
    ("Nam", "Nam"), ("Phuong", "Phương"), ("Quan", "Quân"), ("Tuan", "Tuấn"),
    ("Thao", "Thảo"), ("Trang", "Trang"), ("Huong", "Hương"), ("Long", "Long"),
    ("Khoa", "Khoa"), ("Anh", "Anh"), ("Duy", "Duy"), ("Hieu", "Hiếu"),
)  # fmt: skip

FILIPINO_GIVEN: tuple[str, ...] = (
    "Juan", "Jose", "Maria", "Ana", "Mark", "John Paul", "Jericho", "Rowena", "Mary Grace",
    "Angelica", "Christian", "Rodrigo", "Ramon", "Lourdes", "Teresita", "Ferdinand",
    "Emmanuel", "Kristine", "Michelle", "Jasmine", "Maria Clara", "Ricardo",
)  # fmt: skip
FILIPINO_FAMILY: tuple[str, ...] = (
    "Santos", "Reyes", "Cruz", "Bautista", "Ocampo", "Garcia", "Mendoza", "Torres", "Tomas",
    "Andrada", "Castillo", "Flores", "Villanueva", "Ramos", "Castro", "Rivera", "Aquino",
    "Navarro", "Salazar", "Mercado", "Dela Cruz", "De Leon", "Del Rosario", "Gonzales",
    "Lopez", "Soriano", "Manalo", "Pascual", "Dizon", "Magbanua",
)  # fmt: skip

_Generator = Callable[[np.random.Generator, int], np.ndarray]


def _arr(values: Sequence[str]) -> np.ndarray:
    return np.asarray(values, dtype=_STR)


def _zipf(n: int, skew: float = 1.0, offset: float = 2.0) -> np.ndarray:
    """Rank-frequency weights: a handful of common names dominate, as in real registers."""
    w = 1.0 / (np.arange(n) + offset) ** skew
    return w / w.sum()


def _draw(
    rng: np.random.Generator, pool: Sequence[str], n: int, p: np.ndarray | None = None
) -> np.ndarray:
    return _arr(pool)[rng.choice(len(pool), size=n, p=p)]


def _draw_pair(rng: np.random.Generator, pool: Sequence[str], n: int) -> np.ndarray:
    """Two different syllables joined by a space ("Tai Man"): repeats read as typos."""
    first = rng.integers(0, len(pool), n)
    second = (first + rng.integers(1, len(pool), n)) % len(pool)
    arr = _arr(pool)
    return _join(arr[first], arr[second])


def _join(*parts: np.ndarray) -> np.ndarray:
    """Join name parts with single spaces, skipping empty parts."""
    out = parts[0]
    for part in parts[1:]:
        sep = np.where((np.strings.str_len(out) > 0) & (np.strings.str_len(part) > 0), " ", "")
        out = np.strings.add(np.strings.add(out, sep.astype(_STR)), part)
    return out


def _maybe(rng: np.random.Generator, values: np.ndarray, p: float) -> np.ndarray:
    """Keep each value with probability ``p``, else blank it (an optional name part)."""
    return np.where(rng.random(len(values)) < p, values, _arr([""])[0]).astype(_STR)


def _surnames(column: int) -> tuple[list[str], np.ndarray]:
    names = [row[column] for row in CHINESE_SURNAMES]
    return names, _zipf(len(names), skew=0.9)


def _mainland(rng: np.random.Generator, n: int) -> np.ndarray:
    family, p = _surnames(0)
    first = np.strings.capitalize(_draw(rng, PINYIN_SYLLABLES, n))
    second = _maybe(rng, _draw(rng, PINYIN_SYLLABLES, n), 0.7)
    return _join(_draw(rng, family, n, p), np.strings.add(first, second))


def _hongkong(rng: np.random.Generator, n: int) -> np.ndarray:
    family, p = _surnames(2)
    given = _draw_pair(rng, CANTONESE_SYLLABLES, n)
    english = _maybe(rng, _draw(rng, ENGLISH_GIVEN, n), 0.45)
    return _join(english, _draw(rng, family, n, p), given)


def _hokkien(rng: np.random.Generator, n: int) -> np.ndarray:
    family, p = _surnames(3)
    given = _draw_pair(rng, HOKKIEN_SYLLABLES, n)
    english = _maybe(rng, _draw(rng, ENGLISH_GIVEN, n), 0.4)
    return _join(english, _draw(rng, family, n, p), given)


def _malay(rng: np.random.Generator, n: int) -> np.ndarray:
    male = rng.random(n) < 0.5
    given = np.where(male, _draw(rng, MALAY_MALE, n), _draw(rng, MALAY_FEMALE, n))
    link = np.where(male, "bin", "binti").astype(_STR)
    return _join(given.astype(_STR), link, _draw(rng, MALAY_FATHER, n))


def _indian(link_male: str, link_female: str) -> _Generator:
    """Tamil names: a given name and the father's name joined by the local connector."""

    def generate(rng: np.random.Generator, n: int) -> np.ndarray:
        male = rng.random(n) < 0.5
        given = np.where(male, _draw(rng, INDIAN_MALE, n), _draw(rng, INDIAN_FEMALE, n))
        link = np.where(male, link_male, link_female).astype(_STR)
        return _join(given.astype(_STR), link, _draw(rng, INDIAN_FATHER, n))

    return generate


def _indonesian(rng: np.random.Generator, n: int) -> np.ndarray:
    shape = rng.choice(3, size=n, p=[0.25, 0.6, 0.15])
    single = _draw(rng, INDONESIAN_SINGLE, n)
    two = _join(_draw(rng, INDONESIAN_GIVEN, n), _draw(rng, INDONESIAN_FAMILY, n))
    three = _join(_draw(rng, INDONESIAN_GIVEN, n), two)
    return np.select([shape == 0, shape == 1], [single, two], three).astype(_STR)


def _thai(rng: np.random.Generator, n: int) -> np.ndarray:
    return _join(_draw(rng, THAI_GIVEN, n), _draw(rng, THAI_FAMILY, n))


def _vietnamese(rng: np.random.Generator, n: int) -> np.ndarray:
    """Family, middle, given; a fifth of records keep their diacritics, as many systems do."""
    weights = np.array([w for _, _, w in VIETNAMESE_FAMILY])
    fam_i = rng.choice(len(VIETNAMESE_FAMILY), size=n, p=weights / weights.sum())
    male = rng.random(n) < 0.5
    mid_m = rng.integers(0, len(VIETNAMESE_MIDDLE_MALE), n)
    mid_f = rng.integers(0, len(VIETNAMESE_MIDDLE_FEMALE), n)
    giv_i = rng.integers(0, len(VIETNAMESE_GIVEN), n)
    giv2_i = (giv_i + rng.integers(1, len(VIETNAMESE_GIVEN), n)) % len(VIETNAMESE_GIVEN)
    two_given = rng.random(n) < 0.2
    accented = rng.random(n) < 0.2
    names = []
    for form in (0, 1):
        family = _arr([row[form] for row in VIETNAMESE_FAMILY])[fam_i]
        middle = np.where(
            male,
            _arr([row[form] for row in VIETNAMESE_MIDDLE_MALE])[mid_m],
            _arr([row[form] for row in VIETNAMESE_MIDDLE_FEMALE])[mid_f],
        ).astype(_STR)
        given = _arr([row[form] for row in VIETNAMESE_GIVEN])
        second = np.where(two_given, given[giv2_i], "").astype(_STR)
        names.append(_join(family, middle, second, given[giv_i]))
    return np.where(accented, names[1], names[0]).astype(_STR)


def _filipino(rng: np.random.Generator, n: int) -> np.ndarray:
    """Given name, mother's maiden initial, father's surname: "Maria R. Santos"."""
    initial = np.strings.add(np.strings.slice(_draw(rng, FILIPINO_FAMILY, n), 0, 1), ".")
    return _join(
        _draw(rng, FILIPINO_GIVEN, n),
        _maybe(rng, initial, 0.6),
        _draw(rng, FILIPINO_FAMILY, n, _zipf(len(FILIPINO_FAMILY), skew=0.6)),
    )


#: Ethnic mix of each country's customer base, as (share, generator).
PERSON_MIX: dict[str, tuple[tuple[float, _Generator], ...]] = {
    "CN": ((1.0, _mainland),),
    "HK": ((1.0, _hongkong),),
    "SG": ((0.75, _hokkien), (0.15, _malay), (0.10, _indian("s/o", "d/o"))),
    "MY": ((0.62, _malay), (0.28, _hokkien), (0.10, _indian("a/l", "a/p"))),
    "ID": ((1.0, _indonesian),),
    "TH": ((1.0, _thai),),
    "VN": ((1.0, _vietnamese),),
    "PH": ((1.0, _filipino),),
}
#: Countries outside the region get Singapore's cosmopolitan mix.
DEFAULT_MIX = "SG"


def _fill(
    rng: np.random.Generator,
    countries: np.ndarray,
    per_country: Callable[[str, np.ndarray], np.ndarray],
) -> list[str]:
    """Run a per-country generator over each country's rows, in sorted country order.

    Sorted order makes the output depend only on the seed and the input, never on the order
    in which countries first appear.
    """
    countries = np.asarray(countries).astype(str)
    out = np.empty(len(countries), dtype=_STR)
    for country in sorted(set(countries.tolist())):
        idx = np.flatnonzero(countries == country)
        out[idx] = per_country(country, idx)
    return out.tolist()


def person_names(rng: np.random.Generator, countries: np.ndarray) -> list[str]:
    """One romanised legal name per entry of ``countries`` (alpha-2 codes)."""

    def per_country(country: str, idx: np.ndarray) -> np.ndarray:
        mix = PERSON_MIX.get(country, PERSON_MIX[DEFAULT_MIX])
        shares = np.array([share for share, _ in mix])
        which = rng.choice(len(mix), size=len(idx), p=shares / shares.sum())
        names = np.empty(len(idx), dtype=_STR)
        for k, (_, generate) in enumerate(mix):
            sel = np.flatnonzero(which == k)
            if len(sel):
                names[sel] = generate(rng, len(sel))
        return names

    return _fill(rng, countries, per_country)


#: How a registered company is named in each country: brand words, legal form, optional
#: city prefix (mainland firms carry their city of registration).
BRAND_WORDS: dict[str, tuple[str, ...]] = {
    "CN": ("heng", "da", "jin", "long", "hua", "xin", "tian", "rui", "fu", "xing", "hong",
           "yuan", "zhong", "tai", "sheng", "kang", "mei", "bao", "feng", "an"),
    "HK": ("Wing", "Hing", "Kam", "Fung", "Tai", "Ping", "Sun", "Yuen", "Fat", "Lee",
           "Cheung", "On", "Shing", "Wah", "Po", "Kwong", "Tak", "Yick"),
    "SG": ("Soon", "Seng", "Hock", "Lee", "Eng", "Hup", "Huat", "Chuan", "Guan", "Heng",
           "Lion City", "Straits", "Orchid", "Marina", "Harbour", "Pioneer", "Evergreen"),
    "MY": ("Maju", "Sinar", "Karya", "Sumber", "Mitra", "Cahaya", "Bumi", "Jaya", "Seri",
           "Usaha", "Teguh", "Bintang", "Mega", "Indah", "Makmur", "Perdana", "Harapan"),
    "ID": ("Maju", "Sinar", "Karya", "Sumber", "Mitra", "Cahaya", "Bumi", "Jaya", "Abadi",
           "Makmur", "Sejahtera", "Utama", "Sentosa", "Perkasa", "Bersama", "Berkat", "Mulia"),
    "TH": ("Siam", "Charoen", "Rungrueang", "Sombat", "Chai", "Thai", "Krung", "Mongkol",
           "Suk", "Sawat", "Pattana", "Watthana", "Udom", "Thanakorn", "Somboon"),
    "VN": ("Viet", "Hoang", "Long", "Phu", "Thai", "Minh", "Phat", "An", "Thanh", "Dai",
           "Nam", "Sai Gon", "Ha Noi", "Tan", "Hung", "Thinh", "Tien"),
    "PH": ("Pacific", "Luzon", "Visayas", "Mindanao", "Golden", "Bayanihan", "Mabuhay",
           "Manila", "Cebu", "Davao", "Harvest", "Sunrise", "Island", "Star", "Royal"),
}  # fmt: skip
CN_CITIES: tuple[str, ...] = (
    "Shenzhen", "Guangzhou", "Shanghai", "Beijing", "Hangzhou", "Ningbo", "Dongguan",
    "Suzhou", "Xiamen", "Chengdu", "Foshan", "Qingdao",
)  # fmt: skip
#: Legal forms as (prefix, suffix, share); Indonesia puts "PT" in front.
LEGAL_FORMS: dict[str, tuple[tuple[str, str, float], ...]] = {
    "CN": (("", "Co., Ltd", 1.0),),
    "HK": (("", "Limited", 0.5), ("", "Company Limited", 0.3), ("", "(HK) Limited", 0.2)),
    "SG": (("", "Pte Ltd", 1.0),),
    "MY": (("", "Sdn Bhd", 0.9), ("", "Enterprise", 0.1)),
    "ID": (("PT", "", 0.85), ("CV", "", 0.15)),
    "TH": (("", "Co., Ltd", 0.9), ("", "Public Company Limited", 0.1)),
    "VN": (("", "JSC", 0.5), ("", "Co., Ltd", 0.5)),
    "PH": (("", "Inc.", 0.6), ("", "Corp.", 0.3), ("", "Corporation", 0.1)),
}
#: Words a firm puts in its name for its line of business, found by keyword in the sector.
SECTOR_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("agri", ("Agro", "Agriculture", "Plantation")),
    ("farm", ("Farms", "Agro")),
    ("fish", ("Fisheries", "Seafood", "Marine Products")),
    ("mining", ("Mining", "Minerals", "Resources")),
    ("forest", ("Timber", "Forestry", "Wood")),
    ("rubber", ("Rubber", "Latex")),
    ("palm", ("Palm Oil", "Plantation")),
    ("chemical", ("Chemicals", "Chemical Industries")),
    ("steel", ("Steel", "Metal Works")),
    ("metal", ("Metals", "Metal Works")),
    ("textile", ("Textiles", "Garment", "Fabrics")),
    ("garment", ("Garment", "Apparel")),
    ("electronic", ("Electronics", "Electrical", "Technology")),
    ("plastic", ("Plastics", "Packaging")),
    ("machin", ("Machinery", "Engineering")),
    ("furniture", ("Furniture", "Furnishing")),
    ("food", ("Foods", "Food Industries", "Trading")),
    ("manufactur", ("Industries", "Manufacturing")),
    ("wholesale", ("Trading", "Wholesale", "Distributors")),
    ("distribut", ("Distribution", "Distributors", "Supply")),
    ("trad", ("Trading", "Import Export", "Commercial")),
    ("import", ("Import Export", "Trading")),
    ("logist", ("Logistics", "Freight", "Transport")),
    ("retail", ("Retail", "Mart", "Stores")),
    ("grocer", ("Mart", "Minimart", "Provision")),
    ("restaurant", ("Restaurant", "Kitchen", "F&B")),
    ("hospitality", ("Hotel", "Hospitality")),
    ("ecommerce", ("Online", "Digital Commerce")),
    ("construct", ("Construction", "Builders", "Engineering")),
    ("software", ("Software", "Technology", "Digital")),
    ("professional", ("Consulting", "Advisory", "Management Services")),
    ("pharmac", ("Pharmacy", "Medical Supplies")),
    ("cloth", ("Fashion", "Apparel")),
    ("hotel", ("Hotel", "Resorts")),
    ("travel", ("Travel", "Tours")),
    ("jewel", ("Jewellery", "Gold")),
    ("fuel", ("Petroleum", "Fuel")),
    ("telecom", ("Telecom", "Communications")),
    ("utilit", ("Utilities", "Power")),
    ("transit", ("Transit", "Transport")),
    ("ride", ("Transport", "Mobility")),
    ("digital", ("Digital", "Online")),
    ("convenience", ("Mart", "Minimart")),
    ("department", ("Department Store", "Emporium")),
    ("cash", ("Money Services", "Remittance")),
)


def _sector_words(sector: str) -> tuple[str, ...]:
    lowered = sector.lower()
    for key, words in SECTOR_WORDS:
        if key in lowered:
            return words
    return (sector.replace("_", " ").replace("-", " ").title() or "Trading",)


def _brand(rng: np.random.Generator, country: str, n: int) -> np.ndarray:
    words = BRAND_WORDS.get(country, BRAND_WORDS[DEFAULT_MIX])
    first, second = _draw(rng, words, n), _draw(rng, words, n)
    if country == "CN":  # pinyin brands are one word: "Hengda", "Jinlong"
        return np.strings.capitalize(np.strings.add(first, second))
    same = first == second
    return np.where(same, first, _join(first, second)).astype(_STR)


def business_names(
    rng: np.random.Generator, countries: np.ndarray, sectors: np.ndarray
) -> list[str]:
    """One registered company name per row, in the country's naming style and legal form.

    ``sectors`` may use any vocabulary: known keywords ("textiles", "retail", ...) pick
    idiomatic words, anything else is title-cased into the name.
    """
    sectors = np.asarray(sectors).astype(str)

    def per_country(country: str, idx: np.ndarray) -> np.ndarray:
        n = len(idx)
        sector_word = np.empty(n, dtype=_STR)
        sub = sectors[idx]
        for sector in sorted(set(sub.tolist())):
            sel = np.flatnonzero(sub == sector)
            sector_word[sel] = _draw(rng, _sector_words(sector), len(sel))
        forms = LEGAL_FORMS.get(country, LEGAL_FORMS[DEFAULT_MIX])
        shares = np.array([s for _, _, s in forms])
        form = rng.choice(len(forms), size=n, p=shares / shares.sum())
        prefix = _arr([f[0] for f in forms])[form]
        suffix = _arr([f[1] for f in forms])[form]
        city = _draw(rng, CN_CITIES, n) if country == "CN" else np.full(n, "", dtype=_STR)
        return _join(prefix, city, _brand(rng, country, n), sector_word, suffix)

    return _fill(rng, countries, per_country)
