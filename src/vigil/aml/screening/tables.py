"""What a screener must know about names in the region, as data.

A fuzzy string score alone cannot know that Chen, Chan and Tan are one written surname, that
"Hsiao-ming" is "Xiaoming" in another romanisation, or that "Sdn Bhd" says nothing about who a
firm is. These tables carry that knowledge; :mod:`vigil.aml.screening.normalize` applies it. They
describe real romanisation practice (pinyin, Wade-Giles, Cantonese and Hokkien spellings, Malay
and Tamil connectors, old Indonesian orthography), not the synthetic world, which follows the
same practice.
"""

from __future__ import annotations

#: One row per written Chinese surname: its spellings in pinyin, Wade-Giles, Cantonese and
#: Hokkien/Teochew (and a few common Malaysian and Indonesian registrations). A spelling may
#: belong to two rows (Wong is 王 and 黄), so equivalence is "shares a row", not "has one key".
SURNAME_ROWS: tuple[frozenset[str], ...] = tuple(
    frozenset(row.split())
    for row in (
        "wang wong ong", "li lee", "zhang chang cheung teo teoh", "liu lau",
        "chen chan tan", "yang yeung yeo yeoh", "huang wong ng ooi", "zhao chao chiu tio",
        "wu ng goh", "zhou chou chow chew", "xu hsu tsui chee", "sun suen sng", "ma beh",
        "zhu chu choo", "hu wu oh", "guo kuo kwok quek", "he ho", "lin lam lim",
        "gao kao ko", "luo lo law loh", "zheng cheng tay", "liang leung neo leong",
        "xie hsieh tse chia", "song sung", "tang tong tng", "xu hsu hui koh khoo",
        "deng teng tang", "feng fung pang", "zeng tseng tsang chan", "cai tsai choi chua",
        "hong hung ang", "ye yeh yip yap", "jiang chiang kong kang", "zhong chung chong",
        "shen sum sim", "pan poon phua", "cao tsao tso", "peng phang", "du toh",
    )
)  # fmt: skip

#: Pinyin syllables of given names and brand words; a token made wholly of syllables is a
#: run-together Chinese name ("Xiaoming", "Huafeng") and is split so that "Wei Ming",
#: "Wei-Ming" and "Weiming" read the same.
PINYIN_SYLLABLES: frozenset[str] = frozenset(
    {
        "a", "ai", "an", "ang", "ao", "ba", "bai", "ban", "bang", "bao", "bei", "ben", "bi", "bian",
        "biao", "bin", "bing", "bo", "bu", "cai", "can", "cang", "cao", "ce", "cen", "ceng", "cha",
        "chai", "chan", "chang", "chao", "che", "chen", "cheng", "chi", "chong", "chou", "chu",
        "chuan", "chuang", "chui", "chun", "cong", "cui", "cun", "da", "dai", "dan", "dang", "dao",
        "de", "deng", "di", "dian", "diao", "die", "ding", "dong", "dou", "du", "duan", "dui",
        "dun", "duo", "fa", "fan", "fang", "fei", "fen", "feng", "fu", "gai", "gan", "gang", "gao",
        "ge", "gen", "geng", "gong", "gou", "gu", "gua", "guan", "guang", "gui", "gun", "guo",
        "hai", "han", "hang", "hao", "he", "hei", "hen", "heng", "hong", "hou", "hu", "hua", "huai",
        "huan", "huang", "hui", "hun", "huo", "ji", "jia", "jian", "jiang", "jiao", "jie", "jin",
        "jing", "jiong", "jiu", "ju", "juan", "jue", "jun", "kai", "kan", "kang", "kao", "ke",
        "ken", "kong", "kou", "ku", "kuai", "kuan", "kuang", "kui", "kun", "kuo", "lai", "lan",
        "lang", "lao", "le", "lei", "leng", "li", "lian", "liang", "liao", "lie", "lin", "ling",
        "liu", "long", "lou", "lu", "luan", "lun", "luo", "lv", "ma", "mai", "man", "mang", "mao",
        "mei", "men", "meng", "mi", "mian", "miao", "min", "ming", "mo", "mou", "mu", "na", "nai",
        "nan", "nang", "nao", "nei", "neng", "ni", "nian", "niang", "niao", "nie", "nin", "ning",
        "niu", "nong", "nu", "nuo", "ou", "pan", "pang", "pei", "pen", "peng", "pi", "pian", "piao",
        "pin", "ping", "po", "pu", "qi", "qia", "qian", "qiang", "qiao", "qie", "qin", "qing",
        "qiong", "qiu", "qu", "quan", "que", "qun", "ran", "rang", "rao", "re", "ren", "reng", "ri",
        "rong", "rou", "ru", "ruan", "rui", "run", "ruo", "sai", "san", "sang", "sao", "se", "sen",
        "seng", "shan", "shang", "shao", "she", "shen", "sheng", "shi", "shou", "shu", "shuai",
        "shuang", "shui", "shun", "shuo", "si", "song", "su", "suan", "sui", "sun", "suo", "tai",
        "tan", "tang", "tao", "te", "teng", "ti", "tian", "tiao", "tie", "ting", "tong", "tou",
        "tu", "tuan", "tui", "tun", "tuo", "wa", "wai", "wan", "wang", "wei", "wen", "weng", "wo",
        "wu", "xi", "xia", "xian", "xiang", "xiao", "xie", "xin", "xing", "xiong", "xiu", "xu",
        "xuan", "xue", "xun", "ya", "yan", "yang", "yao", "ye", "yi", "yin", "ying", "yong", "you",
        "yu", "yuan", "yue", "yun", "za", "zai", "zan", "zang", "zao", "ze", "zei", "zen", "zeng",
        "zha", "zhai", "zhan", "zhang", "zhao", "zhe", "zhen", "zheng", "zhi", "zhong", "zhou",
        "zhu", "zhua", "zhuan", "zhuang", "zhui", "zhun", "zhuo", "zi", "zong", "zou", "zu", "zuan",
        "zui", "zun", "zuo"
    }
)  # fmt: skip

