"""The questionnaire engine on a small flow with every question type."""

from datetime import date

import pytest

from bot.flows import engine
from bot.flows.engine import (
    Ask,
    Cancelled,
    EditMenu,
    File,
    Press,
    Review,
    Submitted,
    Text,
    Unsupported,
    actions,
)
from bot.flows.loader import parse_flow

TODAY = date(2026, 11, 27)
T = {"en": "t", "ru": "т"}

FLOW = parse_flow(
    {
        "id": "test",
        "version": 3,
        "languages": ["en", "ru"],
        "title": T,
        "questions": [
            {
                "id": "kind",
                "type": "choice",
                "text": T,
                "options": [
                    {"id": "cotton", "text": {"en": "cotton", "ru": "cotton"}},
                    {"id": "silk", "text": {"en": "silk", "ru": "silk"}},
                ],
            },
            {
                "id": "what",
                "type": "multi",
                "text": T,
                "options": [
                    {"id": "quota", "text": {"en": "quota", "ru": "quota"}},
                    {"id": "wages", "text": {"en": "wages", "ru": "wages"}},
                    {"id": "threats", "text": {"en": "threats", "ru": "threats"}},
                ],
            },
            {
                "id": "quota_kg",
                "type": "number",
                "text": T,
                "required": False,
                "min": 1,
                "max": 500,
                "when": {"question": "what", "includes": "quota"},
            },
            {"id": "children", "type": "yesno", "text": T},
            {
                "id": "ages",
                "type": "choice",
                "text": T,
                "when": {"question": "children", "equals": True},
                "options": [
                    {"id": "under_12", "text": {"en": "under_12", "ru": "under_12"}},
                    {"id": "older", "text": {"en": "older", "ru": "older"}},
                ],
                "urgent_if": ["under_12"],
            },
            {"id": "where", "type": "region", "text": T},
            {"id": "period", "type": "date", "text": T},
            {"id": "note", "type": "info", "text": T},
            {"id": "story", "type": "text", "text": T, "max_length": 50},
            {"id": "photos", "type": "attachments", "text": T, "required": False, "max_files": 2},
        ],
    },
    source="test.yaml",
)


def run(draft, *inputs):
    outcome = None
    for received in inputs:
        outcome = engine.step(FLOW, draft, received, TODAY)
        draft = outcome.draft
    return outcome


def current(outcome) -> str:
    assert isinstance(outcome.step, Ask), outcome.step
    return outcome.step.question.id


def opt(question, option):
    return Press(actions.option(question, option))


def nav(question, move):
    return Press(actions.nav(question, move))


def to_review(draft, children="no"):
    return run(
        draft,
        opt("kind", "cotton"),
        opt("what", "wages"),
        nav("what", "done"),
        opt("children", children),
        *([opt("ages", "under_12")] if children == "yes" else []),
        Press(actions.country("where", "UZ")),
        Press(actions.region("where", "UZ-AN")),
        Text("01.09.2026 - 20.10.2026"),
        nav("note", "next"),
        Text("Teachers were sent to the fields."),
        nav("photos", "skip"),
    )


@pytest.fixture
def draft():
    return engine.start(FLOW).draft


def test_first_question_has_no_back_and_later_ones_do(draft):
    first = engine.start(FLOW).step
    assert first.question.id == "kind" and not first.can_back
    second = run(draft, opt("kind", "silk")).step
    assert second.question.id == "what" and second.can_back


def test_choice_takes_a_button_and_refuses_text(draft):
    outcome = run(draft, Text("Teachers were sent to the fields."))  # the first screen: taken as the story
    assert outcome.event == "described" and outcome.draft.answers == {"story": "Teachers were sent to the fields."}
    outcome = run(draft, Text("cotton"))
    assert outcome.problem.code == "use_buttons" and current(outcome) == "kind"
    outcome = run(draft, opt("kind", "cotton"))
    assert outcome.problem is None and outcome.draft.answers["kind"] == "cotton"


