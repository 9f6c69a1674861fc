"""Who may use staff and admin handlers: declared on every one of them, asked on every call, and a stranger's
command or button press changes nothing and reveals nothing. Button presses reach exactly one handler."""

from __future__ import annotations

import pytest
from telegram import CallbackQuery, Chat, Message, Update, User
from telegram.ext import CallbackQueryHandler

from bot.i18n import gettext_for
from bot.staffdesk import StaffDesk
from bot.telegram import admin, reporter, staff
from bot.telegram.app import build_application
from bot.telegram.authorisation import GROUP, is_admin, is_staff, required

from .fakebotapi import FakeBotAPI, FakeUser
from .harness import STAFF_CHAT, Reporter, bot_settings, handled_so_far, running_bot
from .test_callbacks import ALL_BUTTONS, GARBAGE

ADMIN = FakeUser(id=4242, first_name="Admin", language_code="en")
STRANGER = FakeUser(id=7800009, first_name="Nosy", language_code="en")
en = gettext_for("en")


@pytest.fixture
def settings(make_settings, api):
    return bot_settings(make_settings, api, admin_ids=str(ADMIN.id), staff_language="en")


def test_every_staff_and_admin_handler_declares_who_may_use_it(make_settings):
    application = build_application(make_settings(token=FakeBotAPI.token))
    assert set(application.handlers) == {GROUP, 0}
    declared = {staff: is_staff, admin: is_admin}
    guarded = application.handlers[GROUP]
    assert {handler.callback.__module__ for handler in guarded} == {staff.__name__, admin.__name__}
    for handler in guarded:
        module = staff if handler.callback.__module__ == staff.__name__ else admin
        assert required(handler.callback) is declared[module], handler.callback.__name__
    for handler in application.handlers[0]:
        assert handler.callback.__module__ == reporter.__name__ and required(handler.callback) is None


def press(data: str, chat_type: str = "private") -> Update:
    user = User(7800009, "Nosy", is_bot=False)
    chat = Chat(7800009 if chat_type == "private" else -100555, chat_type)
    message = Message(1, date=None, chat=chat)  # type: ignore[arg-type]
    return Update(1, callback_query=CallbackQuery("1", user, "1", message=message, data=data))


@pytest.mark.parametrize("data", [*ALL_BUTTONS, *filter(None, GARBAGE)])
def test_every_button_press_reaches_exactly_one_handler(make_settings, data):
    """So the order in which handlers were added decides nothing."""
    application = build_application(make_settings(token=FakeBotAPI.token))
    handlers = [h for group in application.handlers.values() for h in group if isinstance(h, CallbackQueryHandler)]
    assert all(handler.pattern is not None for handler in handlers)
    taking = [handler.callback.__name__ for handler in handlers if handler.check_update(press(data))]
    assert len(taking) == 1, taking


def forged_press(api: FakeBotAPI, user: FakeUser, data: str, chat: dict | None = None) -> dict:
    chat = chat or {"id": user.id, "type": "private"}
    return api.queue_update(
        {
            "callback_query": {
                "id": f"forged-{len(api.pending_updates)}-{data}",
                "from": user.to_dict(),
                "chat_instance": "1",
                "data": data,
                "message": {"message_id": 1, "date": 0, "chat": chat},
            }
        }
    )


def flow_states(runtime) -> list:
    catalog = runtime.flows
    return [(flow.id, flow.version, catalog.is_active(flow)) for flow in catalog.versions(catalog.default_id)]


async def test_strangers_presses_are_answered_and_change_nothing(api, settings):
    async with running_bot(settings) as runtime:
        flows = flow_states(runtime)
        presses = [
            forged_press(api, STRANGER, "flowadm:off:forced-labour"),
            forged_press(api, STRANGER, "flowadm:default:forced-labour"),
            forged_press(api, STRANGER, "staff-lang:kk"),
            forged_press(api, STRANGER, "staff-lang:kk", {"id": -100555, "type": "group"}),
            forged_press(api, STRANGER, "garbage:that:no:button:carries"),
            forged_press(api, STRANGER, "opt:what:wages:and more"),
        ]
        for update in presses:
            await api.wait_until(lambda update=update: api.callback_answer(update) is not None)
            assert not api.callback_answer(update).get("text")
        assert api.sent_to(STRANGER.id) == [] and api.sent_to(-100555) == []
        assert await runtime.repository.load_draft(runtime.keys.chat_key(STRANGER.id)) is None
        assert await runtime.records.staff_language(STRANGER.id) is None
        assert await runtime.records.staff_language(-100555) is None
        assert flow_states(runtime) == flows
        assert await runtime.repository.audit_entries() == []


async def test_staff_chats_added_and_removed_at_run_time_are_asked_about_on_every_call(api, settings):
    admin_chat = Reporter(api, ADMIN)
    member = FakeUser(id=7800010, first_name="Member", language_code="en")
    async with running_bot(settings):
        await admin_chat.say("/staff add chat -100777", lambda m: "-100777" in (m.text or ""))
        api.send_group_text(-100777, member, "/tips")
        assert (await api.wait_for_message(-100777)).text == en("No reports.")
        await admin_chat.say("/staff remove chat -100777", lambda m: "-100777" not in (m.text or ""))
        api.send_group_text(-100777, member, "/tips")
        await handled_so_far(api, member, {"id": -100777, "type": "supergroup"})
        assert len(api.sent_to(-100777)) == 1  # no longer a staff chat: nothing is said there
        assert api.sent_to(STAFF_CHAT) == []


async def test_an_admin_command_that_fails_is_not_then_handled_as_a_reporters(api, settings, monkeypatch):
    async def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(StaffDesk, "tips", broken)
    async with running_bot(settings):
        api.send_text(ADMIN, "/tips")
        sorry = await api.wait_for_message(ADMIN.id)
        assert sorry.text == en("Sorry, something went wrong. Please try again in a moment.")
        api.send_text(ADMIN, "/privacy")  # handled after /tips: one chat's updates are handled in order
        privacy = await api.wait_for_message(ADMIN.id, lambda m: m.text != sorry.text)
        assert api.sent_to(ADMIN.id) == [sorry, privacy]  # no help for /tips as if a reporter had typed it
