"""Dates and numbers as reporters write them, in every language of the bot, and what the bot shows back."""

from __future__ import annotations

from datetime import date

import pytest

from bot.digest.build import render_tip
from bot.digest.export import export_rows
from bot.flows import engine
from bot.flows.catalog import FlowCatalog
from bot.flows.dates import DateError, Period, parse_period
from bot.flows.engine import Ask, Press, Review, Text
from bot.flows.loader import parse_flow
from bot.flows.model import Compare
from bot.flows.numbers import Amount, NumberError, number_value, parse_amount
from bot.i18n import gettext_for
from bot.render import format_answer, render_step
from storage.repository import StoredTip

TODAY = date(2026, 12, 1)  # a Tuesday

SEP = ("2026-09-01", "2026-09-30")
SINCE_SEP = ("2026-09-01", "2026-12-01")
SINCE_10_SEP = ("2026-09-10", "2026-12-01")
TENTH_SEP = ("2026-09-10", "2026-09-10")
EARLY_OCT = ("2026-10-01", "2026-10-10")
MID_OCT = ("2026-10-11", "2026-10-20")
LATE_OCT = ("2026-10-21", "2026-10-31")
LAST_WEEK = ("2026-11-23", "2026-11-29")
TWO_WEEKS_AGO = ("2026-11-16", "2026-11-22")
LAST_MONTH = ("2026-11-01", "2026-11-30")
YESTERDAY = ("2026-11-30", "2026-11-30")
SEP_2025 = ("2025-09-01", "2025-09-30")
SEP_TO_OCT = ("2026-09-01", "2026-10-31")
AUTUMN = ("2026-09-01", "2026-11-30")