def test_multi_toggles_then_done_and_requires_one(draft):
    run(draft, opt("kind", "cotton"))
    outcome = run(draft, nav("what", "done"))
    assert outcome.problem.code == "choose_at_least_one"
    outcome = run(draft, opt("what", "threats"), opt("what", "wages"), opt("what", "threats"))
    assert outcome.event == "updated" and outcome.step.pending == ["wages"]
    outcome = run(draft, opt("what", "quota"), nav("what", "done"))
    assert outcome.draft.answers["what"] == ["quota", "wages"]  # in option order
    assert current(outcome) == "quota_kg"


def test_when_branch_on_multi_and_number_limits(draft):
    run(draft, opt("kind", "cotton"), opt("what", "quota"), nav("what", "done"))
    assert run(draft, Text("many")).problem.code == "not_a_number"
    small = run(draft, Text("0"))
    assert small.problem.code == "number_too_small" and small.problem.params == {"limit": 1}
    assert run(draft, Text("600")).problem.params == {"limit": 500}
    assert run(draft, Text("1 20")).problem.code == "not_a_number"  # a space groups thousands only: "1 500"
    outcome = run(draft, Text("120 кг"))
    assert outcome.draft.answers["quota_kg"] == 120 and current(outcome) == "children"


def test_optional_question_can_be_skipped(draft):
    outcome = run(draft, opt("kind", "cotton"), opt("what", "quota"), nav("what", "done"))
    assert outcome.step.can_skip
    outcome = run(draft, nav("quota_kg", "skip"))
    assert outcome.draft.answers["quota_kg"] is None and current(outcome) == "children"


def test_required_question_cannot_be_skipped(draft):
    assert not engine.start(FLOW).step.can_skip
    outcome = run(draft, nav("kind", "skip"))
    assert outcome.problem.code == "stale" and current(outcome) == "kind"


def test_branch_not_taken_is_not_asked(draft):
    outcome = run(draft, opt("kind", "cotton"), opt("what", "wages"), nav("what", "done"))
    assert current(outcome) == "children"
    assert current(run(draft, opt("children", "no"))) == "where"


def test_yesno_branch_and_urgency(draft):
    outcome = to_review(draft, children="yes")
    assert isinstance(outcome.step, Review)
    assert [q.id for q, _ in outcome.step.items] == [
        "kind",
        "what",
        "children",
        "ages",
        "where",
        "period",
        "story",
        "photos",
    ]
    submitted = run(outcome.draft, Press(actions.CONFIRM)).step
    assert isinstance(submitted, Submitted) and submitted.urgent
    assert submitted.answers["ages"] == "under_12"


def test_region_country_then_region_and_back_to_countries(draft):
    run(draft, opt("kind", "cotton"), opt("what", "wages"), nav("what", "done"), opt("children", "no"))
    outcome = run(draft, Press(actions.country("where", "KZ")))
    assert outcome.event == "updated" and outcome.step.pending == {"country": "KZ"}
    assert run(draft, Press(actions.region("where", "UZ-AN"))).problem.code == "stale"  # not a Kazakh region
    outcome = run(draft, nav("where", "countries"), Press(actions.country("where", "TM")))
    outcome = run(outcome.draft, Press(actions.region("where", "TM-L")))
    assert outcome.draft.answers["where"] == {"country": "TM", "region": "TM-L"}


def test_region_another_country_takes_text(draft):
    run(draft, opt("kind", "cotton"), opt("what", "wages"), nav("what", "done"), opt("children", "no"))
    assert run(draft, Text("Russia")).problem.code == "use_buttons"
    outcome = run(draft, Press(actions.country("where", "other")), Text("Russia, Tula"))
    assert outcome.draft.answers["where"] == {"country": "other", "place": "Russia, Tula"}


def test_dates_single_period_and_errors(draft):
    run(
        draft,
        opt("kind", "cotton"),
        opt("what", "wages"),
        nav("what", "done"),
        opt("children", "no"),
        Press(actions.country("where", "UZ")),
        Press(actions.region("where", "UZ-QR")),
    )
    assert run(draft, Text("next week")).problem.code == "date_format"
    assert run(draft, Text("01.01.2027")).problem.code == "date_future"
    assert run(draft, Text("20.10.2026 - 01.09.2026")).problem.code == "date_order"
    outcome = run(draft, Text("today"))
    assert outcome.draft.answers["period"] == {"start": "2026-11-27", "end": "2026-11-27", "words": "today"}
    assert current(outcome) == "note"


