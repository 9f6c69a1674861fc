"""`tipbot try` completes a report in the terminal with piped input, as an admin without a token would; how
typed lines press buttons or answer."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pytest

from bot import callbacks
from bot.conversation import Reply, Upload
from bot.flows.engine import Ask, Press, Text
from bot.flows.loader import load_default_flows
from bot.flows.model import QuestionType
from bot.flows.regions import OTHER_COUNTRY
from bot.i18n import gettext_for
from bot.render import CHECKED, Button, Screen, render_step
from bot.terminal import HELP, TerminalSession

from .cli import tipbot
from .harness import photo_with_gps


def run_try(tmp_path: Path, lang: str, lines: list[str]) -> subprocess.CompletedProcess:
    return tipbot("try", "--lang", lang, cwd=tmp_path, stdin="\n".join(lines) + "\n")


def test_try_in_uzbek_completes_a_report(tmp_path):
    photo = tmp_path / "buyruq.jpg"
    photo.write_bytes(photo_with_gps())
    answers = [
        "1",  # Hisobot yuborishni boshlash (start)
        "#1",  # answer step by step instead (on the description screen a bare "1" would be the description)
        "1",
        "5",
        "16",  # what: harvest + wages, Tayyor
        "1",  # sector: teachers
        "1",  # work: cotton
        "bugun",  # period: today
        "35",  # people
        "2",  # children: no
        "1",  # ordered_by: hokimiyat
        "Hokimiyat buyrug‘i bilan o‘qituvchilar paxta terimiga chiqarildi.",
        "1",  # region: O‘zbekiston
        "1",  # first region in the list
        str(photo),  # evidence: a photo by path
        "2",  # Tayyor ([1] Back; Skip gave way to Done once the photo arrived)
        "2",  # danger now: no
        "1",  # send
    ]
    result = run_try(tmp_path, "uz", answers)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"\d{4} \d{4} \d{4} \d{4}", result.stdout)
    assert "Hokimiyat buyrug‘i bilan" in result.stdout  # shown on the review screen
    received = gettext_for("uz")("Files received: {count}. Send more or press “Done”.").format(count=1)
    assert received in result.stdout
    assert (tmp_path / "data" / "tipbot.db").exists()


def test_try_ends_cleanly_when_input_stops(tmp_path):
    result = run_try(tmp_path, "kk", ["1", "бірдеңе"])
    assert result.returncode == 1
    assert "Traceback" not in result.stderr


def test_run_without_token_explains_and_starts_the_terminal_questionnaire(tmp_path):
    result = tipbot("run", cwd=tmp_path)
    assert "TIPBOT_TOKEN is not set" in result.stderr and "@BotFather" in result.stderr
    assert "Выберите язык" in result.stdout and "Choose your language" in result.stdout
    assert "Traceback" not in result.stderr


def test_try_prints_how_to_press_and_answer(tmp_path):
    result = run_try(tmp_path, "ru", [])
    assert gettext_for("ru")(HELP) in result.stdout


# ---- typed lines: a button or an answer ----------------------------------------------------------------------


def on_screen(screen: Screen) -> TerminalSession:
    session = TerminalSession(None, io.StringIO())  # type: ignore[arg-type]  # only reads lines here
    session.show(Reply(messages=[screen]))
    return session


def question_screen(kind: QuestionType, pending=None) -> Screen:
    flow = load_default_flows()[0]
    question = next(q for q in flow.questions if q.type is kind)
    return render_step(flow, Ask(question, pending, can_back=True, can_skip=True), "en")


def buttons(screen: Screen) -> list:
    return [button for row in screen.buttons for button in row]


def test_on_a_number_question_a_number_is_the_answer_and_a_button_needs_its_number_sign():
    screen = question_screen(QuestionType.NUMBER)
    session = on_screen(screen)
    back, skip = buttons(screen)[:2]
    assert session.event_for("2\n") == Text("2") and session.event_for("35") == Text("35")
    assert session.event_for("#2") == Press(skip.action) and session.event_for("# 1") == Press(back.action)
    assert session.event_for("skip") == Press(skip.action)  # the button's words in full
    assert session.event_for("sk") == Text("sk")  # where answers are typed, a beginning is an answer


@pytest.mark.parametrize(
    "screen", [question_screen(QuestionType.DATE), question_screen(QuestionType.REGION, {"country": OTHER_COUNTRY})]
)
def test_dates_and_places_abroad_are_typed_too(screen):
    assert screen.typed and on_screen(screen).event_for("1") == Text("1")


def test_on_a_screen_of_buttons_numbers_and_words_press_them():
    screen = question_screen(QuestionType.CHOICE)
    session = on_screen(screen)
    choices = buttons(screen)
    assert not screen.typed
    assert session.event_for("2") == Press(choices[1].action) == session.event_for("#2")
    assert session.event_for(choices[2].label.upper()) == Press(choices[2].action)
    first_word = choices[0].label.split()[0]
    starting = [button for button in choices if button.label.casefold().startswith(first_word.casefold())]
    assert session.event_for(first_word) == (Press(choices[0].action) if len(starting) == 1 else Text(first_word))
    assert session.event_for("99") == Text("99") and session.event_for("#0") == Text("#0")


def test_marks_and_apostrophes_do_not_matter_in_a_buttons_words():
    choices = ((Button("✅ O‘qituvchilar", "opt:who:teachers"),), (Button("▫️ Shifokorlar", "opt:who:doctors"),))
    session = on_screen(Screen("?", choices))
    assert session.event_for("o'qituvchilar") == Press("opt:who:teachers") == session.event_for("Oʻqituvchilar")
    assert session.event_for("shif") == Press("opt:who:doctors")


@pytest.mark.parametrize(
    "line",
    [
        "я" * 5000,
        "photo-" + "x" * 300 + ".jpg",
        "/" + "x" * 300,
        "~" + "x" * 300,
        "~40 people",
        "a\x00b.jpg",
        "/nonexistent/dir/photo.jpg",
    ],
)
def test_any_line_is_an_answer_when_it_names_no_file(line):
    session = on_screen(question_screen(QuestionType.TEXT))
    event = session.event_for(line)
    assert isinstance(event, Text) or (line.startswith("/") and not isinstance(event, Upload))


def test_a_path_attaches_the_file(tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(photo_with_gps())
    event = on_screen(question_screen(QuestionType.ATTACHMENTS)).event_for(f"{photo}\n")
    assert isinstance(event, Upload) and event.size == photo.stat().st_size


# ---- a whole report typed in the terminal ---------------------------------------------------------------------


def next_line(session: TerminalSession, typed: dict[str, list[str]]) -> str:
    """What a person would type on the screen shown: a typed answer of theirs for this question, otherwise
    a button by its number ("#3"): the first choice, Skip or Done, and Send on the review (after answering
    the questions a quick report leaves open, if some typed answers are still to be given)."""
    actions = [button.action for button in session.buttons]
    pressed = [callbacks.decode(action) for action in actions]

    def press(action: str) -> str:
        return f"#{actions.index(action) + 1}"

    for wanted in (callbacks.BEGIN, callbacks.IDENTIFIER_KEEP):
        if wanted in actions:
            return press(wanted)
    if callbacks.review("confirm") in actions:
        more = callbacks.review("more")
        return press(more if more in actions and any(typed.values()) else callbacks.review("confirm"))
    question = next(p.args[0] for p in pressed if p and p.kind in (callbacks.OPTION, callbacks.REGION, callbacks.NAV))
    if typed.get(question):
        return typed[question].pop(0)
    moves = {p.args[1]: action for p, action in zip(pressed, actions, strict=True) if p and p.kind == callbacks.NAV}
    options = [button for p, button in zip(pressed, session.buttons, strict=True) if p and p.kind == callbacks.OPTION]
    chosen = any(button.label.startswith(CHECKED) for button in options)
    if "done" in moves and (chosen or not options):
        return press(moves["done"])
    for kind in (callbacks.OPTION, callbacks.COUNTRY, callbacks.REGION):
        first = next((action for p, action in zip(pressed, actions, strict=True) if p and p.kind == kind), None)
        if first is not None:
            return press(first)
    return press(moves.get("skip") or moves["next"])


async def report_in_the_terminal(runtime, typed: dict[str, list[str]]) -> tuple[dict, str]:
    output = io.StringIO()
    session = TerminalSession(runtime, output)
    await session.send(Press(callbacks.language("en")))
    for _step in range(200):
        reply = await session.send(session.event_for(next_line(session, typed) + "\n"))
        if reply.submitted:
            break
    else:
        raise AssertionError("no report was sent:\n" + output.getvalue()[-3000:])
    [tip] = await runtime.repository.list_tips(None)
    return (await runtime.repository.get_tip(tip.id)).answers, output.getvalue()


async def test_a_long_answer_is_explained_and_a_number_is_stored_as_a_number(runtime):
    """A line of any length is an answer (it once crashed `tipbot try` over 255 bytes and lost the report)."""
    limit = runtime.flows.active.question("description").max_length
    description = ("Учителей отправили на сбор хлопка. " * 200)[: limit - 1]  # thousands of bytes
    typed = {"description": ["я" * 5000, description], "people": ["2"], "period": ["today"]}
    answers, shown = await report_in_the_terminal(runtime, typed)
    assert answers["description"] == description.strip() and answers["people"] == 2
    _ = gettext_for("en")
    too_long = _("This text is too long ({length} characters). Please shorten it to {limit} characters.")
    assert too_long.format(length=5000, limit=limit) in shown