DATES = {
    "ru": [
        ("сентябрь", SEP),
        ("в сентябре", SEP),
        ("Сентябрь", SEP),
        ("с сентября", SINCE_SEP),
        ("С сентября и до сих пор", SINCE_SEP),
        ("с 10.09 до сегодня", SINCE_10_SEP),
        ("с 10 сентября по сей день", SINCE_10_SEP),
        ("в начале октября", EARLY_OCT),
        ("в середине октября", MID_OCT),
        ("в конце октября", LATE_OCT),
        ("на прошлой неделе", LAST_WEEK),
        ("две недели назад", TWO_WEEKS_AGO),
        ("2 недели назад", TWO_WEEKS_AGO),
        ("вчера", YESTERDAY),
        ("сентябрь 2025", SEP_2025),
        ("в сентябре 2025 года", SEP_2025),
        ("с сентября по октябрь", SEP_TO_OCT),
        ("сентябрь-октябрь", SEP_TO_OCT),
        ("осенью", AUTUMN),
        ("в прошлом месяце", LAST_MONTH),
        ("10 сентября", TENTH_SEP),
        ("10–15 сентября", ("2026-09-10", "2026-09-15")),
        ("с ноября по февраль", ("2025-11-01", "2026-02-28")),
        ("где-то в сентябре", SEP),
    ],
    "uz": [
        ("sentyabr", SEP),
        ("sentyabrda", SEP),
        ("Sentabrda", SEP),
        ("sentyabr oyida", SEP),
        ("sentyabrdan", SINCE_SEP),
        ("sentyabrdan beri", SINCE_SEP),
        ("10.09 dan hozirgacha", SINCE_10_SEP),
        ("10.09dan hozirgacha", SINCE_10_SEP),
        ("oktyabr boshida", EARLY_OCT),
        ("oktyabr o‘rtasida", MID_OCT),
        ("oktyabr oxirida", LATE_OCT),
        ("o‘tgan hafta", LAST_WEEK),
        ("o'tgan haftada", LAST_WEEK),
        ("oʻtgan hafta", LAST_WEEK),
        ("otgan hafta", LAST_WEEK),
        ("ikki hafta oldin", TWO_WEEKS_AGO),
        ("2 hafta oldin", TWO_WEEKS_AGO),
        ("kecha", YESTERDAY),
        ("sentyabrdan oktyabrgacha", SEP_TO_OCT),
        ("2025 yil sentyabr", SEP_2025),
        ("2025-yil sentyabrda", SEP_2025),
        ("o‘tgan oy", LAST_MONTH),
        ("kuzda", AUTUMN),
        ("10-sentyabr", TENTH_SEP),
    ],
    "kk": [
        ("қыркүйек", SEP),
        ("қыркүйекте", SEP),
        ("кыркуйекте", SEP),  # typed on a Russian keyboard
        ("қыркүйектен", SINCE_SEP),
        ("қыркүйектен бері", SINCE_SEP),
        ("қыркүйектен бастап", SINCE_SEP),
        ("10.09-дан бүгінге дейін", SINCE_10_SEP),
        ("қазанның басында", EARLY_OCT),
        ("қазан айының басында", EARLY_OCT),
        ("қазанның ортасында", MID_OCT),
        ("қазанның аяғында", LATE_OCT),
        ("өткен аптада", LAST_WEEK),
        ("өткен апта", LAST_WEEK),
        ("екі апта бұрын", TWO_WEEKS_AGO),
        ("2 апта бұрын", TWO_WEEKS_AGO),
        ("кеше", YESTERDAY),
        ("қыркүйектен қазанға дейін", SEP_TO_OCT),
        ("2025 жылғы қыркүйек", SEP_2025),
        ("2025 жылдың қыркүйегінде", SEP_2025),
        ("күзде", AUTUMN),
        ("өткен айда", LAST_MONTH),
        ("10 қыркүйек", TENTH_SEP),
    ],
    "en": [
        ("September", SEP),
        ("in September", SEP),
        ("since September", SINCE_SEP),
        ("from 10.09 until now", SINCE_10_SEP),
        ("from 10 September to today", SINCE_10_SEP),
        ("early October", EARLY_OCT),
        ("mid-October", MID_OCT),
        ("the end of October", LATE_OCT),
        ("late October", LATE_OCT),
        ("last week", LAST_WEEK),
        ("two weeks ago", TWO_WEEKS_AGO),
        ("2 weeks ago", TWO_WEEKS_AGO),
        ("yesterday", YESTERDAY),
        ("September 2025", SEP_2025),
        ("from September to October", SEP_TO_OCT),
        ("September to October", SEP_TO_OCT),
        ("in autumn", AUTUMN),
        ("last month", LAST_MONTH),
        ("September 10", TENTH_SEP),
        ("10th of September", TENTH_SEP),
        ("10-15 September", ("2026-09-10", "2026-09-15")),
    ],
    "tk": [
        ("sentýabr", SEP),
        ("sentyabr", SEP),  # without Turkmen letters
        ("sentýabrda", SEP),
        ("sentýabr aýynda", SEP),
        ("sentýabrdan", SINCE_SEP),
        ("sentýabrdan bäri", SINCE_SEP),
        ("sentýabrdan başlap", SINCE_SEP),
        ("10.09-dan şu güne çenli", SINCE_10_SEP),
        ("10.09-dan häzire çenli", SINCE_10_SEP),
        ("oktýabryň başynda", EARLY_OCT),
        ("oktyabryn basynda", EARLY_OCT),
        ("oktýabryň ortasynda", MID_OCT),
        ("oktýabryň ahyrynda", LATE_OCT),
        ("geçen hepde", LAST_WEEK),
        ("gecen hepde", LAST_WEEK),
        ("iki hepde öň", TWO_WEEKS_AGO),
        ("iki hepde mundan öň", TWO_WEEKS_AGO),
        ("düýn", YESTERDAY),
        ("sentýabrdan oktýabra çenli", SEP_TO_OCT),
        ("2025-nji ýylyň sentýabrynda", SEP_2025),
        ("güýzde", AUTUMN),
        ("geçen aý", LAST_MONTH),
    ],
    "uz_Cyrl": [
        ("сентябр", SEP),
        ("сентябрда", SEP),
        ("сентябрдан", SINCE_SEP),
        ("сентябрдан бери", SINCE_SEP),
        ("10.09 дан ҳозиргача", SINCE_10_SEP),
        ("10.09 дан хозиргача", SINCE_10_SEP),
        ("октябр бошида", EARLY_OCT),
        ("октябр ўртасида", MID_OCT),
        ("октябр охирида", LATE_OCT),
        ("ўтган ҳафта", LAST_WEEK),
        ("утган хафта", LAST_WEEK),
        ("икки ҳафта олдин", TWO_WEEKS_AGO),
        ("кеча", YESTERDAY),
        ("сентябрдан октябргача", SEP_TO_OCT),
        ("2025 йил сентябр", SEP_2025),
        ("кузда", AUTUMN),
        ("ўтган ой", LAST_MONTH),
        ("10-сентябр", TENTH_SEP),
    ],
}
APPROXIMATE = (EARLY_OCT, MID_OCT, LATE_OCT)


