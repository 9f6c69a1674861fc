"""A place typed on the region screen, as people write it in every language of the bot: the region it names
without doubt, or the country, or nothing (then the buttons decide)."""

from __future__ import annotations

import pytest

from bot.flows.regions import find_place

COUNTRIES = ("UZ", "KZ", "TM")
NAMED = {
    "ru": [("в Андижане", "UZ-AN"), ("Бухара", "UZ-BU"), ("Каракалпакстан", "UZ-QR"), ("Караганда", "KZ-35"),
           ("Западный Казахстан", "KZ-27"), ("Шымкент", "KZ-79"), ("Лебап велаяты", "TM-L"), ("Самарканд", "UZ-SA")],
    "uz": [("Andijonda", "UZ-AN"), ("Farg‘ona", "UZ-FA"), ("Farg'onada", "UZ-FA"), ("Qashqadaryo", "UZ-QA"),
           ("Xorazm viloyati", "UZ-XO"), ("Namangan", "UZ-NG"), ("Surxondaryoda", "UZ-SU"), ("Jizzax", "UZ-JI")],
    "kk": [("Әндіжан", "UZ-AN"), ("Қарағанды облысы", "KZ-35"), ("Қарағандыда", "KZ-35"), ("Маңғыстау", "KZ-47"),
           ("Түркістан облысы", "KZ-61"), ("Ақтөбе", "KZ-15"), ("Павлодарда", "KZ-55"), ("Жамбыл", "KZ-31")],
    "en": [("Andijan", "UZ-AN"), ("Bukhara region", "UZ-BU"), ("Karaganda", "KZ-35"), ("Mangystau", "KZ-47"),
           ("Mary", "TM-M"), ("Lebap", "TM-L"), ("Fergana valley", "UZ-FA"), ("Kostanay", "KZ-39")],
    "tk": [("Lebap welaýaty", "TM-L"), ("Lebapda", "TM-L"), ("Daşoguz", "TM-D"), ("Dasoguz", "TM-D"),
           ("Ahal", "TM-A"), ("Balkan", "TM-B"), ("Mary welaýatynda", "TM-M"), ("Buhara", "UZ-BU")],
    "uz_Cyrl": [("Андижонда", "UZ-AN"), ("Фарғона", "UZ-FA"), ("Хоразм", "UZ-XO"), ("Наманганда", "UZ-NG"),
                ("Сурхондарё", "UZ-SU"), ("Қорақалпоғистон", "UZ-QR"), ("Бухоро", "UZ-BU"), ("Навоий", "UZ-NW")],
}  # fmt: skip
COUNTRY_ONLY = [("Казахстан", "KZ"), ("O‘zbekiston", "UZ"), ("Қазақстан", "KZ"), ("Turkmenistan", "TM"),
                ("Türkmenistan", "TM"), ("Ўзбекистон", "UZ"), ("Узбекистан", "UZ")]  # fmt: skip
NOTHING = ["Ташкент", "Toshkent", "Алматы", "город", "дома", "Нукус", "на поле", "не знаю", "Bishkek", "2"]


@pytest.mark.parametrize(("typed", "region"), [pair for pairs in NAMED.values() for pair in pairs])
def test_a_region_named_without_doubt_is_found(typed, region):
    assert find_place(typed, COUNTRIES) == (region.split("-")[0], region)


@pytest.mark.parametrize(("typed", "country"), COUNTRY_ONLY)
def test_a_country_named_is_chosen_and_its_regions_follow(typed, country):
    assert find_place(typed, COUNTRIES) == (country, None)


@pytest.mark.parametrize("typed", NOTHING)
def test_a_city_that_is_also_a_region_or_no_place_at_all_leaves_it_to_the_buttons(typed):
    assert find_place(typed, COUNTRIES) == (None, None)


def test_within_a_chosen_country_only_its_regions_count():
    assert find_place("Karaganda", COUNTRIES, "KZ") == ("KZ", "KZ-35")
    assert find_place("Samarkand", COUNTRIES, "KZ") == (None, None)
    assert find_place("Lebap", ("UZ", "KZ")) == (None, None)  # a flow that asks about two countries only
