"""Understanding the dates reporters type, as they type them, in every language of the bot.

"today", "15.09.2026", "09.2026", "01.09–20.10", a month ("сентябрь", "в сентябре", "sentyabrda", "қыркүйек",
"sentýabr"), a month and year ("сентябрь 2025", "2025 yil sentyabr"), a season ("осенью", "kuzda"), "since
September" ("с сентября", "sentyabrdan beri", "қыркүйектен бері", "sentýabrdan bäri"), "from 10.09 until now"
("с 10.09 до сегодня", "10.09 dan hozirgacha"), ranges in words ("с сентября по октябрь", "sentyabrdan
oktyabrgacha"), "early/mid/late October" ("в начале октября", "oktyabr boshida", "қазанның басында",
"oktýabryň başynda", a period of ten days marked approximate), "last week", "two weeks ago" ("ikki hafta
oldin", "екі апта бұрын", "iki hepde öň"). Returns a period (start, end); a single day is a period of one day.
A month, season or day without a year is the latest one not in the future (in a range: not after its end).
Pure: `today` is passed in.

Why not dateparser (1.5.0, measured on this machine): it has no Turkmen at all; it read only the bare
nominative month ("сентябрь", "қыркүйек", "сентябр", "september"; in Uzbek Latin only CLDR's "sentabr", not the
"sentyabr" people write) and "last week" / "2 weeks ago" forms, and none of "в сентябре", "с сентября",
"с 10.09 до сегодня", "в начале октября", "sentyabrda", "sentyabrdan", "oktyabr boshida", "ikki hafta oldin",
"қыркүйектен", "қазанның басында", "өткен аптада", "екі апта бұрын", "since September", "early October",
"from September to October", "sentýabrdan", "geçen hepde"; it returns one datetime, not a period; and it
brings regex, pytz, tzlocal and dateutil (about 13 MB, 0.15 s to import, 0.06-1 s for a first parse). So the
grammar is ours, and kept as data: every word the parser knows is in `_LEXICON`, every ending in `_ENDINGS`.
Words are compared folded (see numbers.fold): Uzbek apostrophes in any variant or none, Turkmen without its
special letters, Kazakh and Uzbek Cyrillic typed on a Russian keyboard.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from .numbers import fold, number_word

EARLIEST = date(2000, 1, 1)
MAX_WORDS = 200
UNSURE: dict[str, Any] = {"unsure": True}
"""The answer of the "Not sure" button on a date question."""

MONTH, SEASON, PART, UNIT, LAST, THIS, RELATIVE, AGO = "month", "season", "part", "unit", "last", "this", "rel", "ago"
NOW, YESTERDAY, BEFORE_YESTERDAY = "now", "yesterday", "before_yesterday"
FROM, UNTIL, FROM_AFTER, UNTIL_AFTER, APPROX, SKIP = "from", "until", "from_after", "until_after", "approx", "skip"
_INFLECTED = {MONTH, SEASON, PART, UNIT, LAST, THIS, RELATIVE, NOW, YESTERDAY}
"""Kinds of words that take endings ("sentyabr-dan", "қазан-ның", "недел-е"); the others are matched whole."""

_LEXICON: dict[tuple[str, Any], str] = {
    (MONTH, 1): "январ янв january jan yanvar ýanwar қаңтар",
    (MONTH, 2): "феврал фев february feb fevral fewral ақпан",
    (MONTH, 3): "март march mar mart наурыз",
    (MONTH, 4): "апрел апр april apr aprel сәуір",
    (MONTH, 5): "май мая мае may maý мамыр",
    (MONTH, 6): "июн june jun iyun iýun маусым",
    (MONTH, 7): "июл july jul iyul iýul шілде",
    (MONTH, 8): "август авг august aug avgust awgust тамыз",
    (MONTH, 9): "сентябр сентабр сент september sept sep sentyabr sentabr sentýabr қыркүйек қыркүйег",
    (MONTH, 10): "октябр октабр окт october oct oktyabr oktabr oktýabr қазан",
    (MONTH, 11): "ноябр нояб november nov noyabr noýabr қараша",
    (MONTH, 12): "декабр дек december dec dekabr желтоқсан",
    (SEASON, 3): "весн spring bahor баҳор көктем ýaz",
    (SEASON, 6): "лето летом лета лете summer yoz ёз жаз tomus",
    (SEASON, 9): "осен осенью autumn fall kuz куз күз güýz",
    (SEASON, 12): "зим winter qish қиш қыс gyş",
    (PART, "early"): "начал начало early beginning start bosh бош бас baş",
    (PART, "mid"): "середин mid middle o‘rta ўрта орта",
    (PART, "late"): "конц конец late end oxir охир аяғ соң ahyr soň",
    (UNIT, "day"): "день дня дней дн day kun кун күн gün",
    (UNIT, "week"): "недел week hafta ҳафта апта hepde",
    (UNIT, "month"): "месяц month oy ой ай aý",
    (UNIT, "year"): "год году года лет year yil йил жыл ýyl",
    (LAST, 1): "прошл предыдущ last past previous o‘tgan ўтган өткен geçen öten",
    (THIS, 0): "этой этом этого эту этот эта текущ this current shu bu joriy шу бу жорий осы şu",
    (RELATIVE, (1, "year")): "былтыр bultur",
    (RELATIVE, (0, "year")): "биыл",
    (AGO, None): "назад ago back oldin avval burun ilgari олдин аввал бурун илгари бұрын öň ozal",
    (NOW, None): "сегодн сегодняшн сейчас ныне today now present bugun hozir бугун ҳозир бүгін қазір häzir şügün",
    (YESTERDAY, None): "вчера yesterday kecha кеча кеше düýn",
    (BEFORE_YESTERDAY, None): "позавчера öňňin алдыңгүні",
    (FROM, None): "с со от from since",
    (UNTIL, None): "по до to till until til through",
    (FROM_AFTER, None): "dan den tan ten дан ден тан тен нан нен beri бери бері bäri boshlab бошлаб бастап başlap "
    "onwards onward",
    (UNTIL_AFTER, None): "gacha гача дейін шейін çenli qadar қадар",
    (APPROX, None): "около примерно приблизительно где about around approximately roughly taxminan тахминан "
    "шамамен takmynan",
    (SKIP, None): "в во на и г то это было числа начиная тому of the in on at a an up it was mundan bundan undan "
    "осыдан edi bo‘ldi бўлди болды boldy kuni куни күні güni го ое th st nd rd chi nchi inchi nji njy ynjy inji "
    "нчи инчи шы ші сы сі ы і y i",
}  # fmt: skip

_NEUTRAL, _FROM_ENDING, _UNTIL_ENDING = None, FROM, UNTIL
_ENDINGS: dict[str, str | None] = {
    ending: role
    for role, endings in [
        # Russian case endings; Uzbek, Kazakh and Turkmen locative, genitive and possessive endings; English plural
        (_NEUTRAL, "ь я е ю и ы а у ом ем ой ей ую ый ий ая ого его ью ев ов ам ах ях "
         "s da de ta te ning nin ni i y u yn in un nyn ida ide ynda inde unda sida si sy synda sinde lari larida "
         "lar ler dagi daky deki gi ki ky "
         "да де та те нда нде ын ин дын дин тын тин нын нин нинг ни ында инде ида сида даги дагы ги гы сы си сында "
         "синде ынын инин лари ларида"),
        # ablative: "from"
        (_FROM_ENDING, "dan den tan ten ndan nden idan yndan inden undan sidan syndan "
         "дан ден тан тен нан нен ынан инен идан сынан синен"),
        # dative and terminative: "to", "until"
        (_UNTIL_ENDING, "gacha igacha ga ge ka ke qa iga a e ya ye na ne yna ine "
         "гача игача га ге ка ке на не ына ине ига"),
    ]
    for ending in endings.split()
}  # fmt: skip

_PHRASES = [
    (re.compile(rf"(?<!\w){fold(pattern)}(?!\w)"), fold(replacement))
    for pattern, replacement in [
        (r"сих пор|настоящ\w* (?:время|времени|момента)", "сейчас"),
        (r"сей день|сегодняшн\w* (?:дня|день|числа)", "сегодня"),
        (r"day before yesterday", "позавчера"),
        (r"to date", "to now"),
        (r"(?:şu|bu) gün(\w*)", r"şügün\1"),
        (r"(?:şu|häzirki) wagt(\w*)", r"häzir\1"),
        (r"(?:shu|hozirgi) (?:kun|vaqt)(\w*)", r"hozir\1"),
        (r"(?:шу|ҳозирги) (?:кун|вақт)(\w*)", r"ҳозир\1"),
        (r"(?:осы|қазіргі) (?:уақыт|кез)(\w*)|әлі күн(\w*)", r"қазір\1\2"),
    ]
]  # fmt: skip
_TOKEN = re.compile(
    r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./]\d{1,2}[./]\d{2,4}|\d{1,2}[./]\d{4}|\d{1,2}[./]\d{1,2}|\d+|[^\W\d_]+|[-–—]|\.\."
)
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DAY_MONTH = re.compile(r"^(\d{1,2})[./](\d{1,2})(?:[./](\d{2}|\d{4}))?$")
_MONTH_YEAR = re.compile(r"^(\d{1,2})[./](\d{4})$")
_PARTS = {"early": (1, 10), "mid": (11, 20), "late": (21, 31)}
"""Days of the month meant by "early", "mid" and "late" (decades, as in the harvest reports)."""


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    approximate: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.approximate:
            data["approx"] = True
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Period:
        return cls(date.fromisoformat(data["start"]), date.fromisoformat(data["end"]), bool(data.get("approx")))


class DateError(ValueError):
    """`reason` is "format", "future" or "order"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def date_answer(period: Period, words: str) -> dict[str, Any]:
    """What a date question stores: the period, and the reporter's own words so nothing typed is lost."""
    return {**period.to_json(), "words": " ".join(words.split())[:MAX_WORDS]}