def by_language(table: dict[str, list]) -> list:
    return [
        pytest.param(text, expected, id=f"{lang}-{text}") for lang, cases in table.items() for text, expected in cases
    ]


def test_every_language_has_at_least_fifteen_phrasings():
    assert set(DATES) == set(NUMBERS) == {"ru", "uz", "kk", "en", "tk", "uz_Cyrl"}
    assert all(len(DATES[lang]) >= 15 and len(NUMBERS[lang]) >= 15 for lang in DATES)


@pytest.mark.parametrize("text, expected", by_language(DATES))
def test_dates_as_people_write_them(text, expected):
    period = parse_period(text, TODAY)
    assert (period.start.isoformat(), period.end.isoformat()) == expected
    assert period.approximate == (expected in APPROXIMATE or "где-то" in text)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("завтра", "format"),
        ("next week", "format"),
        ("в следующем месяце", "format"),
        ("hello", "format"),
        ("asdf сентябрь", "format"),
        ("32.13", "format"),
        ("31.02.2026", "format"),
        ("15", "format"),  # a day, but of which month?
        ("до октября", "format"),  # when did it start?
        ("sentyabrgacha", "format"),
        ("с", "format"),
        ("", "format"),
        ("01.01.2027", "future"),
        ("2027", "future"),
        ("20.10.2026 - 01.09.2026", "order"),
    ],
)
def test_dates_that_stay_refused(text, reason):
    with pytest.raises(DateError) as raised:
        parse_period(text, TODAY)
    assert raised.value.reason == reason


def test_a_month_without_a_year_is_the_latest_one_not_in_the_future():
    assert parse_period("январь", TODAY) == Period(date(2026, 1, 1), date(2026, 1, 31))
    assert parse_period("декабрь", TODAY) == Period(date(2026, 12, 1), TODAY)  # never past today
    in_march = date(2026, 3, 5)
    assert parse_period("сентябрь", in_march) == Period(date(2025, 9, 1), date(2025, 9, 30))
    assert parse_period("15.09", in_march) == Period(date(2025, 9, 15), date(2025, 9, 15))
    assert parse_period("с 10.09.2025 по октябрь", TODAY) == Period(date(2025, 9, 10), date(2025, 10, 31))


def A(low, high=None, approximate=True):  # noqa: N802 - reads like the answer it stands for
    return Amount(low, low if high is None else high, approximate)


def R(low, high):  # noqa: N802
    return Amount(low, high)


def MORE(low):  # noqa: N802
    return Amount(low, None)


def LESS(high):  # noqa: N802
    return Amount(None, high)