def test_info_continue_and_text_limits(draft):
    outcome = to_review(draft)
    draft = outcome.draft
    run(draft, Press(actions.EDIT), Press(actions.edit("story")))
    assert run(draft, Text("x" * 51)).problem.params == {"limit": 50, "length": 51}
    assert run(draft, Text("   ")).problem.code == "text_empty"


def test_attachments_collect_until_done_with_a_limit(draft):
    outcome = to_review(draft)
    draft = run(outcome.draft, Press(actions.EDIT), Press(actions.edit("photos"))).draft
    assert engine.accepts_file(FLOW, draft)
    assert run(draft, Text("here")).problem.code == "expects_file"
    assert run(draft, Unsupported("sticker")).problem.code == "expects_file"
    outcome = run(draft, File("ref1", "image"), File("ref2", "image"))
    assert outcome.event == "file_added" and not engine.accepts_file(FLOW, outcome.draft)
    assert run(draft, File("ref3", "image")).problem.code == "too_many_files"
    outcome = run(draft, nav("photos", "done"))
    assert isinstance(outcome.step, Review)
    assert outcome.draft.answers["photos"] == [
        {"ref": "ref1", "kind": "image"},
        {"ref": "ref2", "kind": "image"},
    ]


def test_file_or_sticker_on_a_text_question_is_refused(draft):
    assert run(draft, File("ref", "image")).problem.code == "file_not_expected"
    outcome = run(draft, Unsupported("sticker"))
    assert outcome.problem.code == "unsupported_input" and current(outcome) == "kind"


def test_back_returns_to_previous_answered_question_and_forward_again(draft):
    run(draft, opt("kind", "cotton"), opt("what", "wages"), nav("what", "done"))
    outcome = run(draft, nav("children", "back"))
    assert current(outcome) == "what" and outcome.step.pending == ["wages"] and outcome.event == "moved"
    outcome = run(draft, nav("what", "back"))
    assert current(outcome) == "kind" and not outcome.step.can_back
    outcome = run(draft, opt("kind", "silk"))
    assert current(outcome) == "children"  # what was answered already: continue where we were
    assert outcome.draft.answers["kind"] == "silk"


def test_old_buttons_are_recognised_as_stale(draft):
    run(draft, opt("kind", "cotton"))
    outcome = run(draft, opt("kind", "silk"))
    assert outcome.problem.code == "stale" and outcome.draft.answers["kind"] == "cotton"


def test_edit_opening_a_branch_asks_it_before_review(draft):
    outcome = to_review(draft)
    outcome = run(outcome.draft, Press(actions.EDIT))
    assert isinstance(outcome.step, EditMenu)
    assert "ages" not in [q.id for q in outcome.step.questions]
    outcome = run(outcome.draft, Press(actions.edit("children")), opt("children", "yes"))
    assert current(outcome) == "ages"
    outcome = run(outcome.draft, opt("ages", "older"))
    assert isinstance(outcome.step, Review)
    outcome = run(outcome.draft, Press(actions.EDIT), Press(actions.edit("children")), opt("children", "no"))
    assert isinstance(outcome.step, Review)
    submitted = run(outcome.draft, Press(actions.CONFIRM)).step
    assert "ages" not in submitted.answers and not submitted.urgent


def test_edit_menu_back_to_review_and_cancel(draft):
    outcome = to_review(draft)
    outcome = run(outcome.draft, Press(actions.EDIT), Press(actions.REVIEW))
    assert isinstance(outcome.step, Review)
    assert run(outcome.draft, Text("send")).problem.code == "use_buttons"
    assert isinstance(run(outcome.draft, Press(actions.CANCEL)).step, Cancelled)


def test_draft_survives_json_round_trip(draft):
    outcome = run(draft, opt("kind", "cotton"), opt("what", "quota"))
    restored = engine.Draft.from_json(outcome.draft.to_json())
    outcome = run(restored, nav("what", "done"))
    assert current(outcome) == "quota_kg"


def test_actions_fit_telegram_callback_limit():
    longest = actions.region("x" * 24, "KZ-10")
    assert len(actions.option("x" * 24, "y" * 24).encode()) <= 64 and len(longest.encode()) <= 64