def is_unsure(answer: Any) -> bool:
    return isinstance(answer, dict) and answer.get("unsure") is True


def parse_period(text: str, today: date) -> Period:
    tokens = _tokens(text)
    points, approximate = _points(tokens, today)
    if len(points) == 1:
        (point,) = points
        if point.role == UNTIL or point.bare_day is not None:
            raise DateError("format")  # "until October" says nothing of when it began, "15" of which month
        period = _latest(point, today)
        if point.role == FROM:
            period = Period(period.start, today)
    elif len(points) == 2:
        period = _range(*points, today=today)
    else:
        raise DateError("format")
    if period.start > period.end:
        raise DateError("order")
    if period.start > today:
        raise DateError("future")
    if period.start < EARLIEST:
        raise DateError("format")
    approximate = approximate or any(point.approximate for point in points)
    return Period(period.start, min(period.end, today), approximate)


# ---- words ------------------------------------------------------------------------------------------------


def _index(lexicon: dict[tuple[str, Any], str]) -> dict[str, dict[str, Any]]:
    index: dict[str, dict[str, Any]] = {}
    for (kind, value), words in lexicon.items():
        for word in words.split():
            index.setdefault(fold(word), {}).setdefault(kind, value)
    return index


_WORDS = _index(_LEXICON)


