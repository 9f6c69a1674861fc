"""Finding things in free text that could identify the reporter (or anyone): phone numbers of the
region, e-mail addresses, @usernames, passport numbers and personal ID numbers. Pure functions; the
conversation asks the reporter whether to keep or remove each one before the review."""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

PHONE_REGIONS = ("UZ", "KZ", "TM", "RU", "KG", "TJ")
MASK = "[…]"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_USERNAME = re.compile(r"(?<![\w@.])@[A-Za-z][A-Za-z0-9_]{4,31}\b")
_PASSPORTS = (
    re.compile(r"(?<!\w)[A-ZА-Я]{2} ?\d{7}(?!\w)"),  # Uzbekistan: series AA..FA + 7 digits (older: Cyrillic)
    re.compile(r"(?<!\w)N ?\d{8}(?!\w)"),  # Kazakhstan: N + 8 digits
    re.compile(r"(?<!\w)\d{2} ?\d{2} ?\d{6}(?!\w)"),  # Russia: 4 + 6 digits (migrant workers)
)
_TWELVE_DIGITS = re.compile(r"(?<!\d)\d{12}(?!\d)")  # Kazakhstan IIN, checked by its check digit
_PINFL = re.compile(r"(?<!\d)[1-6]\d{13}(?!\d)")  # Uzbekistan JShShIR / PINFL

KINDS = ("email", "username", "passport", "personal_id", "phone")
"""In order of precedence when two findings overlap."""


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    text: str


def find_identifiers(text: str) -> list[Finding]:
    """Every likely identifier in `text`, without overlaps, in reading order."""
    found: list[Finding] = []
    found += _matches("email", _EMAIL, text)
    found += _matches("username", _USERNAME, text)
    for pattern in _PASSPORTS:
        found += _matches("passport", pattern, text)
    found += [f for f in _matches("personal_id", _TWELVE_DIGITS, text) if is_valid_iin(f.text)]
    found += _matches("personal_id", _PINFL, text)
    found += _phones(text)
    chosen: list[Finding] = []
    for finding in sorted(found, key=lambda f: KINDS.index(f.kind)):
        if all(finding.end <= other.start or finding.start >= other.end for other in chosen):
            chosen.append(finding)
    return sorted(chosen, key=lambda f: f.start)


def mask(text: str, finding: Finding) -> str:
    return text[: finding.start] + MASK + text[finding.end :]


def is_valid_iin(digits: str) -> bool:
    """Kazakhstan's individual identification number: 12 digits, the last a check digit."""
    if len(digits) != 12 or not digits.isdigit():
        return False
    numbers = [int(d) for d in digits]
    check = sum(w * n for w, n in zip(range(1, 12), numbers, strict=False)) % 11
    if check == 10:
        check = sum(w * n for w, n in zip([3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2], numbers, strict=False)) % 11
    return check != 10 and check == numbers[11]


def _matches(kind: str, pattern: re.Pattern[str], text: str) -> list[Finding]:
    return [Finding(kind, m.start(), m.end(), m.group(0)) for m in pattern.finditer(text)]


def _phones(text: str) -> list[Finding]:
    found: dict[tuple[int, int], Finding] = {}
    for region in PHONE_REGIONS:
        for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
            found.setdefault((match.start, match.end), Finding("phone", match.start, match.end, match.raw_string))
    return list(found.values())
