"""A shared contact or location is deleted from the phone at once, and never stored (every way a
conversation ends is in test_e2e_endings.py)."""

from __future__ import annotations

from bot.i18n import gettext_for

from .fakebotapi import FakeUser
from .harness import Reporter, bot_settings, running_bot
from .test_e2e_reporter import open_questionnaire


async def test_shared_contact_is_deleted_and_explained(api, make_settings):
    settings = bot_settings(make_settings, api)
    reporter = Reporter(api, FakeUser(id=7400002, first_name="Yerlan", language_code="kk"))
    async with running_bot(settings) as runtime:
        await open_questionnaire(reporter, "kk")
        after = api.mark(reporter.chat)
        contact = api.send_contact(reporter.user, "+77011234567")
        await reporter.question("what", after)
        _ = gettext_for("kk")
        assert reporter.messages()[after].text == _(
            "For your safety I have deleted the contact or location you sent: it could show who you are. "
            "Please describe the place in words instead."
        )
        contact_id = contact["message"]["message_id"]
        assert contact_id not in [m["message_id"] for m in api.remaining_messages(reporter.chat)]
        stored = await runtime.repository.load_draft(runtime.keys.chat_key(reporter.chat))
        assert contact_id not in stored["trace"] and "77011234567" not in str(stored)
