"""End to end on the staff side: commands, authorisation, urgent alerts, staff chat language, and the
anonymous follow-up by receipt code."""

from __future__ import annotations

import pytest

from bot.flows.engine import actions
from bot.follow_up import ANSWER, CHECK, DONE, ask_code_screen
from bot.i18n import gettext_for
from bot.screens import help_screen
from bot.telegram.staff import LANGUAGE_ACTION

from .fakebotapi import FakeBotAPI, FakeUser
from .harness import STAFF_CHAT, Reporter, asks, bot_settings, handled_so_far, photo_with_gps, running_bot
from .test_digest import store_tip
from .test_e2e_reporter import STAFF_MEMBER, complete_tip, is_named, open_questionnaire, reach_evidence

ADMIN = FakeUser(id=4242, first_name="Admin", language_code="en")
STRANGER = FakeUser(id=7600009, first_name="Nosy", username="nosy_parker", language_code="en")
en = gettext_for("en")


@pytest.fixture
def settings(make_settings, api):
    return bot_settings(make_settings, api, admin_ids="4242", staff_language="en")


async def staff_says(api: FakeBotAPI, text: str, predicate=lambda m: True):
    after = api.mark(STAFF_CHAT)
    api.send_group_text(STAFF_CHAT, STAFF_MEMBER, text)
    return await api.wait_for_message(STAFF_CHAT, predicate, after=after)


async def test_staff_commands_work_and_are_audited(api, settings):
    async with running_bot(settings) as runtime:
        tip_id = await store_tip(
            runtime, "a", "Шахтёров заставляют работать без выходных", country="KZ", region="KZ-35", photos=1
        )
        await store_tip(runtime, "b", "Second report", urgent=True)
        short = tip_id[:8]

        listing = await staff_says(api, "/tips")
        assert short in listing.text and "🔴" in listing.text
        full = await staff_says(api, f"/tip {short}")
        assert "Шахтёров заставляют" in full.text and en("Status: {status}").format(status="new") in full.text
        await api.wait_for_message(STAFF_CHAT, lambda m: m.method == "sendPhoto" and m.text.startswith(f"#{short}"))

        done = await staff_says(api, f"/status {short} verified")
        assert done.text == en("Report {id} is now: {status}").format(id=short, status="verified")
        assert (await runtime.repository.get_tip(tip_id)).status == "verified"
        await staff_says(api, f"/note {short} Called the union, confirmed by two teachers")
        assert [n.text for n in await runtime.records.notes(tip_id)] == ["Called the union, confirmed by two teachers"]
        await staff_says(api, f"/keep {short}")
        assert (await runtime.repository.get_tip(tip_id)).keep
        wrong = await staff_says(api, "/status 0000 closed")
        assert wrong.text == en("No report {id}.").format(id="0000")
        usage = await staff_says(api, f"/status {short} lost")
        assert usage.text == en("Use: /status NUMBER new|reviewing|verified|closed")

        exported = await staff_says(api, "/export since 01.01.2026", lambda m: is_named(m, ".xlsx"))
        csv_file = next(m for m in api.sent_to(STAFF_CHAT) if is_named(m, ".csv"))
        assert "Шахтёров заставляют".encode() in csv_file.files[0] and exported.files[0][:2] == b"PK"
        stats = await staff_says(api, "/stats", lambda m: m.method == "sendPhoto")
        text = next(m.text for m in reversed(api.sent_to(STAFF_CHAT)) if m.method == "sendMessage")
        assert en("Reports: {count}").format(count=2) in text and stats.files

        actions_logged = [(staff, action, tip) for staff, action, tip, _at in await runtime.repository.audit_entries()]
        assert (STAFF_MEMBER.id, "view", tip_id) in actions_logged
        assert (STAFF_MEMBER.id, "status:verified", tip_id) in actions_logged
        assert (STAFF_MEMBER.id, "note", tip_id) in actions_logged
        assert {action for _s, action, _t in actions_logged} >= {"list", "keep", "export", "stats"}


COMMANDS = [
    "/digest",
    "/tip {id}",
    "/tips all",
    "/status {id} closed",
    "/keep {id}",
    "/note {id} hi",
    "/reply {id} hi",
    "/export",
    "/stats",
]


