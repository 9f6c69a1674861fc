"""The quick report in the engine: only the quick questions, then the review; more questions on request, each
one optional with a way out; the whole questionnaire instead; files sent with the description; the story typed
on the first screen of buttons. Screens are checked as the reporter sees them, through render."""

from __future__ import annotations

import copy
from datetime import date

import pytest

from bot.flows import engine
from bot.flows.engine import Ask, File, Press, Review, Submitted, Text, actions
from bot.flows.loader import load_default_flows, parse_flow
from bot.render import render_step

TODAY = date(2026, 11, 27)
T = {"en": "t", "ru": "т"}
STORY = "Teachers were sent to the fields."


def options(*ids: str) -> list[dict]:
    return [{"id": option, "text": {"en": option, "ru": option}} for option in ids]


QUESTIONS = [
    {"id": "kind", "type": "choice", "text": T, "options": options("cotton", "silk")},
    {"id": "what", "type": "multi", "text": T, "options": options("quota", "wages")},
    {"id": "story", "type": "text", "text": T, "max_length": 50, "quick": True},
    {"id": "now", "type": "yesno", "text": T, "quick": True},
    {"id": "hurt", "type": "yesno", "text": T, "quick": True, "when": {"question": "now", "equals": "yes"}},
    {"id": "where", "type": "region", "text": T},
    {"id": "photos", "type": "attachments", "text": T, "required": False, "max_files": 2},
    {"id": "danger", "type": "yesno", "text": T, "urgent_if": ["yes"]},
]
RAW = {"id": "quick", "version": 1, "languages": ["en", "ru"], "title": T, "questions": QUESTIONS}
FLOW = parse_flow(RAW, source="quick.yaml")
PLAIN = parse_flow(
    {**RAW, "questions": [{k: v for k, v in q.items() if k != "quick"} for q in QUESTIONS]}, source="plain.yaml"
)


def run(flow, draft, *inputs):
    outcome = None
    for received in inputs:
        outcome = engine.step(flow, draft, received, TODAY)
        draft = outcome.draft
    return outcome


def nav(question: str, move: str) -> Press:
    return Press(actions.nav(question, move))


def opt(question: str, option: str) -> Press:
    return Press(actions.option(question, option))


def asked(outcome) -> str:
    assert isinstance(outcome.step, Ask), outcome.step
    return outcome.step.question.id


def buttons(flow, step, lang="en") -> dict[str, str]:
    """Every button on the screen: action to label."""
    return {button.action: button.label for row in render_step(flow, step, lang).buttons for button in row}


@pytest.fixture
def quick():
    return engine.start(FLOW, quick=True)


def quick_review(outcome):
    return run(FLOW, outcome.draft, Text(STORY), opt("now", "no"))


# ---- the quick report -------------------------------------------------------------------------------------------


def test_a_quick_start_asks_only_the_quick_questions_then_the_review(quick):
    assert quick.draft.scope == engine.QUICK and asked(quick) == "story"
    outcome = run(FLOW, quick.draft, Text(STORY))
    assert asked(outcome) == "now" and outcome.step.can_back
    outcome = run(FLOW, outcome.draft, opt("now", "yes"))
    assert asked(outcome) == "hurt"  # a quick question's when is respected
    outcome = run(FLOW, outcome.draft, opt("hurt", "no"))
    assert isinstance(outcome.step, Review) and outcome.step.more
    assert [question.id for question, _ in outcome.step.items] == ["story", "now", "hurt"]
    submitted = run(FLOW, outcome.draft, Press(actions.CONFIRM)).step
    assert isinstance(submitted, Submitted)
    assert submitted.answers == {"story": STORY, "now": "yes", "hurt": "no"}  # required details left unanswered


def test_the_review_of_a_quick_report_offers_more_questions_without_pressure(quick):
    review = quick_review(quick).step
    screen = render_step(FLOW, review, "en")
    assert buttons(FLOW, review)[actions.MORE] == "➕ Answer more questions"
    assert [button.action for button in screen.buttons[0]] == [actions.CONFIRM]  # sending stays the first button
    assert "You can send the report as it is." in screen.text and "each one can be skipped" in screen.text


