"""Understanding the numbers reporters type, in every language of the bot: "40", "1 500", "1,5", "около 40",
"40-50 человек", "60 кг", "более 100", "40 tacha", "qirqqa yaqin", "шамамен 40", "40-қа жуық", "about forty".

Pure. An answer is an `Amount`: exact, a range, an approximation, or open at one end ("more than 100").
Words that only name what is counted (kg, people, ta, адам...) are passed over; any other word is refused, so a
sentence that merely contains a number is not taken for one. Number words are read up to the thousands in
en/ru/uz/uz_Cyrl/kk/tk ("сорок пять", "ikki yuz ellik", "қырық бес", "kyrk bäş", "two hundred and fifty").
`fold` is the spelling-forgiving form of typed words the date parser shares.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

_FOLD = str.maketrans(
    {
        # Turkmen and Turkish-style Latin letters, so "sentyabr" finds "sentýabr" and "on" finds "öň"
        "ý": "y", "ä": "a", "ö": "o", "ü": "u", "ň": "n", "ş": "s", "ç": "c", "ž": "z", "ğ": "g", "ı": "i",
        # Kazakh and Uzbek Cyrillic letters people type with a Russian keyboard
        "ё": "е", "ў": "у", "қ": "к", "ғ": "г", "ҳ": "х", "ә": "а", "ө": "о", "ү": "у", "ұ": "у", "і": "и",
        "ң": "н", "һ": "х",
        # Uzbek apostrophes in every variant (o‘ g‘ oʻ o' o’ o`) are dropped: "o‘tgan" and "otgan" are one word
        "'": None, "‘": None, "’": None, "ʻ": None, "ʼ": None, "`": None, "´": None, "′": None,
        "\u0307": None,
    }
)  # fmt: skip


def fold(text: str) -> str:
    """Lower case without the letters and apostrophes people type in many ways."""
    return unicodedata.normalize("NFC", text).casefold().translate(_FOLD)


def _folded(table: dict[Any, str]) -> dict[str, Any]:
    return {fold(word): key for key, words in table.items() for word in words.split()}


_NUMBER_WORDS = _folded(
    {
        0: "zero ноль нуль nol нол нөл",
        1: "one один одна одно одного одной bir бир бір",
        2: "two два две двух ikki икки екі iki",
        3: "three три трёх uch уч үш üç",
        4: "four четыре четырёх to‘rt тўрт төрт dört",
        5: "five пять пяти besh беш бес bäş",
        6: "six шесть шести olti олти алты alty",
        7: "seven семь семи yetti етти жеті ýedi",
        8: "eight восемь восьми sakkiz саккиз сегіз sekiz",
        9: "nine девять девяти to‘qqiz тўққиз тоғыз dokuz",
        10: "ten десять десяти o‘n ўн он on",
        11: "eleven одиннадцать одиннадцати",
        12: "twelve двенадцать двенадцати",
        13: "thirteen тринадцать тринадцати",
        14: "fourteen четырнадцать четырнадцати",
        15: "fifteen пятнадцать пятнадцати",
        16: "sixteen шестнадцать шестнадцати",
        17: "seventeen семнадцать семнадцати",
        18: "eighteen восемнадцать восемнадцати",
        19: "nineteen девятнадцать девятнадцати",
        20: "twenty двадцать двадцати yigirma йигирма жиырма ýigrimi",
        30: "thirty тридцать тридцати o‘ttiz ўттиз отыз otuz",
        40: "forty сорок сорока qirq қирқ қырық kyrk",
        50: "fifty пятьдесят пятидесяти ellik эллик елу elli",
        60: "sixty шестьдесят шестидесяти oltmish олтмиш алпыс altmyş",
        70: "seventy семьдесят семидесяти yetmish етмиш жетпіс ýetmiş",
        80: "eighty восемьдесят восьмидесяти sakson саксон сексен segsen",
        90: "ninety девяносто девяноста to‘qson тўқсон тоқсан togsan",
        100: "hundred сто ста yuz юз жүз ýüz",
        200: "двести двухсот",
        300: "триста трёхсот",
        400: "четыреста четырёхсот",
        500: "пятьсот пятисот",
        600: "шестьсот шестисот",
        700: "семьсот семисот",
        800: "восемьсот восьмисот",
        900: "девятьсот девятисот",
        1000: "thousand тысяча тысячи тысяч тысячу ming минг мың müň",
    }
)
_MULTIPLIERS = {fold(word) for word in ("hundred", "yuz", "юз", "жүз", "ýüz")} | {
    word for word, value in _NUMBER_WORDS.items() if value == 1000
}

APPROX, MORE, LESS, UPTO, OR, FROM, AFTER_FROM, SKIP = "approx", "more", "less", "upto", "or", "from", "after", "skip"
_WORDS = _folded(
    {
        APPROX: "около примерно приблизительно порядка где почти about around approximately approx roughly nearly "
        "almost circa some taxminan qariyb chamasi atrofida yaqin tahminan тахминан қарийб чамаси атрофида яқин "
        "шамамен шамасы шамалы жуық шақты takmynan töweregi golaý ýakyn çemesi tacha тача тай тей дай дей cha ча",
        MORE: "более больше свыше минимум more over above plus ortiq ko‘p ziyod kamida ортиқ кўп зиёд камида "
        "астам артық көп кемінде gowrak artyk köp azyndan",
        LESS: "менее меньше максимум less fewer under below kam кам аз кем az",
        UPTO: "до to gacha гача дейін шейін çenli",
        OR: "или or yoki ёки немесе не ýa ýada and и va ва және we",
        FROM: "от from between между",
        AFTER_FROM: "dan den tan ten дан ден тан тен нан нен",
        SKIP: "кг kg килограмм килограмма килограммов kilogramm kilogram kilo кило человек человека чел людей "
        "people persons person workers kishi odam nafar ta киши одам нафар та адам кісі adam sany "
        "a the than чем в день per day kun kuni kuniga kunlik кун кунига күніне gün günde ga ka qa ge ke а е га ка "
        "ге ке на of da de orasida орасида арасында arasynda то",
    }
)
_SUFFIXES = {word for word, kind in _WORDS.items() if len(word) <= 5 and kind in (APPROX, UPTO, AFTER_FROM, SKIP)}
_PHRASES = [
    (re.compile(rf"(?<!\w){fold(pattern)}(?!\w)"), replacement)
    for pattern, replacement in [
        (r"не (?:более|больше)|no more than|not more than|at most|up to|ko‘pi bilan|кўпи билан|көп дегенде|"
         r"iň köp", "максимум"),
        (r"не (?:менее|меньше)|no less than|not less than|at least|кем дегенде|eng kamida|энг камида|iň azyndan",
         "минимум"),
        (r"с (?:лишним|небольшим)|odd", "более"),
        (r"more or less|or so|или около того", "около"),
    ]
]  # fmt: skip
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+|[-–—~≈<>+]")
_DASHES = "-–—"


class NumberError(ValueError):
    """The text is not a number, a range or an approximate number."""


@dataclass(frozen=True)
class Amount:
    """`low` == `high` for one number; None where a side is open ("more than 100" has no high)."""

    low: float | None
    high: float | None
    approximate: bool = False

    @property
    def exact(self) -> bool:
        return self.low == self.high and not self.approximate

    def to_json(self, words: str) -> int | float | dict[str, Any]:
        """An exact number as itself; anything else as {"min", "max", "approx" (only when true), "words"}."""
        if self.exact:
            return plain(self.low)  # type: ignore[arg-type]
        data: dict[str, Any] = {
            "min": None if self.low is None else plain(self.low),
            "max": None if self.high is None else plain(self.high),
        }
        if self.approximate:
            data["approx"] = True
        data["words"] = words
        return data


def plain(number: float) -> int | float:
    return int(number) if float(number).is_integer() else number


def number_value(answer: Any) -> float | None:
    """The number a stored answer stands for in comparisons: itself, the middle of a range, or the known
    bound of an open one ("more than 100" is 100). None for anything that is not a number answer."""
    if isinstance(answer, bool):
        return None
    if isinstance(answer, int | float):
        return float(answer)
    if isinstance(answer, dict):
        bounds = [
            float(bound)
            for bound in (answer.get("min"), answer.get("max"))
            if isinstance(bound, int | float) and not isinstance(bound, bool)
        ]
        return sum(bounds) / len(bounds) if bounds else None
    return None


def number_word(word: str) -> float | None:
    """The value of one folded number word ("ikki", "две", "екі"), or None."""
    return _NUMBER_WORDS.get(word)


def parse_amount(text: str) -> Amount:
    folded = fold(text)
    for pattern, replacement in _PHRASES:
        folded = pattern.sub(replacement, folded)
    tokens = _split_suffixes(_TOKEN.findall(folded))
    negative = len(tokens) > 1 and tokens[0] in _DASHES and tokens[1][:1].isdigit()
    if negative:
        tokens = tokens[1:]  # "-3": a minus, for the question's minimum to refuse
    groups: list[_Group] = []
    kinds: set[str] = set()
    current: _Group | None = None
    separated = True
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if _is_number(token):
            if current is None:
                if not separated and groups:
                    raise NumberError(text)  # "40 человек 50"
                current = _Group()
                groups.append(current)
            current.add(token)
            separated = False
            continue
        if token in _DASHES and current is not None and current.joins_with_dash(following):
            continue
        if token == "and" and current is not None and current.after_multiplier and _is_number(following or ""):
            continue  # "two hundred and fifty"
        current = None
        kind = _kind(token)
        if kind in (OR, UPTO, FROM, AFTER_FROM):
            separated = True
        if kind is not None:
            kinds.add(kind)
    values = [group.value(text) for group in groups]
    if negative:
        values[0] = -values[0]
    return _amount(values, kinds, text)


def _amount(values: list[float], kinds: set[str], text: str) -> Amount:
    approximate = APPROX in kinds
    more = MORE in kinds or (FROM in kinds and len(values) == 1)
    less = LESS in kinds or (UPTO in kinds and len(values) == 1)
    if len(values) == 1 and not (more and less):
        if more:
            return Amount(values[0], None, approximate)
        if less:
            return Amount(None, values[0], approximate)
        return Amount(values[0], values[0], approximate)
    if len(values) == 2 and not (MORE in kinds or LESS in kinds):
        low, high = sorted(values)
        return Amount(low, high, approximate)
    raise NumberError(text)


def _kind(token: str) -> str | None:
    if token in "~≈":
        return APPROX
    if token in "+>":
        return MORE
    if token == "<":
        return LESS
    if token in _DASHES:
        return OR
    if token in _WORDS:
        return _WORDS[token]
    raise NumberError(token)


def _split_suffixes(tokens: list[str]) -> list[str]:
    """ "qirqqa" -> "qirq", "qa"; "қырықтай" -> "қырық", "тай": Turkic endings on number words."""
    result = []
    for token in tokens:
        if token in _NUMBER_WORDS or token in _WORDS or not token.isalpha():
            result.append(token)
            continue
        for cut in range(len(token) - 1, 1, -1):
            if token[:cut] in _NUMBER_WORDS and token[cut:] in _SUFFIXES:
                result += [token[:cut], token[cut:]]
                break
        else:
            result.append(token)
    return result


def _is_number(token: str) -> bool:
    return token[:1].isdigit() or token in _NUMBER_WORDS


class _Group:
    """Consecutive number tokens read as one number: "1 500", "две тысячи", "ikki yuz ellik", "2 ming"."""

    def __init__(self) -> None:
        self.total = 0.0
        self.current = 0.0
        self.tokens: list[str] = []
        self.valid = True

    @property
    def after_multiplier(self) -> bool:
        return bool(self.tokens) and self.tokens[-1] in _MULTIPLIERS

    def joins_with_dash(self, following: str | None) -> bool:
        """ "forty-five": a dash between a tens word and a units word is part of the number."""
        last = self.tokens[-1] if self.tokens else ""
        tens, units = _NUMBER_WORDS.get(last), _NUMBER_WORDS.get(following or "")
        return tens is not None and units is not None and 20 <= tens <= 90 and tens % 10 == 0 and 1 <= units <= 9

    def add(self, token: str) -> None:
        previous = self.tokens[-1] if self.tokens else None
        self.tokens.append(token)
        if token[:1].isdigit():
            self._add_digits(token, previous)
            return
        value = _NUMBER_WORDS[token]
        if token in _MULTIPLIERS:
            self._multiply(value)
        elif self.current == 0 or (self.current % 100 == 0 and value < 100) or _units_after_tens(self.current, value):
            if previous is not None and previous[:1].isdigit() and previous not in _MULTIPLIERS:
                self.valid = False  # "40 пять"
            self.current += value
        else:
            self.valid = False

    def _add_digits(self, token: str, previous: str | None) -> None:
        if previous is None:
            self.current = _digits(token, self)
        elif previous.isdigit() and len(previous) <= 3 and token.isdigit() and len(token) == 3:
            self.current = self.current * 1000 + int(token)  # "1 500", "1 000 000"
        else:
            self.valid = False

    def _multiply(self, value: float) -> None:
        if value == 1000:
            if self.total or self.current >= 1000:
                self.valid = False
            self.total += (self.current or 1) * 1000
            self.current = 0
        elif self.current >= 100 or self.current % 1:
            self.valid = False
        else:
            self.current = (self.current or 1) * value

    def value(self, text: str) -> float:
        if not self.valid:
            raise NumberError(text)
        return self.total + self.current


def _units_after_tens(current: float, value: float) -> bool:
    return current % 10 == 0 and current % 100 != 0 and value < 10


def _digits(token: str, group: _Group) -> float:
    """ "1,5" and "1.5" are decimals; "1,500" and "1.500" thousands; "1,500.5" both."""
    marks = [char for char in token if char in ".,"]
    if not marks:
        return int(token)
    decimal = marks[-1] if len(set(marks)) == 2 else None
    whole, _, fraction = token.rpartition(decimal) if decimal else (token, "", "")
    parts = re.split(r"[.,]", whole)
    thousands = len(parts) > 1 and len(parts[0]) <= 3 and all(len(part) == 3 for part in parts[1:])
    if decimal is None and not thousands and len(parts) == 2:
        return float(f"{parts[0]}.{parts[1]}")
    if not thousands:
        group.valid = False
        return 0
    number = int("".join(parts))
    return number + float(f"0.{fraction}") if fraction else number
