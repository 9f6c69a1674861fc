"""No update is lost at a crash: updates are recorded (encrypted, stripped) before Telegram hears they arrived,
handled after a restart if a crash came first, and forgotten once handled."""

from __future__ import annotations

import time

from telegram import Update

from bot.flows.engine import actions
from bot.runtime import Runtime
from bot.telegram.intake import DurableQueue, recorded

from .fakebotapi import FakeUser
from .harness import Reporter, asks, bot_settings, eventually, running_bot
from .test_e2e_quick import STORIES, start


async def test_an_update_taken_but_not_handled_before_a_crash_is_handled_at_the_next_start(api, make_settings):
    settings = bot_settings(make_settings, api)
    user = FakeUser(id=7900001, first_name="Interrupted", last_name="Person", username="someone", language_code="en")
    reporter = Reporter(api, user)
    async with running_bot(settings):
        await start(reporter, "en")
    # The bot took the reporter's story from Telegram (so Telegram will not send it again) and was killed.
    message = {"message_id": 99, "date": int(time.time()), "chat": {"id": user.id, "type": "private"},
               "from": user.to_dict(), "text": STORIES["en"]}  # fmt: skip
    runtime = await Runtime.open(settings)
    await runtime.inbox.add(10_000, recorded(Update.de_json({"update_id": 10_000, "message": message}, None)))
    await runtime.close()

    after = api.mark(reporter.chat)
    async with running_bot(settings) as restarted:
        await reporter.wait(lambda m: asks(m, "region"), after)  # handled at start, without being sent again
        draft = (await restarted.repository.load_draft(restarted.keys.chat_key(user.id)))["draft"]
        assert draft["answers"]["description"] == STORIES["en"]
        async def forgotten():
            return await restarted.inbox.kept() == []

        await eventually(forgotten)  # once handled


async def test_an_update_is_kept_until_it_has_been_handled(api, make_settings):
    settings = bot_settings(make_settings, api)
    reporter = Reporter(api, FakeUser(id=7900002, first_name="Slow", language_code="ru"))
    async with running_bot(settings) as runtime:
        await start(reporter, "ru")
        api.stall_next("sendMessage")  # the answer hangs on its way: the update is being handled
        api.send_text(reporter.user, STORIES["ru"])

        async def kept_while_handled():
            return [update for update in await runtime.inbox.kept() if "message" in update]

        await eventually(kept_while_handled)
        [kept] = await kept_while_handled()
        assert kept["message"]["text"] == STORIES["ru"]
        assert kept["message"]["from"] == {"id": reporter.chat, "is_bot": False, "language_code": "ru",
                                           "first_name": "-"}  # fmt: skip


def test_what_is_recorded_of_a_press_is_what_handling_needs():
    press = {
        "update_id": 5,
        "callback_query": {
            "id": "1", "chat_instance": "c", "data": actions.CONFIRM,
            "from": {"id": 42, "is_bot": False, "first_name": "Dilnoza", "last_name": "K", "username": "dk",
                     "language_code": "uz"},
            "message": {"message_id": 7, "date": 1, "text": "Please check your report: teachers of school 5...",
                        "chat": {"id": 42, "type": "private", "first_name": "Dilnoza", "username": "dk"},
                        "reply_markup": {"inline_keyboard": []}},
        },
    }  # fmt: skip
    kept = recorded(Update.de_json(press, None))
    assert kept["callback_query"]["from"] == {"id": 42, "is_bot": False, "language_code": "uz", "first_name": "-"}
    assert kept["callback_query"]["message"] == {"message_id": 7, "date": 1, "chat": {"id": 42, "type": "private"}}
    assert kept["callback_query"]["data"] == actions.CONFIRM
    assert Update.de_json(kept, None).callback_query.message.message_id == 7  # still an update PTB reads


async def test_an_update_sent_again_while_it_is_kept_is_queued_once():
    class Memory:
        def __init__(self):
            self.rows = {}

        async def add(self, update_id, update):
            return self.rows.setdefault(update_id, update) is update

        async def done(self, update_id):
            self.rows.pop(update_id, None)

    queue = DurableQueue()
    queue.inbox = Memory()
    update = Update.de_json({"update_id": 9, "message": {"message_id": 1, "date": 1,
                                                          "chat": {"id": 1, "type": "private"}, "text": "x"}}, None)
    await queue.put(update)
    await queue.put(update)  # Telegram had not heard it was taken, and sent it again
    assert queue.qsize() == 1 and list(queue.inbox.rows) == [9]
    await queue.handled(update)
    await queue.forgotten()
    assert queue.inbox.rows == {}