def test_more_questions_are_all_skippable_and_each_screen_leads_to_the_review(quick):
    outcome = run(FLOW, quick_review(quick).draft, Press(actions.MORE))
    assert outcome.draft.scope == engine.MORE and asked(outcome) == "kind"
    assert outcome.step.can_skip and outcome.step.can_finish  # kind is required, but the report is complete
    shown = buttons(FLOW, outcome.step)
    assert shown[actions.nav("kind", "skip")] and shown[actions.nav("kind", "finish")] == "✅ Finish and review"
    outcome = run(FLOW, outcome.draft, nav("kind", "skip"), opt("what", "wages"))
    assert asked(outcome) == "what" and outcome.draft.answers["kind"] is None
    outcome = run(FLOW, outcome.draft, nav("what", "finish"))  # the ticks on the screen are kept
    assert isinstance(outcome.step, Review) and outcome.step.more and outcome.draft.answers["what"] == ["wages"]
    outcome = run(FLOW, outcome.draft, Press(actions.MORE))
    assert asked(outcome) == "where"  # on from where the reporter stopped
    outcome = run(FLOW, outcome.draft, nav("where", "skip"), nav("photos", "skip"), opt("danger", "yes"))
    assert isinstance(outcome.step, Review) and not outcome.step.more  # nothing left
    assert actions.MORE not in buttons(FLOW, outcome.step)
    assert run(FLOW, outcome.draft, Press(actions.MORE)).problem.code == "stale"
    submitted = run(FLOW, outcome.draft, Press(actions.CONFIRM)).step
    assert submitted.urgent and submitted.answers["story"] == STORY and submitted.answers["what"] == ["wages"]


def test_an_edit_after_finishing_returns_to_the_review(quick):
    outcome = run(FLOW, quick_review(quick).draft, Press(actions.MORE), opt("kind", "silk"), nav("what", "finish"))
    outcome = run(FLOW, outcome.draft, Press(actions.EDIT), Press(actions.edit("kind")), opt("kind", "cotton"))
    assert isinstance(outcome.step, Review) and outcome.step.more and outcome.draft.answers["kind"] == "cotton"


def test_the_first_quick_screen_offers_the_whole_questionnaire(quick):
    assert quick.step.offers_full
    assert buttons(FLOW, quick.step)[actions.nav("story", "full")] == "📋 Answer step by step instead"
    outcome = run(FLOW, quick.draft, Text(STORY))
    assert not outcome.step.offers_full and actions.nav("now", "full") not in buttons(FLOW, outcome.step)
    assert run(FLOW, outcome.draft, nav("now", "full")).problem.code == "stale"
    outcome = run(FLOW, outcome.draft, nav("now", "back"))
    assert asked(outcome) == "story" and outcome.step.offers_full
    outcome = run(FLOW, outcome.draft, nav("story", "full"))
    assert outcome.draft.scope == engine.FULL and asked(outcome) == "kind" and outcome.event == "moved"
    assert not outcome.step.can_skip and not outcome.step.can_finish  # the whole questionnaire, as ever
    outcome = run(FLOW, outcome.draft, opt("kind", "silk"), opt("what", "quota"), nav("what", "done"))
    assert asked(outcome) == "now"  # the story stays answered and is not asked again
    assert outcome.draft.answers["story"] == STORY


# ---- files where people send them -------------------------------------------------------------------------------


def test_a_file_sent_with_the_description_goes_to_the_attachments_question(quick):
    assert engine.accepts_file(FLOW, quick.draft)
    outcome = run(FLOW, quick.draft, File("ref1", "image"))
    assert outcome.event == "file_added" and outcome.filed_under == "photos" and outcome.problem is None
    assert asked(outcome) == "story" and engine.attached_files(FLOW, outcome.draft) == 1
    outcome = run(FLOW, outcome.draft, File("ref2", "document"))
    assert outcome.draft.answers["photos"] == [{"ref": "ref1", "kind": "image"}, {"ref": "ref2", "kind": "document"}]
    assert not engine.accepts_file(FLOW, outcome.draft)  # max_files of the attachments question
    refused = run(FLOW, outcome.draft, File("ref3", "image"))
    assert refused.problem.code == "files_full" and refused.problem.params == {"limit": 2}
    assert len(refused.draft.answers["photos"]) == 2
    outcome = run(FLOW, outcome.draft, Text(STORY))
    assert not engine.accepts_file(FLOW, outcome.draft)  # a yesno screen takes no file
    assert run(FLOW, outcome.draft, File("ref3", "image")).problem.code == "file_not_expected"
    review = run(FLOW, outcome.draft, opt("now", "no")).step
    assert [question.id for question, _ in review.items] == ["story", "now", "photos"]
    assert "files attached: 2" in render_step(FLOW, review, "en").text
    assert len(run(FLOW, outcome.draft, opt("now", "no"), Press(actions.CONFIRM)).step.answers["photos"]) == 2


def test_a_text_question_that_is_not_quick_still_refuses_files():
    draft = engine.start(PLAIN).draft
    draft = run(PLAIN, draft, opt("kind", "silk"), opt("what", "quota"), nav("what", "done")).draft
    assert not engine.accepts_file(PLAIN, draft) and engine.attached_files(PLAIN, draft) == 0
    assert run(PLAIN, draft, File("ref", "image")).problem.code == "file_not_expected"