@dataclass
class _Token:
    word: str
    readings: dict[str, tuple[Any, str | None]] = field(default_factory=dict)
    """kind -> (value, role of the ending: FROM, UNTIL or None)."""

    def has(self, kind: str) -> bool:
        return kind in self.readings

    def value(self, kind: str) -> Any:
        return self.readings[kind][0]

    def role(self, kind: str) -> str | None:
        return self.readings[kind][1]

    @property
    def is_dash(self) -> bool:
        return self.word in ("-", "–", "—", "..")

    @property
    def count(self) -> int | None:
        """A small number: "2", "две", "ikki", "екі", "iki"."""
        if self.word.isdigit() and len(self.word) <= 2:
            return int(self.word)
        value = number_word(self.word)
        return int(value) if value is not None and value == int(value) and 1 <= value <= 99 else None

    @property
    def day(self) -> int | None:
        return int(self.word) if self.word.isdigit() and len(self.word) <= 2 and 1 <= int(self.word) <= 31 else None

    @property
    def year(self) -> int | None:
        return int(self.word) if self.word.isdigit() and len(self.word) == 4 else None


def _tokens(text: str) -> list[_Token]:
    folded = fold(text)
    for pattern, replacement in _PHRASES:
        folded = pattern.sub(replacement, folded)
    return [_Token(word, _readings(word)) for word in _TOKEN.findall(folded)]


