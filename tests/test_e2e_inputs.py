"""End to end: what a reporter sees on wrong input, commands, and strangers using staff commands."""

from __future__ import annotations

import pytest

from bot.flows.engine import actions
from bot.i18n import gettext_for
from bot.screens import RECEIPT_DONE, help_screen, privacy_screen

from .fakebotapi import FakeUser
from .harness import STAFF_CHAT, Reporter, asks, bot_settings, photo_with_gps, running_bot
from .test_e2e_reporter import answer_first_part, describe_and_place, open_questionnaire

_ = gettext_for("en")
ru = gettext_for("ru")


@pytest.fixture
def settings(make_settings, api):
    return bot_settings(make_settings, api, admin_ids="4242")


def texts_after(reporter: Reporter, after: int) -> list[str]:
    return [m.text for m in reporter.messages()[after:]]


async def test_language_buttons_put_telegrams_language_first(api, settings):
    reporter = Reporter(api, FakeUser(id=7100001, first_name="Aigerim", language_code="kk"))
    async with running_bot(settings):
        api.send_command(reporter.user, "/start")
        picker = await reporter.wait(lambda m: bool(m.buttons()))
        assert picker.button_texts() == ["Қазақша", "Русский", "O‘zbekcha", "English", "Türkmençe", "Ўзбекча"]
        assert picker.text.splitlines()[:4] == [
            "Тілді таңдаңыз",
            "Выберите язык",
            "Tilni tanlang",
            "Choose your language",
        ]


async def test_wrong_input_is_explained_and_the_question_repeated(api, settings):
    reporter = Reporter(api, FakeUser(id=7100002, first_name="Dilnoza", language_code="en"))
    async with running_bot(settings):
        await open_questionnaire(reporter, "en")
        after = api.mark(reporter.chat)
        api.send_sticker(reporter.user)
        await reporter.question("what", after)
        assert texts_after(reporter, after)[0] == _(
            "Please reply with text or a button, not a sticker, voice message or file."
        )
        await reporter.say("They sent us to the fields.", lambda m: asks(m, "what"))  # the first screen: the story
        assert _("Please answer with one of the buttons.") not in texts_after(reporter, after)
        question = await reporter.say("cotton", lambda m: asks(m, "what"))
        assert _("Please answer with one of the buttons.") in texts_after(reporter, api.mark(reporter.chat) - 2)
        after = api.mark(reporter.chat)
        api.send_document(reporter.user, b"%PDF-1.4 order", "order.pdf", "application/pdf")
        await reporter.question("what", after)
        assert texts_after(reporter, after)[0] == _(
            "This question needs an answer in text or with the buttons, not a file."
        )
        await reporter.press(actions.nav("what", "done"))  # nothing chosen yet
        answer = api.callback_answer(api.calls_to("answerCallbackQuery")[-1].params["callback_query_id"])
        assert answer["text"] == _("Please choose at least one option, then press “Done”.")
        assert question.buttons(), "the question stays answerable"


async def test_number_out_of_range_and_unaccepted_file_types(api, settings):
    reporter = Reporter(api, FakeUser(id=7100003, first_name="Timur", language_code="en"))
    async with running_bot(settings) as runtime:
        await open_questionnaire(reporter, "en")
        await answer_first_part(reporter)
        await reporter.say("today", lambda m: asks(m, "people"))
        problem = await reporter.say(
            "-3", lambda m: m.text == _("The number must be at least {limit}.").format(limit=1)
        )
        assert problem
        await reporter.question("people", after=reporter.messages().index(problem))
        await reporter.say("12", lambda m: asks(m, "children"))
        await reporter.press_and_wait(actions.option("children", "no"), lambda m: asks(m, "ordered_by"))
        await reporter.press_and_wait(actions.option("ordered_by", "employer"), lambda m: asks(m, "description"))
        await describe_and_place(reporter, "The mine keeps our passports.")

        after = api.mark(reporter.chat)
        api.send_document(reporter.user, b"MZ\x90\x00 a Windows program", "prikaz.pdf", "application/pdf")
        await reporter.question("evidence", after)
        refusal = texts_after(reporter, after)[0]
        assert refusal == (
            "This type of file is not accepted. You can send photos and images (JPEG, PNG, WebP, HEIC, GIF), "
            "documents (PDF, DOCX, XLSX, PPTX, ODT, ODS), voice messages, audio (MP3, M4A, WAV) and video (MP4, MOV)."
        )
        after = api.mark(reporter.chat)
        api.send_document(reporter.user, b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "fake.png", "image/png")
        await reporter.question("evidence", after)
        assert texts_after(reporter, after)[0] == _("This file could not be read. Please try another one.")

        after = api.mark(reporter.chat)
        api.send_photo(reporter.user, photo_with_gps())  # a Telegram photo (compressed by the app)
        received = await reporter.wait(lambda m: asks(m, "evidence") and "1" in (m.text or ""), after)
        assert _("Files received: {count}. Send more or press “Done”.").format(count=1) in received.text
        await reporter.press_and_wait(actions.nav("evidence", "done"), lambda m: asks(m, "danger_now"))
        await reporter.press_and_wait(
            actions.option("danger_now", "no"), lambda m: actions.CONFIRM in str(m.reply_markup)
        )
        await reporter.press_and_wait(actions.CONFIRM, lambda m: "receipt" in (m.text or ""))
        [tip] = await runtime.repository.pending_tips()
        assert len(tip.files) == 1 and tip.files[0].mime == "image/jpeg"