def test_files_sent_earlier_wait_on_the_attachments_question_where_done_replaces_skip(quick):
    outcome = quick_review(run(FLOW, quick.draft, File("ref1", "image")))
    outcome = run(FLOW, outcome.draft, Press(actions.MORE), nav("kind", "skip"), nav("what", "skip"))
    outcome = run(FLOW, outcome.draft, nav("where", "skip"))
    assert asked(outcome) == "photos" and outcome.step.pending == [{"ref": "ref1", "kind": "image"}]
    shown = buttons(FLOW, outcome.step)
    assert actions.nav("photos", "done") in shown and actions.nav("photos", "skip") not in shown
    assert "Files received: 1" in render_step(FLOW, outcome.step, "en").text


def test_skip_shows_until_the_first_file_and_a_stale_skip_keeps_the_files():
    draft = engine.start(PLAIN).draft
    draft = run(
        PLAIN, draft, opt("kind", "silk"), opt("what", "quota"), nav("what", "done"), Text(STORY), opt("now", "no")
    ).draft
    outcome = run(PLAIN, draft, Press(actions.country("where", "UZ")), Press(actions.region("where", "UZ-AN")))
    assert asked(outcome) == "photos" and actions.nav("photos", "skip") in buttons(PLAIN, outcome.step)
    outcome = run(PLAIN, outcome.draft, File("ref1", "image"))
    assert not outcome.step.can_skip and actions.nav("photos", "skip") not in buttons(PLAIN, outcome.step)
    outcome = run(PLAIN, outcome.draft, nav("photos", "skip"))  # pressed on the screen from before the file
    assert asked(outcome) == "danger" and outcome.draft.answers["photos"] == [{"ref": "ref1", "kind": "image"}]


# ---- the story typed on buttons ---------------------------------------------------------------------------------


def test_text_on_the_first_screen_of_buttons_becomes_the_description():
    start = engine.start(FLOW)
    assert start.draft.scope == engine.FULL and asked(start) == "kind"
    for attempt in ("2", "да", "Здравствуйте!"):  # a number or a word meant as an answer, a greeting
        short = run(FLOW, start.draft, Text(attempt))
        assert short.problem.code == "use_buttons" and short.draft.answers == {}
    too_long = run(FLOW, start.draft, Text("x" * 51))
    assert too_long.problem.code == "text_too_long" and "story" not in too_long.draft.answers
    outcome = run(FLOW, start.draft, Text(f"  {STORY} "))
    assert outcome.event == "described" and outcome.filed_under == "story" and outcome.problem is None
    assert asked(outcome) == "kind" and outcome.draft.answers == {"story": STORY}
    refused = run(FLOW, outcome.draft, Text("and one more thing"))
    assert refused.problem.code == "use_buttons" and refused.draft.answers == {"story": STORY}
    outcome = run(FLOW, outcome.draft, opt("kind", "silk"), opt("what", "quota"), nav("what", "done"))
    assert asked(outcome) == "now"  # the story is not asked again
    outcome = run(FLOW, outcome.draft, opt("now", "no"), Press(actions.country("where", "KZ")))
    outcome = run(FLOW, outcome.draft, Press(actions.region("where", "KZ-75")))
    review = run(FLOW, outcome.draft, nav("photos", "skip"), opt("danger", "no"))
    assert ("story" in [question.id for question, _ in review.step.items]) and not review.step.more
    edited = run(FLOW, review.draft, Press(actions.EDIT), Press(actions.edit("story")), Text("Another story."))
    assert isinstance(edited.step, Review) and edited.draft.answers["story"] == "Another story."


def test_text_on_a_later_screen_of_buttons_is_refused():
    outcome = run(FLOW, engine.start(FLOW).draft, opt("kind", "silk"))
    refused = run(FLOW, outcome.draft, Text(STORY))
    assert refused.problem.code == "use_buttons" and "story" not in refused.draft.answers


def test_a_flow_without_quick_questions_takes_the_first_required_text_question():
    outcome = run(PLAIN, engine.start(PLAIN).draft, Text(STORY))
    assert outcome.event == "described" and outcome.filed_under == "story"


# ---- flows without a quick report -------------------------------------------------------------------------------


def test_a_flow_without_quick_questions_asks_everything_as_before():
    outcome = engine.start(PLAIN, quick=True)
    assert outcome.draft.scope == engine.FULL and asked(outcome) == "kind"
    assert not outcome.step.offers_full and not outcome.step.can_finish and not outcome.step.can_skip
    shown = buttons(PLAIN, outcome.step)
    assert not any(action.endswith((":full", ":finish")) for action in shown)
    draft = run(
        PLAIN,
        outcome.draft,
        opt("kind", "silk"),
        opt("what", "quota"),
        nav("what", "done"),
        Text(STORY),
        opt("now", "no"),
        Press(actions.country("where", "UZ")),
        Press(actions.region("where", "UZ-AN")),
        nav("photos", "skip"),
    ).draft
    review = run(PLAIN, draft, opt("danger", "no")).step
    assert isinstance(review, Review) and not review.more and actions.MORE not in buttons(PLAIN, review)