#: Pinyin initials respelt in Wade-Giles as printed in Taiwanese passports (no apostrophes).
#: Both systems are read into Wade-Giles, because pinyin to Wade-Giles is a function and the
#: reverse is not (ching is jing or qing).
WADE_GILES_INITIALS: tuple[tuple[str, str], ...] = (
    ("zh", "ch"), ("ch", "ch"), ("sh", "sh"), ("q", "ch"), ("x", "hs"), ("j", "ch"),
    ("z", "ts"), ("c", "ts"), ("r", "j"), ("b", "p"), ("d", "t"), ("g", "k"),
)  # fmt: skip
WADE_GILES_FINALS: tuple[tuple[str, str], ...] = (
    ("iong", "iung"), ("ong", "ung"), ("ian", "ien"), ("ie", "ieh"), ("ue", "ueh"),
)  # fmt: skip
#: Whole syllables whose Wade-Giles form is not initial + final: yan is yen, zhi is chih.
WADE_GILES_SYLLABLES: dict[str, str] = {
    "yi": "yi", "ye": "yeh", "yan": "yen", "you": "yu", "yue": "yueh", "zhi": "chih",
    "chi": "chih", "shi": "shih", "ri": "jih", "zi": "tzu", "ci": "tzu", "si": "ssu",
    "he": "ho", "ke": "ko", "ge": "ko", "de": "te",
}  # fmt: skip

#: Cantonese and Hokkien syllables: split from run-together or hyphenated given names too.
DIALECT_SYLLABLES: frozenset[str] = frozenset(
    {
        "beng", "boon", "chak", "chee", "cheuk", "chi", "chiu", "choon", "chun", "chung", "fai",
        "fook", "hao", "hei", "hin", "hock", "hoi", "huat", "hui", "hung", "jie", "jun", "ka",
        "kam", "keong", "kiat", "kim", "kin", "kit", "kong", "kwan", "kwok", "lai", "ling", "lok",
        "lun", "man", "mei", "ming", "pui", "seng", "shing", "shun", "siu", "soon", "sum", "sze",
        "tai", "tak", "tsz", "wah", "wai", "wan", "wing", "wun", "xin", "yan", "yee", "yi", "yip",
        "yiu", "yong", "yuen"
    }
)  # fmt: skip

#: Honorifics and titles, dropped when they lead a name.
HONORIFICS: frozenset[str] = frozenset(
    {
        "bapak", "bpk", "cik", "dame", "datin", "dato", "datuk", "dr", "encik", "haji", "hajjah",
        "hj", "hjh", "ibu", "khun", "madam", "mdm", "miss", "mr", "mrs", "ms", "nai", "nang",
        "prof", "puan", "sir", "tuan", "tun"
    }
)  # fmt: skip
#: Two-word titles ("Tan Sri" is a title, not the surname Tan).
HONORIFIC_PAIRS: frozenset[tuple[str, str]] = frozenset(
    {("tan", "sri"), ("puan", "sri"), ("datuk", "seri"), ("dato", "sri"), ("toh", "puan")}
)

