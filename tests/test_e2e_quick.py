"""End to end: the quick report a reporter can finish in under a minute, in every language of the bot, with the
taps counted; then the detailed questions that improve the same report; files where people send them."""

from __future__ import annotations

import pytest

from bot.flows.engine import actions
from bot.i18n import LANGUAGES, gettext_for
from bot.screens import RECEIPT_DONE

from .fakebotapi import FakeUser
from .harness import RECEIPT, Reporter, asks, bot_settings, photo_with_gps, running_bot

TAP_BUDGET, TYPED_BUDGET = 5, 1
"""Issue 9: a complete quick report in at most 5 taps and 1 typed message after /start."""
STORIES = {
    "ru": "Всех учителей школы №5 отправили на хлопок, директор сказал: кто не поедет — уволят.",
    "uz": "5-maktabning barcha o‘qituvchilarini paxtaga jo‘natishdi, direktor bormaganlarni ishdan bo‘shatamiz dedi.",
    "kk": "№5 мектептің барлық мұғалімдерін мақтаға жіберді, директор бармағандарды жұмыстан шығарамыз деді.",
    "en": "All teachers of school 5 were sent to the cotton fields; the director said those who refuse will be fired.",
    "tk": "5-nji mekdebiň ähli mugallymlaryny pagta ýygnamaga iberdiler, direktor gitmedikleri işden kowarys diýdi.",
    "uz_Cyrl": "5-мактабнинг барча ўқитувчиларини пахтага жўнатишди, директор бормаганларни ишдан бўшатамиз деди.",
}


class CountingReporter(Reporter):
    """A reporter whose taps and typed messages are counted, as the issue's target counts them."""

    def __init__(self, api, user):
        super().__init__(api, user)
        self.taps = 0
        self.typed = 0

    async def press(self, action: str) -> None:
        self.taps += 1
        await super().press(action)

    async def say(self, text: str, predicate):
        self.typed += 1
        return await super().say(text, predicate)


async def start(reporter: Reporter, lang: str):
    """`/start`, the language, then "Start a report": the quick report's first screen."""
    reporter.api.send_command(reporter.user, "/start")
    await reporter.wait(lambda m: "lang:" in str(m.reply_markup))
    await reporter.press_and_wait(f"lang:{lang}", lambda m: "begin" in str(m.reply_markup))
    return await reporter.press_and_wait("begin", lambda m: asks(m, "description"))


async def place(reporter: Reporter, predicate):
    await reporter.press(actions.country("region", "UZ"))  # the same message now lists the regions
    return await reporter.press_and_wait(actions.region("region", "UZ-AN"), predicate)


def is_review(message) -> bool:
    return actions.CONFIRM in str(message.reply_markup)


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_a_quick_report_in_every_language_within_the_tap_budget(api, make_settings, lang):
    settings = bot_settings(make_settings, api)
    reporter = CountingReporter(api, FakeUser(id=7700001, first_name="Quick", language_code=lang))
    _ = gettext_for(lang)
    async with running_bot(settings) as runtime:
        first = await start(reporter, lang)
        assert actions.nav("description", "full") in str(first.reply_markup)  # the whole questionnaire instead
        await reporter.say(STORIES[lang], lambda m: asks(m, "region"))
        review = await place(reporter, is_review)
        assert STORIES[lang] in review.text
        assert actions.MORE in str(review.reply_markup)  # more questions are offered, not pressed on anyone
        receipt = await reporter.press_and_wait(actions.CONFIRM, lambda m: RECEIPT.search(m.text or ""))

        assert (reporter.taps, reporter.typed) <= (TAP_BUDGET, TYPED_BUDGET)
        assert reporter.taps == TAP_BUDGET and reporter.typed == TYPED_BUDGET
        assert _("Thank you. Your report has been received.") in receipt.text
        [tip] = await runtime.repository.pending_tips()
        assert tip.answers == {"description": STORIES[lang], "region": {"country": "UZ", "region": "UZ-AN"}}
        await reporter.press_and_wait(RECEIPT_DONE, lambda m: m.text == _("Chat cleared."))


