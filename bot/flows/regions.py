"""Countries and their ISO 3166-2 regions, named in the bot's languages (shipped in regions.yaml)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .model import Texts
from .numbers import fold

REGIONS_FILE = Path(__file__).parent / "regions.yaml"
OTHER_COUNTRY = "other"


@dataclass(frozen=True)
class Country:
    code: str
    name: Texts
    regions: dict[str, Texts]


def _load() -> dict[str, Country]:
    raw = yaml.safe_load(REGIONS_FILE.read_text(encoding="utf-8"))
    return {code: Country(code, entry["name"], dict(entry["regions"])) for code, entry in raw.items()}


REGIONS: dict[str, Country] = _load()


def localized(texts: Texts, lang: str) -> str:
    """Region names exist in every language of the bot; any other falls back to English."""
    return texts.get(lang) or texts["en"]


def region_texts(code: str) -> Texts | None:
    country = REGIONS.get(code.split("-", 1)[0])
    return country.regions.get(code) if country else None


MIN_STEM = 5
"""Typed and official names agree on at least this many first letters ("андижане", "Andijonda" and "Андижанская
область"), or on the whole of the shorter word ("Абай")."""
GENERIC_WORDS = frozenset(
    fold(word)
    for word in [
        *("область", "облысы", "viloyati", "вилояти", "welaýaty", "велаят", "велаяты", "region", "район", "районе"),
        *("город", "города", "қаласы", "shahri", "шаҳри", "şäheri", "city"),
        *("республика", "республикасы", "respublikasi", "республикаси", "respublikasy", "republic"),
    ]
)
"""Words every region's name has, which say nothing about which region is meant."""


def find_place(text: str, countries: tuple[str, ...], country: str | None = None) -> tuple[str | None, str | None]:
    """The country and region that typed words name without doubt: ("UZ", "UZ-AN") for "в Андижане", ("KZ", None)
    for "Казахстан", (None, None) when nothing fits or more than one does ("Ташкент": the city or the region?).
    With `country` chosen, only its regions are considered."""
    typed = [word for word in re.findall(r"\w+", fold(text)) if len(word) >= 4 and word not in GENERIC_WORDS]
    if not typed:
        return None, None
    among = (country,) if country in REGIONS else countries
    scores = {code: _named(typed, names) for code_of in among for code, names in REGIONS[code_of].regions.items()}
    best = max(scores.values(), default=0)
    regions = [code for code, score in scores.items() if score and score == best]  # most typed words agreeing
    if len(regions) == 1:
        return regions[0].split("-", 1)[0], regions[0]
    if country is not None:
        return None, None
    named = [code for code in countries if code in REGIONS and _named(typed, REGIONS[code].name)]
    if len(named) == 1 and all(code.startswith(named[0] + "-") for code in regions):  # "Kazakhstan", not West K.
        return named[0], None
    return None, None


def _named(typed: list[str], names: Texts) -> int:
    """How many of the typed words agree with a word of the place's names in any language."""
    official = {word for name in names.values() for word in re.findall(r"\w+", fold(name))} - GENERIC_WORDS
    return sum(any(_same_stem(word, name) for name in official) for word in typed)


def _same_stem(typed: str, name: str) -> bool:
    common = len(os.path.commonprefix([typed, name]))
    return common >= min(MIN_STEM, len(name)) and common >= min(MIN_STEM, len(typed))