def _readings(word: str) -> dict[str, tuple[Any, str | None]]:
    found = {kind: (value, None) for kind, value in _WORDS.get(word, {}).items()}
    for cut in range(len(word) - 1, 1, -1):  # the longest known stem first
        stem, ending = word[:cut], word[cut:]
        if ending not in _ENDINGS:
            continue
        for kind, value in _WORDS.get(stem, {}).items():
            if kind in _INFLECTED:
                found.setdefault(kind, (value, _ENDINGS[ending]))
    return found


# ---- points -----------------------------------------------------------------------------------------------


@dataclass
class _Point:
    """One end of what was said: `build(year)` gives its period; `year` None means "the latest that fits"."""

    build: Callable[[int], Period]
    year: int | None
    role: str | None = None
    approximate: bool = False
    bare_day: int | None = None
    """A day without its month, which the other end of the range gives: the 10 of "10-15 сентября"."""


def _points(tokens: list[_Token], today: date) -> tuple[list[_Point], bool]:
    points: list[_Point] = []
    pending: str | None = None
    approximate = False
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.has(FROM) or token.has(UNTIL):
            pending = FROM if token.has(FROM) else UNTIL
            index += 1
            continue
        if token.is_dash:
            if points and _point(tokens, index + 1, today) is not None:
                pending = UNTIL  # "10.09 - 20.10"; a dash before an ending ("10.09-dan") is only a joiner
            index += 1
            continue
        if token.has(FROM_AFTER) or token.has(UNTIL_AFTER):
            if not points:
                raise DateError("format")
            points[-1].role = FROM if token.has(FROM_AFTER) else UNTIL
            index += 1
            continue
        if token.has(APPROX):
            approximate = True
            index += 1
            continue
        found = _point(tokens, index, today)
        if found is None:
            if token.has(SKIP):
                index += 1
                continue
            raise DateError("format")
        point, index = found
        point.role = pending or point.role
        pending = None
        points.append(point)
    if pending is not None:
        raise DateError("format")
    return points, approximate


def _point(tokens: list[_Token], index: int, today: date) -> tuple[_Point, int] | None:
    if index >= len(tokens):
        return None
    for reader in (_ago, _calendar, _numeric, _relative_day, _relative_unit):
        found = reader(tokens, index, today)
        if found is not None:
            return found
    return None


def _fixed(period: Period, today: date, role: str | None = None) -> _Point:
    return _Point(lambda _year: period, today.year, role)


