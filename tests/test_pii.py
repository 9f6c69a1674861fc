"""Likely identifiers in free text: found where they are, not where they are not."""

import pytest

from bot.privacy.pii import MASK, find_identifiers, is_valid_iin, mask


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Звоните +998 90 123 45 67", [("phone", "+998 90 123 45 67")]),
        ("mening raqamim 90 765 43 21", [("phone", "90 765 43 21")]),
        ("звоните 8 701 123 4567 вечером", [("phone", "8 701 123 4567")]),
        ("Aşgabat +993 65 123456", [("phone", "+993 65 123456")]),
        ("pochta: ali.valiyev@mail.uz", [("email", "ali.valiyev@mail.uz")]),
        ("пишите в телеграм @ali_valiyev_99", [("username", "@ali_valiyev_99")]),
        ("Pasport AB1234567 olib qo‘yildi", [("passport", "AB1234567")]),
        ("паспорт N12345678 забрали", [("passport", "N12345678")]),
        ("паспорт 45 06 123456 у бригадира", [("passport", "45 06 123456")]),
        ("ЖСН 900101300017", [("personal_id", "900101300017")]),
        ("JSHSHIR 31234567890123", [("personal_id", "31234567890123")]),
    ],
)
def test_identifiers_are_found(text, expected):
    assert [(f.kind, f.text) for f in find_identifiers(text)] == expected


@pytest.mark.parametrize(
    "text",
    [
        "Норма 60 кг в день, 1200 человек, с 15.09.2026 по 20.10.2026.",
        "Hokim buyrug‘i 17-son, 2026-yil 5-sentabr",
        "ИИН похожий, но неверный: 900101300011",
        "Шахта №5, Караганда, смена 12 часов",
        "email me at example dot com",
    ],
)
def test_ordinary_report_text_has_no_findings(text):
    assert find_identifiers(text) == []


def test_iin_check_digit():
    assert is_valid_iin("900101300017") and is_valid_iin("850705400124")
    assert not is_valid_iin("900101300011") and not is_valid_iin("12345")


def test_mask_replaces_only_the_finding():
    text = "Tel +998 90 123 45 67, pasport AB1234567."
    [phone, passport] = find_identifiers(text)
    assert mask(text, phone) == f"Tel {MASK}, pasport AB1234567."
    assert passport.kind == "passport"