async def test_help_privacy_language_and_cancel(api, settings):
    reporter = Reporter(api, FakeUser(id=7100004, first_name="Olga", language_code="ru"))
    async with running_bot(settings) as runtime:
        await open_questionnaire(reporter, "ru")
        help_text = await reporter.say("/help", lambda m: "/cancel" in (m.text or ""))
        assert help_text.text == help_screen("ru", discreet=True).text
        privacy = await reporter.say("/privacy", lambda m: (m.text or "").startswith(ru("Before you start:")))
        assert privacy.text == privacy_screen("ru", with_start=False).text and not privacy.buttons()

        await reporter.say("/language", lambda m: "lang:uz" in str(m.reply_markup))
        question = await reporter.press_and_wait("lang:uz", lambda m: asks(m, "what"))
        assert "Nima" in question.text  # the same question, now in Uzbek

        cleared = gettext_for("uz")("Chat cleared.")
        await reporter.say("/cancel", lambda m: m.text == cleared)  # discreet: the line says nothing more
        assert await runtime.repository.count_tips() == 0
        assert [m.get("text") for m in api.remaining_messages(reporter.chat)] == [cleared]


async def test_strangers_get_the_neutral_help_for_staff_commands(api, settings):
    stranger = FakeUser(id=7100005, first_name="Nosy", language_code="en")
    async with running_bot(settings) as runtime:
        api.send_command(stranger, "/digest")
        reply = await api.wait_for_message(stranger.id)
        assert reply.text == help_screen("en", discreet=True).text
        api.send_group_text(-100999, stranger, "/digest")
        await api.wait_for_updates_consumed()
        assert api.sent_to(STAFF_CHAT) == []
        admin = FakeUser(id=4242, first_name="Admin", language_code="en")
        api.send_command(admin, "/digest")
        await api.wait_for_message(STAFF_CHAT)
        confirmation = await api.wait_for_message(admin.id)
        assert confirmation.text == gettext_for(runtime.settings.staff_language)(
            "The digest has been sent to the staff chats."
        )



async def test_an_unexpected_failure_apologises_and_the_conversation_goes_on(api, settings):
    from dataclasses import replace

    reporter = Reporter(api, FakeUser(id=7100006, first_name="Bobur", language_code="uz"))
    async with running_bot(settings) as runtime:
        await open_questionnaire(reporter, "uz")
        working = runtime.conversation.services

        async def broken(data: bytes):
            raise RuntimeError("disk full")

        runtime.conversation.services = replace(working, sanitize=broken)
        await answer_first_part(reporter)
        await reporter.say("bugun", lambda m: asks(m, "people"))
        await reporter.press_and_wait(actions.nav("people", "skip"), lambda m: asks(m, "children"))
        await reporter.press_and_wait(actions.option("children", "no"), lambda m: asks(m, "ordered_by"))
        await reporter.press_and_wait(actions.option("ordered_by", "mahalla"), lambda m: asks(m, "description"))
        await describe_and_place(reporter, "Mahalla raisi hasharga majbur qildi.")
        after = api.mark(reporter.chat)
        api.send_document(reporter.user, photo_with_gps(), "rasm.jpg", "image/jpeg")
        again = await reporter.wait(lambda m: asks(m, "evidence"), after)
        sorry = reporter.messages()[after]
        assert sorry.text == gettext_for("uz")(
            "Sorry, that did not work. What you answered before is kept; here is where you were:"
        )  # in the language the reporter chose, with the question they were on
        assert again.message_id == sorry.message_id + 1

        runtime.conversation.services = working
        after = api.mark(reporter.chat)
        api.send_document(reporter.user, photo_with_gps(), "rasm.jpg", "image/jpeg")
        await reporter.wait(lambda m: asks(m, "evidence") and "1" in (m.text or ""), after)


async def test_identifiers_in_answers_are_asked_about_before_the_review(api, settings):
    from bot.privacy.pii import MASK
    from bot.screens import KEEP_IDENTIFIER, REMOVE_IDENTIFIER

    reporter = Reporter(api, FakeUser(id=7100007, first_name="Zarina", language_code="ru"))
    story = "Бригадир забрал паспорт AB1234567. Мой номер +998 90 123 45 67, звоните."
    async with running_bot(settings) as runtime:
        await open_questionnaire(reporter, "ru")
        await answer_first_part(reporter)
        await reporter.say("сегодня", lambda m: asks(m, "people"))
        await reporter.press_and_wait(actions.nav("people", "skip"), lambda m: asks(m, "children"))
        await reporter.press_and_wait(actions.option("children", "no"), lambda m: asks(m, "ordered_by"))
        await reporter.press_and_wait(actions.option("ordered_by", "employer"), lambda m: asks(m, "description"))
        await describe_and_place(reporter, story)
        await reporter.press_and_wait(actions.nav("evidence", "skip"), lambda m: asks(m, "danger_now"))
        passport = await reporter.press_and_wait(
            actions.option("danger_now", "no"), lambda m: KEEP_IDENTIFIER in str(m.reply_markup)
        )
        description = runtime.flows.active.question("description").label["ru"]
        assert passport.text.startswith(
            ru("Your answer to “{question}” seems to contain a passport number:").format(question=description)
        )
        assert "AB1234567" in passport.text
        phone = await reporter.press_and_wait(KEEP_IDENTIFIER, lambda m: "+998" in (m.text or ""))
        assert phone.text.startswith(
            ru("Your answer to “{question}” seems to contain a phone number:").format(question=description)
        )
        review = await reporter.press_and_wait(REMOVE_IDENTIFIER, lambda m: actions.CONFIRM in str(m.reply_markup))
        assert "+998" not in review.text and MASK in review.text and "AB1234567" in review.text
        await reporter.press_and_wait(actions.CONFIRM, lambda m: RECEIPT_DONE in str(m.reply_markup))
        [tip] = await runtime.repository.pending_tips()
        assert tip.answers["description"] == f"Бригадир забрал паспорт AB1234567. Мой номер {MASK}, звоните."