NUMBERS = {
    "ru": [
        ("40", 40),
        ("около 40", A(40)),
        ("примерно 40", A(40)),
        ("где-то 40", A(40)),
        ("~40", A(40)),
        ("40-50", R(40, 50)),
        ("40–50 человек", R(40, 50)),
        ("от 40 до 50", R(40, 50)),
        ("60 кг", 60),
        ("60кг", 60),
        ("более 100", MORE(100)),
        ("больше ста", MORE(100)),
        ("не больше 10", LESS(10)),
        ("сорок", 40),
        ("около сорока", A(40)),
        ("сорок пять", 45),
        ("сорок с лишним", MORE(40)),
        ("1 500", 1500),
        ("1,5", 1.5),
        ("две тысячи", 2000),
    ],
    "uz": [
        ("40 ta", 40),
        ("40ta", 40),
        ("40 tacha", A(40)),
        ("40 ga yaqin", A(40)),
        ("qirqqa yaqin", A(40)),
        ("taxminan 40", A(40)),
        ("40-50 kishi", R(40, 50)),
        ("40 dan 50 gacha", R(40, 50)),
        ("60 kg", 60),
        ("100 dan ortiq", MORE(100)),
        ("100 dan ko‘p", MORE(100)),
        ("yuzdan ortiq", MORE(100)),
        ("kamida 40", MORE(40)),
        ("qirq besh", 45),
        ("o‘n besh", 15),
        ("ikki yuz", 200),
        ("1 500 kishi", 1500),
        ("40 nafar", 40),
    ],
    "kk": [
        ("40", 40),
        ("шамамен 40", A(40)),
        ("40-қа жуық", A(40)),
        ("қырыққа жуық", A(40)),
        ("40 шақты", A(40)),
        ("40-тай", A(40)),
        ("шамамен қырық", A(40)),
        ("40-50 адам", R(40, 50)),
        ("40-тан 50-ге дейін", R(40, 50)),
        ("60 кг", 60),
        ("100-ден астам", MORE(100)),
        ("жүзден астам", MORE(100)),
        ("кемінде 40", MORE(40)),
        ("қырық бес", 45),
        ("он бес", 15),
        ("екі жүз", 200),
        ("1 500 адам", 1500),
    ],
    "en": [
        ("40", 40),
        ("about 40", A(40)),
        ("about forty", A(40)),
        ("around forty", A(40)),
        ("some 40 people", A(40)),
        ("40-50", R(40, 50)),
        ("40 to 50", R(40, 50)),
        ("between 40 and 50", R(40, 50)),
        ("60 kg", 60),
        ("60kg", 60),
        ("more than 100", MORE(100)),
        ("over a hundred", MORE(100)),
        ("at least 40", MORE(40)),
        ("less than 10", LESS(10)),
        ("forty-five", 45),
        ("two hundred and fifty", 250),
        ("1,500", 1500),
        ("1.5", 1.5),
    ],
    "tk": [
        ("40", 40),
        ("takmynan 40", A(40)),
        ("40 töweregi", A(40)),
        ("40-a golaý", A(40)),
        ("40-a ýakyn", A(40)),
        ("kyrka golaý", A(40)),
        ("40-50 adam", R(40, 50)),
        ("40-dan 50-ä çenli", R(40, 50)),
        ("40 ýa-da 50", R(40, 50)),
        ("60 kg", 60),
        ("100-den gowrak", MORE(100)),
        ("ýüzden gowrak", MORE(100)),
        ("ýüzden köp", MORE(100)),
        ("azyndan 40", MORE(40)),
        ("kyrk bäş", 45),
        ("on bäş", 15),
        ("iki ýüz", 200),
        ("1 500 adam", 1500),
    ],
    "uz_Cyrl": [
        ("40 та", 40),
        ("40 тача", A(40)),
        ("40 га яқин", A(40)),
        ("қирққа яқин", A(40)),
        ("тахминан 40", A(40)),
        ("40-50 киши", R(40, 50)),
        ("40 дан 50 гача", R(40, 50)),
        ("60 кг", 60),
        ("100 дан ортиқ", MORE(100)),
        ("юздан ортиқ", MORE(100)),
        ("камида 40", MORE(40)),
        ("қирқ беш", 45),
        ("ўн беш", 15),
        ("икки юз", 200),
        ("1 500 киши", 1500),
        ("40 нафар", 40),
    ],
}


@pytest.mark.parametrize("text, expected", by_language(NUMBERS))
def test_numbers_as_people_write_them(text, expected):
    amount = parse_amount(text)
    if isinstance(expected, Amount):
        assert amount == expected
    else:
        assert amount.exact and amount.to_json(text) == expected


@pytest.mark.parametrize(
    "text",
    ["many", "много", "ko‘p", "40 50", "1 20", "сорок сорок", "more than 40 less than 50", "about", "40 apples", ""],
)
def test_numbers_that_stay_refused(text):
    with pytest.raises(NumberError):
        parse_amount(text)


def test_stored_number_shapes_keep_the_words_unless_exact():
    assert parse_amount("60 кг").to_json("60 кг") == 60
    assert parse_amount("40-50").to_json("40-50") == {"min": 40, "max": 50, "words": "40-50"}
    assert parse_amount("около 40").to_json("около 40") == {"min": 40, "max": 40, "approx": True, "words": "около 40"}
    assert parse_amount("более 100").to_json("более 100") == {"min": 100, "max": None, "words": "более 100"}


def test_conditions_compare_the_middle_of_a_range_and_the_known_bound_of_an_open_one():
    more_than_45 = Compare("people", "gt", ("45",))
    assert more_than_45.holds({"people": 50})
    assert more_than_45.holds({"people": {"min": 40, "max": 60, "words": "40-60"}})
    assert not more_than_45.holds({"people": {"min": 40, "max": 50, "words": "40-50"}})  # 45 is not above 45
    assert more_than_45.holds({"people": {"min": 100, "max": None, "words": "более 100"}})
    assert not more_than_45.holds({"people": {"min": None, "max": 10, "words": "меньше 10"}})
    assert not more_than_45.holds({"people": None}) and not more_than_45.holds({"people": True})
    assert number_value({"min": 40, "max": 40, "approx": True, "words": "около 40"}) == 40