#: Patronymic connectors (Malay bin/binti and their abbreviations, Tamil s/o, a/l ...):
#: lists write them, drop them or shorten them, so they carry no identity.
CONNECTORS: frozenset[str] = frozenset({"bin", "binti", "binte", "bte", "bt", "bint"})
SLASH_CONNECTORS: tuple[str, ...] = ("s/o", "d/o", "a/l", "a/p")

#: Spelling variants of one name, read as the first.
NAME_EQUIVALENTS: dict[str, str] = {
    "mohammad": "muhammad", "mohamad": "muhammad", "mohamed": "muhammad",
    "mohammed": "muhammad", "muhamad": "muhammad", "mohd": "muhammad", "muhd": "muhammad",
    "md": "muhammad", "abd": "abdul", "abdol": "abdul", "noor": "nur", "ma.": "maria",
}  # fmt: skip

#: Legal forms, as token sequences after punctuation is removed; longest are tried first.
LEGAL_SUFFIXES: tuple[tuple[str, ...], ...] = tuple(
    sorted(
        (
            tuple(form.split())
            for form in (
                "public company limited", "public co ltd", "company limited", "co ltd",
                "co limited", "pte ltd", "pte limited", "private limited", "pvt ltd", "sdn bhd",
                "sendirian berhad", "berhad", "bhd", "hk limited", "hong kong limited",
                "hk ltd", "limited", "ltd", "joint stock company", "jsc", "jsco",
                "inc", "incorporated", "corp", "corporation", "co", "company",
                "enterprise", "enterprises", "llc", "plc", "tbk", "pcl", "gmbh",
                "holdings limited", "group limited",
            )
        ),
        key=len,
        reverse=True,
    )
)  # fmt: skip
LEGAL_PREFIXES: frozenset[str] = frozenset({"pt", "cv", "ud"})

#: Filipino and Spanish surname particles, joined to what follows: "De la Cruz", "Dela Cruz"
#: and "Delacruz" read the same.
PARTICLES: frozenset[str] = frozenset({"de", "del", "dela", "delos", "delas", "la", "los"})

#: Words that say what a firm does or where, not who it is: they weigh little in a match, so
#: "Soon Seng Trading" and "Soon Seng Pte Ltd" agree and "Soon Huat Trading" does not.
GENERIC_ENTITY_WORDS: frozenset[str] = frozenset(
    {
        "advisory", "agriculture", "agro", "apparel", "asia", "beijing", "builders", "chemical",
        "chemicals", "chengdu", "commerce", "commercial", "communications", "construction",
        "consulting", "department", "digital", "distribution", "distributors", "dongguan",
        "electrical", "electronics", "emporium", "engineering", "export", "fabrics", "farms",
        "fashion", "fisheries", "food", "foods", "forestry", "foshan", "freight", "fuel",
        "furnishing", "furniture", "garment", "global", "gold", "group", "guangzhou", "hangzhou",
        "holdings", "hospitality", "hotel", "import", "industries", "international", "jewellery",
        "kitchen", "latex", "logistics", "machinery", "management", "manufacturing", "marine",
        "mart", "medical", "metal", "metals", "minerals", "minimart", "mining", "mobility", "money",
        "ningbo", "oil", "online", "pacific", "packaging", "palm", "petroleum", "pharmacy",
        "plantation", "plastics", "power", "products", "provision", "qingdao", "remittance",
        "resorts", "resources", "restaurant", "retail", "rubber", "seafood", "services", "shanghai",
        "shenzhen", "software", "steel", "store", "stores", "supplies", "supply", "suzhou",
        "technology", "telecom", "textiles", "timber", "tours", "trading", "transit", "transport",
        "travel", "utilities", "wholesale", "wood", "works", "xiamen", "f&b"
    }
)  # fmt: skip

#: Respellings that differ by ear, not by identity, read the same: Thai ph/p, th/t and ee/i,
#: old Indonesian oe/dj/tj, v/w. Applied after diacritics are stripped; doubled letters are
#: then single.
SOUND_RULES: tuple[tuple[str, str], ...] = (
    ("ph", "p"), ("th", "t"), ("oe", "u"), ("dj", "j"), ("tj", "c"), ("v", "w"),
    ("porn", "pon"), ("ks", "x"), ("ee", "i"), ("oo", "u"),
)  # fmt: skip