@pytest.mark.parametrize("command", COMMANDS)
async def test_strangers_get_the_neutral_answer_and_change_nothing(api, settings, command):
    async with running_bot(settings) as runtime:
        tip_id = await store_tip(runtime, "a", "Report text")
        before = await runtime.repository.get_tip(tip_id)
        text = command.format(id=tip_id[:8])
        api.send_text(STRANGER, text)
        reply = await api.wait_for_message(STRANGER.id)
        helps = help_screen("en", discreet=True).text
        if command.startswith("/status"):  # for a reporter, /status checks their own report by its code
            assert reply.text == ask_code_screen("en").text
        else:
            assert reply.text.startswith(helps)
        api.send_group_text(-100555, STRANGER, text)  # a group that is not a staff chat: nothing is said there
        await handled_so_far(api, STRANGER, {"id": -100555, "type": "supergroup"})
        assert api.sent_to(-100555) == []
        assert await runtime.repository.get_tip(tip_id) == before
        assert await runtime.records.notes(tip_id) == [] and await runtime.records.exchanges(tip_id) == []
        assert await runtime.repository.audit_entries() == []
        assert api.sent_to(STAFF_CHAT) == [] and len(api.sent_to(STRANGER.id)) == 1


async def test_staff_chat_chooses_its_language(api, settings):
    async with running_bot(settings) as runtime:
        await store_tip(runtime, "a", "Report text")
        menu = await staff_says(api, "/language", lambda m: bool(m.buttons()))
        update = api.press(STAFF_MEMBER, menu, "Қазақша")
        await api.wait_until(lambda: api.callback_answer(update) is not None)
        assert await runtime.records.staff_language(STAFF_CHAT) == "kk"
        header = await staff_says(api, "/digest")
        assert header.text.startswith(gettext_for("kk")("📋 Digest of {date}").split("{")[0])
        stranger_menu_press = api.queue_update(
            {
                "callback_query": {
                    "id": "1",
                    "from": STRANGER.to_dict(),
                    "chat_instance": "1",
                    "data": LANGUAGE_ACTION + "ru",
                    "message": {"message_id": menu.message_id, "date": 0, "chat": {"id": -100555, "type": "group"}},
                }
            }
        )
        await api.wait_until(lambda: api.callback_answer(stranger_menu_press) is not None)
        assert await runtime.records.staff_language(-100555) is None


async def test_urgent_report_is_announced_at_once(api, settings):
    reporter = Reporter(api, FakeUser(id=7600001, first_name="Kamola", language_code="uz"))
    async with running_bot(settings) as runtime:
        await open_questionnaire(reporter, "uz")
        await reach_evidence(reporter, "uz", "Bolalar dalada, hozir xavf bor.")
        await reporter.press_and_wait(actions.nav("evidence", "skip"), lambda m: asks(m, "danger_now"))
        await reporter.press_and_wait(
            actions.option("danger_now", "yes"), lambda m: actions.CONFIRM in str(m.reply_markup)
        )
        await reporter.press_and_wait(actions.CONFIRM, lambda m: "receipt" in str(m.reply_markup))
        [tip] = await runtime.repository.pending_tips()
        heading = en("🔴 Urgent report {id}").format(id=tip.short_id)
        alert = await api.wait_for_message(STAFF_CHAT, lambda m: (m.text or "").startswith(heading))  # edited in
        assert "Danger right now: Yes" in alert.text and "Bolalar dalada" not in alert.text  # urgent answers only
        assert len([m for m in api.sent_to(STAFF_CHAT) if "🔴" in (m.text or "")]) == 1


