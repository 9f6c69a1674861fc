"""Button data: written and read back in one place, unchanged for buttons already on reporters' phones,
within Telegram's 64 bytes, and each kind routed to exactly one handler."""

from __future__ import annotations

import pytest

from bot import callbacks
from bot.flows.engine import Ask, EditMenu, Review, actions
from bot.flows.export_yaml import flow_to_raw
from bot.flows.loader import FlowError, load_default_flows, parse_flow
from bot.flows.model import QuestionType
from bot.flows.regions import OTHER_COUNTRY
from bot.follow_up import ANSWER, CHECK, DONE, answer_prompt, report_screen
from bot.i18n import LANGUAGES
from bot.render import ERASE, render_step
from storage.repository import random_id

OLD_REPORTER_BUTTONS = {
    "lang:uz_Cyrl": (callbacks.LANGUAGE, ("uz_Cyrl",)),
    "begin": (callbacks.BEGIN, ()),
    "check": (callbacks.CHECK, ()),
    "erase": (callbacks.ERASE, ()),
    "flow:wages-2026": (callbacks.FLOW, ("wages-2026",)),
    "identifier:remove": (callbacks.IDENTIFIER, ("remove",)),
    "identifier:keep": (callbacks.IDENTIFIER, ("keep",)),
    "receipt:done": (callbacks.RECEIPT, ("done",)),
    "receipt:done:0123456789abcdef0123456789abcdef": (callbacks.RECEIPT, ("done", "0123456789abcdef0123456789abcdef")),
    "followup:answer": (callbacks.FOLLOW_UP, ("answer",)),
    "followup:done": (callbacks.FOLLOW_UP, ("done",)),
    "opt:what:wages": (callbacks.OPTION, ("what", "wages")),
    "opt:danger_now:yes": (callbacks.OPTION, ("danger_now", "yes")),
    "country:region:UZ": (callbacks.COUNTRY, ("region", "UZ")),
    "country:region:other": (callbacks.COUNTRY, ("region", "other")),
    "region:region:KZ-10": (callbacks.REGION, ("region", "KZ-10")),
    "nav:people:skip": (callbacks.NAV, ("people", "skip")),
    "nav:region:countries": (callbacks.NAV, ("region", "countries")),
    "review:confirm": (callbacks.REVIEW, ("confirm",)),
    "review:show": (callbacks.REVIEW, ("show",)),
    "edit:what": (callbacks.EDIT, ("what",)),
}
"""Buttons as the bot sent them before this codec existed: a phone may still show them."""
STAFF_BUTTONS = {"staff-lang:kk": (callbacks.STAFF_LANGUAGE, ("kk",))}
ADMIN_BUTTONS = {
    "flowadm:preview:1a2b3c4d:uz_Cyrl": (callbacks.FLOW_ADMIN, ("preview", "1a2b3c4d", "uz_Cyrl")),
    "flowadm:publish:1a2b3c4d": (callbacks.FLOW_ADMIN, ("publish", "1a2b3c4d")),
    "flowadm:discard:1a2b3c4d": (callbacks.FLOW_ADMIN, ("discard", "1a2b3c4d")),
    "flowadm:default:forced-labour": (callbacks.FLOW_ADMIN, ("default", "forced-labour")),
    "flowadm:off:forced-labour": (callbacks.FLOW_ADMIN, ("off", "forced-labour")),
    "flowadm:on:forced-labour:3": (callbacks.FLOW_ADMIN, ("on", "forced-labour", "3")),
}
GARBAGE = [
    "",
    "lang",
    "lang:",
    "lang:en:extra",
    "begin:now",
    "receipt:done:",
    "receipt:undone",
    "identifier:forget",
    "followup:later",
    "opt:what",
    "opt::wages",
    "opt:what:wages:more",
    "nav:people:Skip",
    "nav:people:2",
    "review:",
    "edit:",
    "staff-lang:",
    "flowadm:publish",
    "flowadm:on:forced-labour:v3",
    "flowadm:delete:forced-labour",
    "opt:what:wáges",
    "opt:what:wages\n",
    "x" * 65,
    "flow:" + "f" * 60,
    "\x00",
]
ALL_BUTTONS = {**OLD_REPORTER_BUTTONS, **STAFF_BUTTONS, **ADMIN_BUTTONS}


@pytest.mark.parametrize("data", ALL_BUTTONS)
def test_buttons_already_sent_read_back_as_before(data):
    kind, args = ALL_BUTTONS[data]
    assert callbacks.decode(data) == callbacks.Callback(kind, args)
    assert callbacks.decode(data).data == data