def _calendar(tokens: list[_Token], index: int, today: date) -> tuple[_Point, int] | None:
    """A month, season or year, with a day, an "early/mid/late" and a year in any order the languages use:
    "10 сентября 2025", "September 10", "в начале октября", "қазанның басында", "2025 yil sentyabrda"."""
    slots: dict[str, Any] = {}
    role: str | None = None
    end = index  # after the last token taken
    position = index
    while position < len(tokens):
        token = tokens[position]
        taken = 1
        if token.has(MONTH) and not {"month", "season"} & slots.keys():
            slots["month"], role = token.value(MONTH), token.role(MONTH) or role
        elif token.has(SEASON) and not {"month", "season", "day", "part"} & slots.keys():
            slots["season"], role = token.value(SEASON), token.role(SEASON) or role
        elif token.has(PART) and not {"part", "day", "season"} & slots.keys():
            slots["part"], role = token.value(PART), token.role(PART) or role
        elif token.day is not None and not {"day", "part", "season"} & slots.keys():
            slots["day"] = token.day
        elif token.year is not None and "year" not in slots:
            slots["year"] = token.year
        elif "year" not in slots and (relative := _relative_year(tokens, position)) is not None:
            slots["year"], taken, relative_role = today.year - relative[0], relative[1], relative[2]
            role = relative_role or role
        elif token.has(UNIT) and _unit_belongs(token.value(UNIT), slots):
            role = token.role(UNIT) or role  # "2025 yil", "sentyabr oyida", "15 sentyabr kuni"
        elif (token.is_dash or token.has(SKIP)) and slots:
            position += 1  # taken only if what follows belongs to the same date
            continue
        else:
            break
        position += taken
        end = position
    if slots.keys() == {"day"}:
        return _Point(lambda _year: _calendar_period(slots, _year), None, role, bare_day=slots["day"]), end
    if not slots or ("day" in slots or "part" in slots) and "month" not in slots:
        return None
    if "year" not in slots and "month" not in slots and "season" not in slots:
        return None
    point = _Point(lambda year: _calendar_period(slots, year), slots.get("year"), role, "part" in slots)
    return point, end


def _relative_year(tokens: list[_Token], index: int) -> tuple[int, int, str | None] | None:
    """ "прошлого года", "o‘tgan yili", "былтыр", "this year": (years back, tokens taken, role)."""
    token = tokens[index]
    if token.has(RELATIVE) and token.value(RELATIVE)[1] == "year":
        return token.value(RELATIVE)[0], 1, token.role(RELATIVE)
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    if following is None or not following.has(UNIT) or following.value(UNIT) != "year":
        return None
    if token.has(LAST) or token.has(THIS):
        return (1 if token.has(LAST) else 0), 2, following.role(UNIT)
    return None


def _unit_belongs(unit: str, slots: dict[str, Any]) -> bool:
    if unit == "year":
        return "year" in slots
    if unit == "month":
        return "month" in slots and "day" not in slots
    return unit == "day" and "day" in slots


def _calendar_period(slots: dict[str, Any], year: int) -> Period:
    if "season" in slots:
        start = date(year, slots["season"], 1)
        return Period(start, _add_months(start, 3) - timedelta(days=1))
    if "month" not in slots:
        return Period(date(year, 1, 1), date(year, 12, 31))
    month = slots["month"]
    last = calendar.monthrange(year, month)[1]
    if "day" in slots:
        day = date(year, month, slots["day"])
        return Period(day, day)
    if "part" in slots:
        first, final = _PARTS[slots["part"]]
        return Period(date(year, month, first), date(year, month, min(final, last)), approximate=True)
    return Period(date(year, month, 1), date(year, month, last))


def _numeric(tokens: list[_Token], index: int, today: date) -> tuple[_Point, int] | None:
    """ "15.09.2026", "15.09", "09.2026", "2026-09-15"."""
    word = tokens[index].word
    try:
        if match := _ISO.match(word):
            day = date(int(match[1]), int(match[2]), int(match[3]))
            return _Point(lambda _year: Period(day, day), day.year), index + 1
        if match := _MONTH_YEAR.match(word):
            year, month = int(match[2]), int(match[1])
            return _Point(lambda y: _calendar_period({"month": month}, y), year), index + 1
    except ValueError as error:
        raise DateError("format") from error
    if match := _DAY_MONTH.match(word):
        day_of_month, month = int(match[1]), int(match[2])
        year = None if match[3] is None else int(match[3]) + (2000 if len(match[3]) == 2 else 0)

        def build(y: int) -> Period:
            day = date(y, month, day_of_month)
            return Period(day, day)

        return _Point(build, year), index + 1
    return None


