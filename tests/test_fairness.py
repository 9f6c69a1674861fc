"""Fair scheduling: one chat's updates run one at a time and never take the slots other chats need; end to end,
a flood from one chat does not hold up another reporter."""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.telegram.fairness import FairUpdateProcessor

from .fakebotapi import FakeUser
from .flood import FloodFiles, burst, timed_walk
from .harness import Reporter, bot_settings, running_bot
from .test_e2e_reporter import open_questionnaire, reach_evidence

STEP_BOUND = 5.0
"""Seconds: generous, so the test is not flaky on a busy machine; benchmarks/flood_latency.py gives the figures."""


def update_from(chat_id: int, number: int) -> Update:
    message = {"message_id": number, "date": 0, "chat": {"id": chat_id, "type": "private"}, "text": "hi"}
    return Update.de_json({"update_id": number, "message": message}, None)


async def test_one_chat_runs_in_order_one_at_a_time_while_others_pass():
    processor = FairUpdateProcessor(4, per_chat=1)
    done: list[tuple[int, int]] = []
    running = {1: 0, 2: 0}
    most = {1: 0, 2: 0}

    async def work(chat: int, number: int) -> None:
        running[chat] += 1
        most[chat] = max(most[chat], running[chat])
        await asyncio.sleep(0.02)
        running[chat] -= 1
        done.append((chat, number))

    async with processor:
        flood = [asyncio.create_task(processor.process_update(update_from(1, n), work(1, n))) for n in range(30)]
        await asyncio.sleep(0)
        other = asyncio.create_task(processor.process_update(update_from(2, 99), work(2, 99)))
        await asyncio.gather(*flood, other)
        await asyncio.sleep(0.02 * 30)
    assert [number for chat, number in done if chat == 1] == list(range(30))
    assert most == {1: 1, 2: 1}
    assert done.index((2, 99)) <= 2, "the other chat waited for the flood"


async def test_waiting_updates_of_one_chat_take_no_slot():
    processor = FairUpdateProcessor(2, per_chat=1)
    release = asyncio.Event()
    started: list[int] = []

    async def blocked(chat: int) -> None:
        started.append(chat)
        await release.wait()

    async with processor:
        tasks = [asyncio.create_task(processor.process_update(update_from(1, n), blocked(1))) for n in range(10)]
        await asyncio.sleep(0.05)
        for chat in (2, 3):
            tasks.append(asyncio.create_task(processor.process_update(update_from(chat, 50 + chat), blocked(chat))))
        await asyncio.sleep(0.05)
        assert started == [1, 2], "chat 1's nine waiting updates left one of the two slots free"
        assert processor.current_concurrent_updates == 2
        release.set()
        await asyncio.gather(*tasks)
        await asyncio.sleep(0.05)
    assert started.count(1) == 10 and 3 in started


async def test_a_failing_update_does_not_stop_the_chats_next_ones():
    processor = FairUpdateProcessor(4)
    done: list[int] = []

    async def work(number: int) -> None:
        if number == 1:
            raise RuntimeError("handler bug")
        done.append(number)

    async with processor:
        await asyncio.gather(*(processor.process_update(update_from(1, n), work(n)) for n in range(4)))
        await asyncio.sleep(0.05)
    assert done == [0, 2, 3]


async def test_a_flood_from_one_chat_does_not_hold_up_another_reporter(api, make_settings):
    settings = bot_settings(make_settings, api)
    flooder = Reporter(api, FakeUser(id=7700001, first_name="Flood", language_code="ru"))
    walker = Reporter(api, FakeUser(id=7700002, first_name="Walk", language_code="en"))
    files = FloodFiles.make()
    async with running_bot(settings):
        await open_questionnaire(flooder, "ru")
        await reach_evidence(flooder, "ru", "Учителей отправили на хлопок.")
        flood_start = api.mark(flooder.chat)

        def flood(step: int) -> None:
            if step in (0, 9):  # a second burst halfway; /help last shows the whole burst was handled
                burst(api, flooder.user, files)
                api.send_command(flooder.user, "/help")

        timings = await timed_walk(walker, flood)
        slow = [(name, round(seconds, 2)) for name, seconds in timings if seconds > STEP_BOUND]
        assert not slow, f"steps slower than {STEP_BOUND} s during the flood: {slow}"
        helps = lambda: sum("/status" in (m.text or "") for m in api.sent_to(flooder.chat)[flood_start:])  # noqa: E731
        await api.wait_until(lambda: helps() == 2, timeout=180)  # the flood is answered too, in order, to the end
