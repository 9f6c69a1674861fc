"""Countries and their ISO 3166-2 regions, named in the bot's languages (shipped in regions.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from .model import Texts

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