def _relative_day(tokens: list[_Token], index: int, today: date) -> tuple[_Point, int] | None:
    """ "today", "now", "bugungacha", "yesterday", "позавчера"; a following "day" word belongs to it."""
    token = tokens[index]
    for kind, back in ((NOW, 0), (YESTERDAY, 1), (BEFORE_YESTERDAY, 2)):
        if token.has(kind):
            day = today - timedelta(days=back)
            role = token.role(kind)
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if following is not None and following.has(UNIT) and following.value(UNIT) == "day":
                return _fixed(Period(day, day), today, following.role(UNIT) or role), index + 2
            return _fixed(Period(day, day), today, role), index + 1
    return None


def _relative_unit(tokens: list[_Token], index: int, today: date) -> tuple[_Point, int] | None:
    """ "last week", "на этой неделе", "o‘tgan oyda", "өткен аптада", "geçen hepde", "былтыр"."""
    token = tokens[index]
    if token.has(RELATIVE):
        back, unit = token.value(RELATIVE)
        return _fixed(_unit_period(unit, back, today), today, token.role(RELATIVE)), index + 1
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    if following is None or not following.has(UNIT) or not (token.has(LAST) or token.has(THIS)):
        return None
    back, unit = (1 if token.has(LAST) else 0), following.value(UNIT)
    if unit == "day" and back:
        return None  # "the last day" is not a day anyone can place
    return _fixed(_unit_period(unit, back, today), today, following.role(UNIT)), index + 2


def _ago(tokens: list[_Token], index: int, today: date) -> tuple[_Point, int] | None:
    """ "two weeks ago", "неделю назад", "ikki hafta oldin", "екі апта бұрын", "iki hepde (mundan) öň"."""
    count = tokens[index].count
    position = index + (count is not None)
    if position >= len(tokens) or not tokens[position].has(UNIT):
        return None
    unit = tokens[position].value(UNIT)
    position += 1
    while position < len(tokens) and tokens[position].has(SKIP) and not tokens[position].has(AGO):
        position += 1
    if position >= len(tokens) or not tokens[position].has(AGO):
        return None
    return _fixed(_unit_period(unit, count or 1, today), today), position + 1


def _unit_period(unit: str, back: int, today: date) -> Period:
    if unit == "day":
        day = today - timedelta(days=back)
        return Period(day, day)
    if unit == "week":
        monday = today - timedelta(days=today.weekday(), weeks=back)
        return Period(monday, monday + timedelta(days=6))
    if unit == "month":
        first = _add_months(today.replace(day=1), -back)
        return Period(first, _add_months(first, 1) - timedelta(days=1))
    return Period(date(today.year - back, 1, 1), date(today.year - back, 12, 31))


def _add_months(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month + 1, 1)


def _range(first: _Point, second: _Point, today: date) -> Period:
    if first.role == UNTIL or second.role == FROM or first.bare_day and second.bare_day:
        raise DateError("format")
    if first.bare_day:
        end = _latest(second, today)
        return Period(_day_in(end.start, first.bare_day), end.end)
    if second.bare_day:
        start = _latest(first, today)
        return Period(start.start, _day_in(start.start, second.bare_day))
    if first.year is not None and second.year is None:
        end = _earliest_ending_after(second, first.build(first.year).start)
    else:
        end = _latest(second, today)
    return Period(_latest(first, end.end).start, end.end)


def _day_in(month: date, day: int) -> date:
    try:
        return month.replace(day=day)
    except ValueError as error:
        raise DateError("format") from error


# ---- years ------------------------------------------------------------------------------------------------


def _latest(point: _Point, limit: date) -> Period:
    """The point's period in its own year, or in the latest year where it does not start after `limit`."""
    if point.year is not None:
        try:
            return point.build(point.year)
        except ValueError as error:
            raise DateError("format") from error
    for year in range(limit.year, limit.year - 5, -1):  # 29.02 may be four years back
        try:
            period = point.build(year)
        except ValueError:
            continue
        if period.start <= limit:
            return period
    raise DateError("format")


def _earliest_ending_after(point: _Point, start: date) -> Period:
    """The end of "from 10.09.2025 to October": the first such month that ends after the start."""
    for year in range(start.year, start.year + 5):
        try:
            period = point.build(year)
        except ValueError:
            continue
        if period.end >= start:
            return period
    raise DateError("format")