async def test_a_quick_report_improved_with_some_detailed_answers(api, make_settings):
    settings = bot_settings(make_settings, api)
    reporter = Reporter(api, FakeUser(id=7700002, first_name="Details", language_code="ru"))
    _ = gettext_for("ru")
    async with running_bot(settings) as runtime:
        await start(reporter, "ru")
        await reporter.say(STORIES["ru"], lambda m: asks(m, "region"))
        review = await place(reporter, is_review)
        assert _(
            "You can send the report as it is. If you have a minute, a few more questions would make it more "
            "useful; each one can be skipped."
        ) in review.text
        what = await reporter.press_and_wait(actions.MORE, lambda m: asks(m, "what"))
        assert actions.nav("what", "skip") in str(what.reply_markup)  # every detail may be skipped
        assert _("(optional)") in what.text  # and says so, though the full questionnaire requires it
        assert actions.nav("what", "finish") in str(what.reply_markup)  # and the review is one tap away
        await reporter.press(actions.option("what", "harvest_mobilisation"))
        await reporter.press_and_wait(actions.nav("what", "done"), lambda m: asks(m, "sector"))
        await reporter.press_and_wait(actions.option("sector", "teachers"), lambda m: asks(m, "work"))
        await reporter.press_and_wait(actions.nav("work", "skip"), lambda m: asks(m, "period"))
        await reporter.say("с сентября", lambda m: asks(m, "people"))
        await reporter.say("около 40", lambda m: asks(m, "children"))
        review = await reporter.press_and_wait(actions.nav("children", "finish"), is_review)
        assert "01.09.2026 – " in review.text and "(с сентября)" in review.text and "≈ 40" in review.text
        assert actions.MORE in str(review.reply_markup)  # the rest is still there for later
        await reporter.press_and_wait(actions.CONFIRM, lambda m: RECEIPT.search(m.text or ""))

        [tip] = await runtime.repository.pending_tips()
        answers = tip.answers
        assert answers["description"] == STORIES["ru"] and answers["what"] == ["harvest_mobilisation"]
        assert answers["sector"] == "teachers" and answers["work"] is None
        assert answers["period"]["words"] == "с сентября" and answers["period"]["start"].endswith("-09-01")
        assert answers["people"] == {"min": 40, "max": 40, "approx": True, "words": "около 40"}
        assert "children" not in answers and "danger_now" not in answers


async def test_text_typed_on_the_first_question_becomes_the_description(api, make_settings):
    settings = bot_settings(make_settings, api)
    reporter = Reporter(api, FakeUser(id=7700003, first_name="Typist", language_code="kk"))
    _ = gettext_for("kk")
    async with running_bot(settings):
        await start(reporter, "kk")
        await reporter.press_and_wait(actions.nav("description", "full"), lambda m: asks(m, "what"))
        after = api.mark(reporter.chat)
        await reporter.say(STORIES["kk"], lambda m: asks(m, "what"))
        told, again = reporter.messages()[after:]
        notice = _("I have added your text to “{question}”; you can change it before sending. Now the question:")
        assert told.text == notice.format(question="Сипаттама")
        assert again.text.startswith("Не болды?")  # the same first question, to answer with its buttons


async def test_files_on_the_description_screen_and_an_album_acknowledged_once(api, make_settings):
    settings = bot_settings(make_settings, api)
    reporter = Reporter(api, FakeUser(id=7700004, first_name="Photos", language_code="en"))
    _ = gettext_for("en")
    async with running_bot(settings) as runtime:
        await start(reporter, "en")
        after = api.mark(reporter.chat)
        api.send_album(reporter.user, [photo_with_gps(f"album-{n}") for n in range(3)])
        three = _("Files received: {count}. They will be sent with your report.").format(count=3)
        await reporter.wait(lambda m: three in (m.text or ""), after)
        acknowledgements = [m for m in reporter.messages()[after:] if "Files received" in (m.text or "")]
        assert len(acknowledgements) == 1, [m.text for m in acknowledgements]  # one message, updated in place
        await reporter.say(STORIES["en"], lambda m: asks(m, "region"))
        review = await place(reporter, is_review)
        assert _("files attached: {count}").format(count=3) in review.text
        await reporter.press_and_wait(actions.CONFIRM, lambda m: RECEIPT.search(m.text or ""))
        [tip] = await runtime.repository.pending_tips()
        assert tip.answers["evidence"] == ["image", "image", "image"]