# ---- through the engine and the screens ---------------------------------------------------------------------

T = {"en": "t", "ru": "т"}
FLOW = parse_flow(
    {
        "id": "natural",
        "version": 1,
        "languages": ["ru", "en"],
        "title": T,
        "questions": [
            {"id": "people", "type": "number", "text": T, "min": 1, "max": 1000},
            {"id": "many", "type": "yesno", "text": T, "when": {"question": "people", "gt": 100}},
            {"id": "period", "type": "date", "text": T},
        ],
    },
    source="natural.yaml",
)


def run(draft, *inputs):
    outcome = None
    for received in inputs:
        outcome = engine.step(FLOW, draft, received, TODAY)
        draft = outcome.draft
    return outcome


@pytest.mark.parametrize(
    "people, period, shown",
    [
        ("40-50 человек", "с сентября", ["40–50", "01.09.2026 – 01.12.2026 (с сентября)"]),
        ("около 40", "в начале октября", ["≈ 40", "01.10.2026 – 10.10.2026 (в начале октября)"]),
        ("60", "15.09.2026", ["60", "15.09.2026"]),
    ],
)
def test_the_review_shows_what_was_understood(people, period, shown):
    outcome = run(engine.start(FLOW).draft, Text(people), Text(period))
    assert isinstance(outcome.step, Review)
    review = render_step(FLOW, outcome.step, "ru").text
    for line in shown:
        assert f"   {line}\n" in review + "\n"
    assert outcome.draft.answers["period"]["words"] == period


def test_number_bounds_and_conditions_apply_to_ranges():
    draft = engine.start(FLOW).draft
    assert run(draft, Text("0-5")).problem.code == "number_too_small"
    assert run(draft, Text("500-2000")).problem.params == {"limit": 1000}
    assert run(draft, Text("много")).problem.code == "not_a_number"
    outcome = run(draft, Text("более 100"))
    assert outcome.draft.answers["people"] == {"min": 100, "max": None, "words": "более 100"}
    assert isinstance(outcome.step, Ask) and outcome.step.question.id == "period"  # 100 is not above 100
    outcome = run(engine.start(FLOW).draft, Text("100-200"))
    assert outcome.step.question.id == "many"  # the middle, 150, is


@pytest.mark.parametrize("lang", ["ru", "uz", "kk", "en", "tk", "uz_Cyrl"])
def test_not_sure_is_a_button_on_every_date_question_and_an_answer_everywhere(lang):
    _ = gettext_for(lang)
    flows = FlowCatalog.shipped()
    flow = flows.active
    draft = engine.start(flow).draft
    draft.current = "period"
    screen = render_step(flow, engine.view(flow, draft), lang)
    [button] = [button for row in screen.buttons for button in row if button.label == _("Not sure")]
    assert len(button.action.encode()) <= 64
    outcome = engine.step(flow, draft, Press(button.action), TODAY)
    assert outcome.event == "answered" and outcome.draft.answers["period"] == {"unsure": True}
    question = flow.question("period")
    assert format_answer(flow, question, {"unsure": True}, lang) == _("not sure")

    answers = {"period": {"unsure": True}, "people": {"min": 40, "max": 50, "words": "40-50"}, "quota_kg": 60}
    tip = StoredTip("a" * 32, flow.id, flow.version, answers, TODAY, False, [])
    digest = render_tip(tip, flow, lang)
    assert f": {_('not sure')}" in digest and ": 40–50" in digest and ": 60" in digest
    header, [row] = export_rows([tip], flows, lang)
    assert _("not sure") in row and "40–50" in row


def test_answers_stored_before_words_existed_still_read():
    flow = FlowCatalog.shipped().active
    period, people = flow.question("period"), flow.question("people")
    assert format_answer(flow, period, {"start": "2026-11-01", "end": "2026-11-05"}, "en") == "01.11.2026 – 05.11.2026"
    assert format_answer(flow, period, {"start": "2026-11-01", "end": "2026-11-05", "words": "01.11-05.11"}, "en") == (
        "01.11.2026 – 05.11.2026"
    )  # digits alone say it all
    assert format_answer(flow, people, 35, "en") == "35"
    assert format_answer(flow, people, {"min": 100, "max": None, "words": "more than 100"}, "en") == "≥ 100"