# ---- the draft on disk ------------------------------------------------------------------------------------------


def test_the_scope_survives_a_json_round_trip_and_old_drafts_are_full(quick):
    draft = run(FLOW, quick.draft, Text(STORY)).draft
    restored = engine.Draft.from_json(draft.to_json())
    assert restored == draft and restored.scope == engine.QUICK
    assert isinstance(run(FLOW, restored, opt("now", "no")).step, Review)
    old = {key: value for key, value in engine.start(FLOW).draft.to_json().items() if key != "scope"}
    assert engine.Draft.from_json(old).scope == engine.FULL


# ---- the default flow -------------------------------------------------------------------------------------------


def test_the_default_quick_report_is_the_description_then_the_region():
    [flow] = load_default_flows()
    outcome = engine.start(flow, quick=True)
    assert asked(outcome) == "description" and outcome.step.offers_full
    assert engine.accepts_file(flow, outcome.draft)
    outcome = run(flow, outcome.draft, File("ref", "image"), Text("Учителей отправили на хлопок."))
    assert asked(outcome) == "region"
    outcome = run(flow, outcome.draft, Press(actions.country("region", "UZ")), Press(actions.region("region", "UZ-AN")))
    assert isinstance(outcome.step, Review) and outcome.step.more
    assert [question.id for question, _ in outcome.step.items] == ["description", "region", "evidence"]
    outcome = run(flow, outcome.draft, Press(actions.MORE))
    assert asked(outcome) == "what" and outcome.step.can_skip  # the full questionnaire's first question


def test_the_default_files_question_says_optional_only_through_the_bot():
    [flow] = load_default_flows()
    words = ("optional", "необязательно", "ixtiyoriy", "міндетті емес", "hökmany däl", "ихтиёрий")
    texts = flow.question("evidence").text
    assert not [text for text in texts.values() if any(word in text.lower() for word in words)]
    assert flow.question("evidence_note") is None


def test_a_story_written_in_several_messages_is_one_description():
    [flow] = load_default_flows()
    quick = engine.start(flow, quick=True)
    first = run(flow, quick.draft, Text("Всех учителей школы отправили на хлопок."))
    assert asked(first) == "region"
    more = run(flow, first.draft, Text("Директор сказал, что кто не поедет, будет уволен."))
    assert more.event == "described" and more.filed_under == "description" and asked(more) == "region"
    assert more.draft.answers["description"] == (
        "Всех учителей школы отправили на хлопок.\nДиректор сказал, что кто не поедет, будет уволен."
    )
    short = run(flow, more.draft, Text("и всё"))  # too short to be more of the story: an attempt to answer
    assert short.problem.code == "use_buttons"
    placed = run(flow, more.draft, Press(actions.country("region", "UZ")), Press(actions.region("region", "UZ-AN")))
    later = run(flow, placed.draft, Press(actions.MORE), Text("A story goes on, much later, on another screen."))
    assert later.problem.code == "use_buttons"  # only right after the description


def test_a_place_typed_on_the_region_screen_answers_it():
    [flow] = load_default_flows()
    asked_where = run(flow, engine.start(flow, quick=True).draft, Text("Всех учителей школы отправили на хлопок."))

    def fresh():  # the engine changes the draft it is given: each attempt starts from the region screen
        return engine.Draft.from_json(copy.deepcopy(asked_where.draft.to_json()))

    placed = run(flow, fresh(), Text("в Андижане"))
    assert placed.event == "answered" and placed.draft.answers["region"] == {"country": "UZ", "region": "UZ-AN"}
    country = run(flow, fresh(), Text("Казахстан"))
    assert country.event == "updated" and country.draft.pending == {"country": "KZ"}
    elsewhere = run(flow, country.draft, Text("Самарканд"))  # not a region of the country chosen
    assert elsewhere.problem.code == "use_buttons" and elsewhere.draft.pending == {"country": "KZ"}
    region = run(flow, country.draft, Text("Қарағанды"))
    assert region.draft.answers["region"] == {"country": "KZ", "region": "KZ-35"}
    unsure = run(flow, fresh(), Text("Ташкент"))  # the city or the region around it: the buttons decide
    assert unsure.problem.code == "use_buttons" and "region" not in unsure.draft.answers
    story = run(flow, fresh(), Text("Это было в Андижане, на полях возле кишлака"))  # a sentence, not a place
    assert story.event == "described" and "region" not in story.draft.answers
