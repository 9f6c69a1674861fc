"""Lists come out in the order of each language's alphabet, as its readers look things up."""

from __future__ import annotations

import pytest

from bot.collation import sort_key
from bot.flows.engine import Ask
from bot.flows.loader import load_default_flows
from bot.flows.model import QuestionType
from bot.flows.regions import REGIONS
from bot.render import render_step


def ordered(names: list[str], lang: str) -> list[str]:
    return sorted(names, key=lambda name: sort_key(name, lang))


def region_names(country: str, lang: str) -> list[str]:
    return [names[lang] for names in REGIONS[country].regions.values()]


KAZAKHSTAN_IN_KAZAKH = [
    "Абай облысы",
    "Ақмола облысы",
    "Ақтөбе облысы",
    "Алматы қаласы",
    "Алматы облысы",
    "Астана қаласы",
    "Атырау облысы",
    "Батыс Қазақстан облысы",
    "Жамбыл облысы",
    "Жетісу облысы",
    "Қарағанды облысы",
    "Қостанай облысы",
    "Қызылорда облысы",
    "Маңғыстау облысы",
    "Павлодар облысы",
    "Солтүстік Қазақстан облысы",
    "Түркістан облысы",
    "Ұлытау облысы",
    "Шығыс Қазақстан облысы",
    "Шымкент қаласы",
]


def test_kazakh_regions_in_the_kazakh_alphabet():
    assert ordered(region_names("KZ", "kk"), "kk") == KAZAKHSTAN_IN_KAZAKH


def test_kazakh_letters_follow_their_base_letters():
    names = ["Бұхара облысы", "Әзірбайжан", "Атырау облысы", "Әндіжан облысы", "Ақмола облысы", "Ұлытау облысы"]
    names += ["Үржар", "Іле", "Ырғыз", "Өскемен", "Орал", "Есік", "Ёлкен"]
    assert ordered(names, "kk") == [
        "Ақмола облысы",
        "Атырау облысы",
        "Әзірбайжан",
        "Әндіжан облысы",
        "Бұхара облысы",
        "Есік",
        "Ёлкен",
        "Орал",
        "Өскемен",
        "Ұлытау облысы",
        "Үржар",
        "Ырғыз",
        "Іле",
    ]


def test_uzbek_latin_letters_after_z():
    countries = ["O‘zbekiston", "Qozog‘iston", "Turkmaniston", "Ozarbayjon", "Zambiya", "G‘azo", "Shvetsiya"]
    countries += ["Chexiya", "Gruziya"]
    assert ordered(countries, "uz") == [
        "Gruziya",
        "Ozarbayjon",
        "Qozog‘iston",
        "Turkmaniston",
        "Zambiya",
        "O‘zbekiston",
        "G‘azo",
        "Shvetsiya",
        "Chexiya",
    ]
    assert ordered(region_names("KZ", "uz"), "uz") == [
        "Abay viloyati",
        "Aqmola viloyati",
        "Aqto‘be viloyati",
        "Astana shahri",
        "Atirau viloyati",
        "Jambil viloyati",
        "Jetisu viloyati",
        "Mang‘istov viloyati",
        "Olmaota viloyati",
        "Olmaota shahri",
        "Pavlodar viloyati",
        "Qarag‘anda viloyati",
        "Qizilo‘rda viloyati",
        "Qo‘stanay viloyati",
        "Turkiston viloyati",
        "Ulitov viloyati",
        "G‘arbiy Qozog‘iston viloyati",
        "Sharqiy Qozog‘iston viloyati",
        "Shimoliy Qozog‘iston viloyati",
        "Chimkent shahri",
    ]


@pytest.mark.parametrize("typed", ["O'zbekiston", "Oʻzbekiston", "O’zbekiston", "O`zbekiston", "o‘zbekiston"])
def test_uzbek_o_and_g_with_any_apostrophe(typed):
    assert sort_key(typed, "uz")[0] == sort_key("O‘zbekiston", "uz")[0]


