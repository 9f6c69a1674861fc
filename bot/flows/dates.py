"""Understanding the dates reporters type: "today", "15.09.2026", "09.2026", or a period.

Returns a period (start, end); a single day is a period of one day. Pure: `today` is passed in.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

EARLIEST = date(2000, 1, 1)

_TODAY_WORDS = {"today", "сегодня", "bugun", "бугун", "бүгін", "şu gün", "bu gün", "şügün"}
_YESTERDAY_WORDS = {"yesterday", "вчера", "kecha", "кеча", "кеше", "düýn"}
_RANGE_SPLIT = re.compile(r"\s*(?:—|–|-(?=\s*\d{1,2}[./])|\s-\s|\.\.|\bto\b|\bпо\b|\bдо\b)\s*", re.IGNORECASE)
_DAY_FIRST = re.compile(r"^(\d{1,2})[./](\d{1,2})(?:[./](\d{2}|\d{4}))?$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_MONTH = re.compile(r"^(\d{1,2})[./](\d{4})$")
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    def to_json(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> Period:
        return cls(date.fromisoformat(data["start"]), date.fromisoformat(data["end"]))


class DateError(ValueError):
    """`reason` is "format", "future" or "order"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def parse_period(text: str, today: date) -> Period:
    cleaned = " ".join(text.strip().lower().replace(",", " ").split())
    parts = [part for part in _RANGE_SPLIT.split(cleaned) if part]
    if len(parts) == 1:
        period = _parse_one(parts[0], today, None)
    elif len(parts) == 2:
        end = _parse_one(parts[1], today, None)
        start = _parse_one(parts[0], today, end.end.year)
        period = Period(start.start, end.end)
    else:
        raise DateError("format")
    if period.start > period.end:
        raise DateError("order")
    if period.start > today:
        raise DateError("future")
    if period.start < EARLIEST:
        raise DateError("format")
    return Period(period.start, min(period.end, today))


def _parse_one(text: str, today: date, default_year: int | None) -> Period:
    if text in _TODAY_WORDS:
        return Period(today, today)
    if text in _YESTERDAY_WORDS:
        day = today - timedelta(days=1)
        return Period(day, day)
    try:
        if match := _ISO.match(text):
            day = date(int(match[1]), int(match[2]), int(match[3]))
            return Period(day, day)
        if match := _MONTH.match(text):
            year, month = int(match[2]), int(match[1])
            last = calendar.monthrange(year, month)[1]
            return Period(date(year, month, 1), date(year, month, last))
        if match := _DAY_FIRST.match(text):
            year = _year(match[3], default_year or today.year)
            day = date(year, int(match[2]), int(match[1]))
            return Period(day, day)
        if match := _YEAR.match(text):
            year = int(match[1])
            return Period(date(year, 1, 1), date(year, 12, 31))
    except ValueError as error:
        raise DateError("format") from error
    raise DateError("format")


def _year(text: str | None, default: int) -> int:
    if text is None:
        return default
    year = int(text)
    return 2000 + year if year < 100 else year