async def test_skip_gives_way_to_done_after_files_and_a_stale_skip_keeps_them(api, make_settings):
    settings = bot_settings(make_settings, api)
    reporter = Reporter(api, FakeUser(id=7700005, first_name="Files", language_code="uz"))
    async with running_bot(settings) as runtime:
        await start(reporter, "uz")
        await reporter.say(STORIES["uz"], lambda m: asks(m, "region"))
        await place(reporter, is_review)
        await reporter.press_and_wait(actions.MORE, lambda m: asks(m, "what"))
        following = ("sector", "work", "period", "people", "children", "ordered_by", "evidence")
        for question, then in zip(("what", *following[:-1]), following, strict=True):
            await reporter.press_and_wait(actions.nav(question, "skip"), lambda m, then=then: asks(m, then))
        files = reporter.messages()[-1]
        assert asks(files, "evidence") and actions.nav("evidence", "skip") in str(files.reply_markup)
        after = api.mark(reporter.chat)
        api.send_photo(reporter.user, photo_with_gps())
        received = await reporter.wait(lambda m: asks(m, "evidence"), after)
        assert actions.nav("evidence", "skip") not in str(received.reply_markup)
        assert actions.nav("evidence", "done") in str(received.reply_markup)
        stale = api.press(reporter.user, files, lambda text: "»" in text and "«" not in text)  # the old Skip
        await api.wait_until(lambda: api.callback_answer(stale) is not None)
        await reporter.wait(lambda m: asks(m, "danger_now"), after)
        await reporter.press_and_wait(actions.nav("danger_now", "finish"), is_review)
        await reporter.press_and_wait(actions.CONFIRM, lambda m: RECEIPT.search(m.text or ""))
        [tip] = await runtime.repository.pending_tips()
        assert tip.answers["evidence"] == ["image"]  # the stale Skip did not drop the photo


async def test_a_story_in_two_messages_and_the_place_typed(api, make_settings):
    settings = bot_settings(make_settings, api)
    reporter = CountingReporter(api, FakeUser(id=7700006, first_name="Typist", language_code="uz"))
    _ = gettext_for("uz")
    async with running_bot(settings) as runtime:
        await start(reporter, "uz")
        await reporter.say("Maktabimiz o‘qituvchilarini paxtaga jo‘natishdi.", lambda m: asks(m, "region"))
        after = api.mark(reporter.chat)
        await reporter.say("Direktor bormaganlarni ishdan bo‘shatamiz dedi.", lambda m: asks(m, "region"))
        notice = _("I have added your text to “{question}”; you can change it before sending. Now the question:")
        assert reporter.messages()[after].text == notice.format(question="Tavsif")
        countries = await reporter.say("Qozog‘iston", lambda m: asks(m, "region"))  # the country, typed
        assert actions.region("region", "KZ-35") in str(countries.reply_markup)
        review = await reporter.say("Qarag‘andi", is_review)  # and the region, typed too
        assert "Qarag‘anda viloyati" in review.text
        await reporter.press_and_wait(actions.CONFIRM, lambda m: RECEIPT.search(m.text or ""))
        assert (reporter.taps, reporter.typed) == (3, 4)  # language, start, send; the rest typed
        [tip] = await runtime.repository.pending_tips()
        assert tip.answers["description"] == (
            "Maktabimiz o‘qituvchilarini paxtaga jo‘natishdi.\nDirektor bormaganlarni ishdan bo‘shatamiz dedi."
        )
        assert tip.answers["region"] == {"country": "KZ", "region": "KZ-35"}