def test_uzbek_cyrillic_letters_after_ya():
    assert ordered(region_names("KZ", "uz_Cyrl"), "uz_Cyrl") == [
        "Абай вилояти",
        "Астана шаҳри",
        "Атирау вилояти",
        "Ақмола вилояти",
        "Ақтўбе вилояти",
        "Жамбил вилояти",
        "Жетису вилояти",
        "Манғистов вилояти",
        "Олмаота вилояти",
        "Олмаота шаҳри",
        "Павлодар вилояти",
        "Туркистон вилояти",
        "Улитов вилояти",
        "Чимкент шаҳри",
        "Шарқий Қозоғистон вилояти",
        "Шимолий Қозоғистон вилояти",
        "Қарағанда вилояти",
        "Қизилўрда вилояти",
        "Қўстанай вилояти",
        "Ғарбий Қозоғистон вилояти",
    ]
    assert ordered(["Ҳокимият", "Ўзбекистон", "Қўқон", "Ғузор", "Янгиер", "Ёзёвон", "Еттисой"], "uz_Cyrl") == [
        "Еттисой",
        "Ёзёвон",
        "Янгиер",
        "Ўзбекистон",
        "Қўқон",
        "Ғузор",
        "Ҳокимият",
    ]


def test_turkmen_letters():
    assert ordered(["Daşoguz", "Çärjew", "Balkan", "Änew", "Eýran", "Ýaşlyk", "Zähmet", "Yzgant"], "tk") == [
        "Balkan",
        "Çärjew",
        "Daşoguz",
        "Eýran",
        "Änew",
        "Yzgant",
        "Ýaşlyk",
        "Zähmet",
    ]
    assert ordered(region_names("KZ", "tk"), "tk") == [
        "Abaý welaýaty",
        "Akmola welaýaty",
        "Aktöbe welaýaty",
        "Almaty şäheri",
        "Almaty welaýaty",
        "Astana şäheri",
        "Atyrau welaýaty",
        "Demirgazyk Gazagystan welaýaty",
        "Garagandy welaýaty",
        "Günbatar Gazagystan welaýaty",
        "Gündogar Gazagystan welaýaty",
        "Gyzylorda welaýaty",
        "Jambyl welaýaty",
        "Jetisu welaýaty",
        "Kostanaý welaýaty",
        "Mangystau welaýaty",
        "Pawlodar welaýaty",
        "Şymkent şäheri",
        "Türküstan welaýaty",
        "Ulytau welaýaty",
    ]


def test_russian_yo_sorts_with_ye():
    names = ["Ёлкино", "Жуковский", "Елабуга", "Ессентуки", "Абакан", "Ёж", "Еж"]
    assert ordered(names, "ru") == ["Абакан", "Еж", "Ёж", "Елабуга", "Ёлкино", "Ессентуки", "Жуковский"]


def test_case_punctuation_and_words():
    assert ordered(["almaty region", "Almaty city", "«Abai» Region", "Aktobe"], "en") == [
        "«Abai» Region",
        "Aktobe",
        "Almaty city",
        "almaty region",
    ]
    assert sort_key("«Ақмола»", "kk")[0] == sort_key("ақмола", "kk")[0]
    assert ordered(["Ташкентская область", "Ташкент (город)"], "ru") == ["Ташкент (город)", "Ташкентская область"]


def test_characters_the_alphabet_does_not_know_come_last():
    assert ordered(["Zhetisu", "Яссы", "Абай", "12 ауыл"], "kk") == ["12 ауыл", "Абай", "Яссы", "Zhetisu"]
    assert ordered(["Qo‘qon", "Ташкент", "Andijon"], "uz") == ["Andijon", "Qo‘qon", "Ташкент"]


def test_kazakh_region_buttons_in_alphabet_order():
    flow = load_default_flows()[0]
    question = next(q for q in flow.questions if q.type is QuestionType.REGION)
    screen = render_step(flow, Ask(question, {"country": "KZ"}, can_back=True, can_skip=False), "kk")
    labels = [button.label for row in screen.buttons for button in row]
    assert labels[: len(KAZAKHSTAN_IN_KAZAKH)] == KAZAKHSTAN_IN_KAZAKH