async def test_follow_up_by_receipt_code_from_another_account(api, settings):
    reporter = Reporter(api, FakeUser(id=7600002, first_name="Dildora", language_code="ru"))
    other_phone = Reporter(api, FakeUser(id=7600003, first_name="Other", language_code="ru"))
    ru = gettext_for("ru")
    async with running_bot(settings) as runtime:
        await open_questionnaire(reporter, "ru")
        code = await complete_tip(reporter, "ru", photo_with_gps())
        [tip] = await runtime.repository.pending_tips()
        saved = await staff_says(api, f"/reply {tip.short_id} Сколько учителей было с вами?")
        assert saved.text.startswith(en("Saved for report {id}.").format(id=tip.short_id))

        api.send_command(other_phone.user, "/start")
        await other_phone.wait(lambda m: bool(m.buttons()))
        await other_phone.press_and_wait("lang:ru", lambda m: CHECK in str(m.reply_markup))
        await other_phone.press_and_wait(
            CHECK, lambda m: (m.text or "") == ask_code_screen("ru").text
        )
        unknown = await other_phone.say("1111 2222 3333 4444", lambda m: True)
        assert unknown.text == ru("No report was found with this code. Check the digits and try again.")
        shown = await other_phone.say(code.replace(" ", ""), lambda m: ANSWER in str(m.reply_markup))
        assert "Сколько учителей было с вами?" in shown.text
        assert ru("Your report: {status}.").format(status=ru("received, not reviewed yet")) in shown.text

        await other_phone.press_and_wait(ANSWER, lambda m: DONE in str(m.reply_markup))
        await other_phone.say("Нас было двенадцать человек.", lambda m: (m.text or "").startswith(ru("Sent to staff.")))
        update = await api.wait_for_message(STAFF_CHAT, lambda m: "Нас было двенадцать" in (m.text or ""))
        assert update.text.startswith(en("💬 The reporter of {id} answered:").format(id=tip.short_id))
        after = api.mark(other_phone.chat)
        api.send_photo(other_phone.user, photo_with_gps("Nikon-SERIAL-777"))
        await other_phone.wait(lambda m: (m.text or "").startswith(ru("File sent to staff.")), after)
        photo = await api.wait_for_message(STAFF_CHAT, lambda m: m.method == "sendPhoto" and b"Nikon" not in m.files[0])
        assert photo.text.startswith(f"#{tip.short_id}")
        await other_phone.press_and_wait(DONE, lambda m: m.text == ru("Chat cleared."))
        assert [m.get("text") for m in api.remaining_messages(other_phone.chat)] == [ru("Chat cleared.")]

        exchanges = await runtime.records.exchanges(tip.id)
        assert [(e.sender, e.text, len(e.files)) for e in exchanges] == [
            ("staff", "Сколько учителей было с вами?", 0),
            ("reporter", "Нас было двенадцать человек.", 0),
            ("reporter", "", 1),
        ]
        stored = await runtime.repository.load_draft(runtime.keys.chat_key(other_phone.chat))
        assert tip.id not in str(stored), "no link from the chat to the tip is stored"


async def test_wrong_codes_are_rate_limited(api, settings):
    guesser = Reporter(api, FakeUser(id=7600004, first_name="Guess", language_code="en"))
    async with running_bot(settings):
        api.send_command(guesser.user, "/status")
        await guesser.wait(lambda m: "16-digit" in (m.text or ""))
        answers = []
        for attempt in range(7):
            reply = await guesser.say(f"9999 0000 0000 000{attempt}", lambda m: True)
            answers.append(reply.text)
            if reply.text == en("Too many tries. Please try again in an hour."):
                break
            api.send_command(guesser.user, "/status")
            await guesser.wait(lambda m: "16-digit" in (m.text or ""), api.mark(guesser.chat) - 1)
        assert answers[:5] == [en("No report was found with this code. Check the digits and try again.")] * 5
        assert answers[5] == en("Too many tries. Please try again in an hour.")


async def test_leaving_a_code_check_for_a_new_report_does_not_mistake_answers_for_codes(api, settings):
    reporter = Reporter(api, FakeUser(id=7600005, first_name="Changes", language_code="en"))
    async with running_bot(settings):
        api.send_command(reporter.user, "/start")
        await reporter.wait(lambda m: bool(m.buttons()))
        await reporter.press_and_wait("lang:en", lambda m: CHECK in str(m.reply_markup))
        await reporter.press_and_wait(CHECK, lambda m: "16-digit" in (m.text or ""))
        await reporter.press_and_wait("begin", lambda m: asks(m, "description"))  # changed their mind
        await reporter.press_and_wait(actions.nav("description", "full"), lambda m: asks(m, "what"))
        await reporter.press(actions.option("what", "wages"))
        await reporter.press_and_wait(actions.nav("what", "done"), lambda m: asks(m, "sector"))
        reply = await reporter.say("1234 5678 9012 3456", lambda m: True)
        assert reply.text == en("Please answer with one of the buttons.")
