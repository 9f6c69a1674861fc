"""End to end: reporters under Telegram faults and a failing step. Every one who pressed Send ends with their
receipt on screen; a step that fails gets an apology in the reporter's own language and the screen again."""

from __future__ import annotations

import asyncio
import copy

import pytest

from bot.flows import engine as engine_module
from bot.flows.engine import actions
from bot.i18n import gettext_for
from bot.screens import RECEIPT_DONE

from .fakebotapi import FakeUser
from .harness import RECEIPT, Reporter, asks, bot_settings, running_bot
from .test_e2e_quick import STORIES, is_review, place, start

REPORTERS = 20
FLAKY = ("sendMessage", "editMessageText", "answerCallbackQuery", "deleteMessages")


def receipt_on_screen(reporter: Reporter) -> str | None:
    """The receipt code still shown in the chat (not deleted), if any."""
    for message in reporter.api.remaining_messages(reporter.chat):
        found = RECEIPT.search(message.get("text") or "")
        if found and RECEIPT_DONE in str(message.get("reply_markup")):
            return found.group(0)
    return None


async def quick_report(reporter: Reporter, lang: str) -> None:
    await start(reporter, lang)
    await reporter.say(STORIES[lang], lambda m: asks(m, "region"))
    await place(reporter, is_review)
    await reporter.press_and_wait(actions.CONFIRM, lambda m: RECEIPT.search(m.text or ""))


async def test_with_a_fifth_of_telegram_calls_failing_every_sender_has_a_receipt_on_screen(api, make_settings):
    settings = bot_settings(make_settings, api)
    langs = ["ru", "uz", "kk", "en", "tk", "uz_Cyrl"]
    users = [FakeUser(id=7800000 + n, first_name=f"R{n}", language_code=langs[n % 6]) for n in range(REPORTERS)]
    reporters = [Reporter(api, user) for user in users]
    async with running_bot(settings) as runtime:
        api.chaos(0.2, FLAKY, seed=7)
        await asyncio.gather(*(quick_report(reporter, langs[n % 6]) for n, reporter in enumerate(reporters)))
        api.calm()
        tips = await runtime.repository.pending_tips()
        assert len(tips) == REPORTERS  # none lost, none twice
        codes = [receipt_on_screen(reporter) for reporter in reporters]
        missing = [api.dump_chat(reporter.chat) for reporter, code in zip(reporters, codes, strict=True) if not code]
        assert not missing, missing
        assert len(set(codes)) == REPORTERS
        failed = [call for method in FLAKY for call in api.calls_to(method) if not call.ok]
        assert len(failed) >= REPORTERS  # the faults really happened (every press waited above was answered)


@pytest.mark.parametrize("apart", [0.1, 0.5, 2.0])
async def test_a_second_tap_on_send_shows_the_same_receipt(api, make_settings, apart):
    settings = bot_settings(make_settings, api)
    reporter = Reporter(api, FakeUser(id=7800100, first_name="Twice", language_code="ru"))
    send = gettext_for("ru")("✅ Send the report")
    async with running_bot(settings) as runtime:
        await start(reporter, "ru")
        await reporter.say(STORIES["ru"], lambda m: asks(m, "region"))
        review = await place(reporter, is_review)
        as_seen = copy.deepcopy(review)  # the phone still shows the button when the second tap comes
        first = api.press(reporter.user, review, lambda text: text == send)
        await asyncio.sleep(apart)
        second = api.press(reporter.user, as_seen, lambda text: text == send)
        for press in (first, second):
            await api.wait_until(lambda press=press: api.callback_answer(press) is not None)
        assert await runtime.repository.count_tips() == 1
        code = receipt_on_screen(reporter)
        assert code is not None  # the chat was not wiped; the receipt is there
        shown = [RECEIPT.search(m.text or "").group(0) for m in reporter.messages() if RECEIPT.search(m.text or "")]
        assert set(shown) == {code}


async def test_a_failed_step_is_answered_in_the_reporters_language_with_the_question_again(
    api, make_settings, monkeypatch
):
    settings = bot_settings(make_settings, api)
    reporter = Reporter(api, FakeUser(id=7800200, first_name="Unlucky", language_code="en"))  # the phone: English
    kk = gettext_for("kk")
    real_step = engine_module.step
    failures = []

    def failing_once(*args, **kwargs):
        if not failures:
            failures.append(True)
            raise RuntimeError("a fault in one step")
        return real_step(*args, **kwargs)

    async with running_bot(settings) as runtime:
        await start(reporter, "kk")  # the reporter chose Kazakh
        monkeypatch.setattr(engine_module, "step", failing_once)
        after = api.mark(reporter.chat)
        await reporter.say(STORIES["kk"], lambda m: asks(m, "description"))
        apology, again = reporter.messages()[after:]
        assert apology.text == kk("Sorry, that did not work. What you answered before is kept; here is where you were:")
        assert asks(again, "description")  # the same question, to answer again
        await reporter.say(STORIES["kk"], lambda m: asks(m, "region"))
        draft = (await runtime.repository.load_draft(runtime.keys.chat_key(reporter.chat)))["draft"]
        assert draft["answers"]["description"] == STORIES["kk"]
