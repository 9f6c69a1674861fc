"""Staff are told each thing once, even when several runs start at the same moment: urgent alerts raised by
reports sent together, and /digest pressed by two staff members at once."""

from __future__ import annotations

import asyncio
from datetime import date, datetime

from telegram import Bot, Update

from bot.digest.jobs import send_notices
from bot.i18n import gettext_for
from bot.runtime import Runtime
from bot.telegram.app import build_application
from storage.repository import NewTip

from .fakebotapi import FakeBotAPI, FakeUser
from .harness import STAFF_CHAT, bot_settings, running_bot

URGENT = 6


async def store_urgent(runtime, number: int) -> str:
    key = f"urgent-{number}"
    await runtime.repository.save_draft(key, {}, datetime(2026, 12, 1, 9))
    answers = {"description": f"Someone is held at farm {number}", "danger_now": "yes"}
    tip = NewTip("forced-labour", 1, answers, True, date(2026, 12, 1), str(number).rjust(64, "0"))
    return await runtime.repository.submit_tip(key, tip, [])


async def test_urgent_alerts_sent_by_runs_at_the_same_moment_reach_staff_once(api, make_settings):
    settings = bot_settings(make_settings, api)
    async with running_bot(settings) as runtime:
        bot = Bot(FakeBotAPI.token, base_url=api.base_url)
        ids = [await store_urgent(runtime, number) for number in range(URGENT)]
        await asyncio.gather(*(send_notices(runtime, bot) for _run in range(8)))  # 8 reports sent together
        alerts = [m.text for m in api.sent_to(STAFF_CHAT) if (m.text or "").startswith("🔴")]
        assert sorted(alerts) == sorted(set(alerts)) and len(alerts) == URGENT
        assert all(any(tip_id[:8] in alert for alert in alerts) for tip_id in ids)
        assert await runtime.repository.urgent_unalerted() == []


async def test_digest_asked_for_twice_at_once_is_sent_once(api, make_settings):
    settings = bot_settings(make_settings, api)
    staff = [FakeUser(id=5550010 + n, first_name=f"Staff{n}", language_code="ru") for n in range(2)]
    async with running_bot(settings) as runtime:
        await store_urgent(runtime, 1)
        for member in staff:
            api.send_group_text(STAFF_CHAT, member, "/digest")
        heading = gettext_for(settings.staff_language)("📋 Digest of {date}").split("{")[0]

        async def digests():
            return [m for m in api.sent_to(STAFF_CHAT) if (m.text or "").startswith(heading)]

        for _wait in range(200):
            if await digests() and len([r for r in await runtime.repository.audit_entries() if r[1] == "digest"]) == 2:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # the second request has been handled too
        assert len(await digests()) == 1
        assert len([r for r in await runtime.repository.audit_entries() if r[1] == "digest"]) == 2  # both asked


async def test_a_staff_command_delivered_twice_changes_things_once(api, make_settings):
    settings = bot_settings(make_settings, api)
    runtime = await Runtime.open(settings)
    application = build_application(settings, runtime)
    await application.initialize()
    try:
        tip_id = await store_urgent(runtime, 3)
        member = FakeUser(id=5550020, first_name="Staff", language_code="ru")
        message = {"message_id": 77, "date": 1, "chat": {"id": STAFF_CHAT, "type": "supergroup", "title": "Staff"},
                   "from": member.to_dict(), "text": f"/note {tip_id[:8]} called the school",
                   "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}  # fmt: skip
        for _delivery in range(2):  # Telegram sends it again, or the inbox replays it after a crash
            await application.process_update(Update.de_json({"update_id": 4242, "message": message}, application.bot))
        notes = await runtime.records.notes(tip_id)
        assert [note.text for note in notes] == ["called the school"]
    finally:
        await application.shutdown()
        await runtime.close()