def test_builders_write_the_formats_phones_already_show():
    clearing = "0123456789abcdef0123456789abcdef"
    built = [
        callbacks.language("uz_Cyrl"),
        callbacks.BEGIN,
        CHECK,
        ERASE,
        callbacks.flow("wages-2026"),
        callbacks.IDENTIFIER_REMOVE,
        callbacks.IDENTIFIER_KEEP,
        callbacks.receipt_done(),
        callbacks.receipt_done(clearing),
        ANSWER,
        DONE,
        actions.option("what", "wages"),
        actions.option("danger_now", "yes"),
        actions.country("region", "UZ"),
        actions.country("region", OTHER_COUNTRY),
        actions.region("region", "KZ-10"),
        actions.nav("people", "skip"),
        actions.nav("region", "countries"),
        actions.CONFIRM,
        actions.REVIEW,
        actions.edit("what"),
        callbacks.staff_language("kk"),
        callbacks.flow_preview("1a2b3c4d", "uz_Cyrl"),
        callbacks.flow_publish("1a2b3c4d"),
        callbacks.flow_discard("1a2b3c4d"),
        callbacks.flow_default("forced-labour"),
        callbacks.flow_retire("forced-labour"),
        callbacks.flow_activate("forced-labour", 3),
    ]
    assert built == list(ALL_BUTTONS)


@pytest.mark.parametrize("move", ["back", "skip", "done", "next", "countries", "full", "finish", "unsure"])
def test_any_word_is_a_move_and_reads_back(move):
    assert callbacks.decode(actions.nav("people", move)) == callbacks.Callback(callbacks.NAV, ("people", move))


@pytest.mark.parametrize("action", ["confirm", "edit", "cancel", "show", "more"])
def test_review_actions_read_back(action):
    assert callbacks.decode(callbacks.review(action)) == callbacks.Callback(callbacks.REVIEW, (action,))
    assert callbacks.REPORTER.match(callbacks.review(action))


@pytest.mark.parametrize("data", GARBAGE)
def test_data_no_button_carries_reads_as_nothing(data):
    assert callbacks.decode(data) is None
    assert callbacks.unknown(data)


def test_only_strings_are_button_data():
    assert callbacks.decode(None) is None and callbacks.decode(b"begin") is None and callbacks.unknown(None)


def test_each_button_is_routed_to_exactly_one_handler():
    routes = {
        "reporter": callbacks.REPORTER.match,
        "staff": callbacks.STAFF.match,
        "admin": callbacks.ADMIN.match,
        "unknown": callbacks.unknown,
    }
    expected = {
        **dict.fromkeys(OLD_REPORTER_BUTTONS, "reporter"),
        **dict.fromkeys(STAFF_BUTTONS, "staff"),
        **dict.fromkeys(ADMIN_BUTTONS, "admin"),
        **dict.fromkeys(GARBAGE, "unknown"),
    }
    for data, route in expected.items():
        assert [name for name, matches in routes.items() if matches(data)] == [route], data


def test_the_longest_ids_a_flow_may_have_fit_into_64_bytes():
    question, option, flow_id = "q" * 24, "o" * 24, "f" * 40
    longest = [
        actions.option(question, option),
        actions.country(question, OTHER_COUNTRY),
        actions.region(question, "UZ-QR"),
        actions.nav(question, "countries"),
        actions.edit(question),
        callbacks.flow(flow_id),
        callbacks.receipt_done(random_id()),
        callbacks.flow_default(flow_id),
        callbacks.flow_activate(flow_id, 99_999),
        callbacks.flow_preview("f" * 8, "uz_Cyrl"),
    ]
    for data in longest:
        assert len(data.encode()) <= callbacks.MAX_BYTES and callbacks.decode(data) is not None, data


def test_the_loader_refuses_ids_that_would_not_fit_instead_of_failing():
    raw = flow_to_raw(load_default_flows()[0])
    raw["questions"][-1]["id"] = "q" * 40
    with pytest.raises(FlowError):
        parse_flow(raw, source="long.yaml")


@pytest.mark.parametrize(
    "build",
    [
        lambda: callbacks.flow("f" * 60),
        lambda: callbacks.flow_activate("f" * 40, 10**12),
        lambda: callbacks.receipt_done("r" * 60),
        lambda: callbacks.language("en:ru"),
        lambda: callbacks.flow(""),
        lambda: callbacks.review("Confirm"),
        lambda: callbacks.encode("nonsense"),
        lambda: callbacks.encode(callbacks.FLOW_ADMIN, "delete", "forced-labour"),
    ],
)
def test_data_that_would_not_fit_or_read_back_is_refused(build):
    with pytest.raises(ValueError):
        build()


def screens_of_the_default_flow(lang: str):
    """Every screen the engine shows for the default flow: each question (a region question on its country
    list, on each country and abroad), the review and the edit menu."""
    flow = load_default_flows()[0]
    for question in flow.questions:
        pendings = [None]
        if question.type is QuestionType.REGION:
            pendings += [{"country": code} for code in (*question.countries, OTHER_COUNTRY)]
        for pending in pendings:
            yield render_step(flow, Ask(question, pending, can_back=True, can_skip=True), lang)
    answered = tuple((question, None) for question in flow.questions if question.asks)
    yield render_step(flow, Review(answered), lang)
    yield render_step(flow, EditMenu(tuple(question for question, _ in answered)), lang)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_button_a_reporter_sees_is_a_reporters_button(lang):
    screens = [*screens_of_the_default_flow(lang), report_screen("new", [], lang), answer_prompt(lang)]
    data = [button.action for screen in screens for row in screen.buttons for button in row]
    assert len(data) > 100
    for action in data:
        assert callbacks.REPORTER.match(action) and len(action.encode()) <= callbacks.MAX_BYTES, action
