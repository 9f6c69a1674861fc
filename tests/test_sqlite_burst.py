"""Many reporters at once on SQLite (issue 11): no "database is locked" reaches anyone, every report is stored;
and a step that still cannot be stored asks the reporter to send it again, losing nothing answered before.

The burst goes through the same path as benchmarks/sqlite_burst.py (the real Application, durable queue, fair
processor and conversation; an in-process Bot API), without its timings: those are the benchmark's."""

from __future__ import annotations

import asyncio
import logging
import sqlite3

from sqlalchemy import event, text

import storage.database
from benchmarks.sqlite_burst import STORIES, run_burst
from bot.flows.engine import actions
from bot.i18n import gettext_for
from bot.telegram.app import UNAVAILABLE
from storage.database import create_engine

from .fakebotapi import FakeUser
from .harness import Reporter, asks, bot_settings, handled_so_far, running_bot

CHATS = 150
LANGUAGE = "kk"
"""The reporter's phone and the language they chose: the request to send again comes in it."""
PLACE, PLACE_NAME = "Андижан", "Әндіжан облысы"
WRITERS, STEPS = 10, 2
OPEN_FOR, SQLITE_WAIT = 0.2, 0.1
"""Seconds each writer's transaction stays open, and SQLite's own busy timeout in that test (enough for a
commit to reach the disk, not for a whole transaction)."""
SHORT_WAIT = 0.3
"""Seconds a write may wait in this test before it fails: far less than the other writer holds the lock."""


async def test_a_burst_of_reporters_gets_no_errors_and_every_report_is_stored(make_settings, tmp_path):
    settings = make_settings(
        token="123456:burst",
        staff_chat_ids="-1001234567890",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'tipbot.db'}",
    )
    burst = await run_burst(settings, CHATS)

    assert burst.errors_to_users == 0, (burst.errors, burst.examples)
    assert burst.finished == CHATS  # every reporter was shown their receipt
    assert burst.tips == CHATS
    assert burst.locked == 0, burst.database_errors
    assert burst.photos == CHATS // 3 and len(burst.latencies) == CHATS * 7 + burst.photos


async def test_writers_of_the_bot_wait_in_line_not_in_sqlite(tmp_path):
    """Each transaction stays open longer than SQLite itself would wait for it: writers waiting in SQLite would
    fail with "database is locked"; in the bot's line they all go through, one after another."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'line.db'}")
    event.listen(engine.sync_engine, "connect", lambda connection, _record: _busy_timeout(connection, SQLITE_WAIT))
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE steps (writer INTEGER, step INTEGER)"))

    async def writer(number: int) -> None:
        for step in range(STEPS):
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO steps VALUES (:w, :s)"), {"w": number, "s": step})
                await asyncio.sleep(OPEN_FOR)  # as a step's transaction stays open while the bot does other work
                await connection.execute(text("UPDATE steps SET step = step WHERE writer = :w"), {"w": number})

    try:
        await asyncio.gather(*(writer(number) for number in range(WRITERS)))
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT count(*) FROM steps"))).scalar_one() == WRITERS * STEPS
    finally:
        await engine.dispose()


def _busy_timeout(connection, seconds: float) -> None:
    cursor = connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")
    cursor.close()


async def test_a_step_that_cannot_be_stored_asks_to_send_it_again_and_keeps_the_answers(
    api, make_settings, tmp_path, monkeypatch, caplog
):
    monkeypatch.setattr(storage.database, "SQLITE_BUSY_TIMEOUT", SHORT_WAIT)
    caplog.set_level(logging.WARNING)
    database = tmp_path / "tipbot.db"
    settings = bot_settings(make_settings, api, database_url=f"sqlite+aiosqlite:///{database}")
    reporter = Reporter(api, FakeUser(id=7310001, first_name="Aigerim", language_code=LANGUAGE))
    story = STORIES[2]
    async with running_bot(settings):
        reporter.api.send_command(reporter.user, "/start")
        await reporter.wait(lambda m: "lang:" in str(m.reply_markup))
        await reporter.press_and_wait(f"lang:{LANGUAGE}", lambda m: "begin" in str(m.reply_markup))
        await reporter.press_and_wait("begin", lambda m: asks(m, "description"))
        await reporter.say(story, lambda m: asks(m, "region"))
        await handled_so_far(api, reporter.user, reporter.user.private_chat())

        other_writer = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        await asyncio.to_thread(other_writer.execute, "BEGIN IMMEDIATE")  # another process writing, for long
        try:
            after = api.mark(reporter.chat)
            api.send_text(reporter.user, PLACE)
            told = await api.wait_for_message(reporter.chat, after=after)
            await handled_so_far(api, reporter.user, reporter.user.private_chat())
        finally:
            await asyncio.to_thread(other_writer.execute, "ROLLBACK")
            other_writer.close()
        assert told.text == gettext_for(LANGUAGE)(UNAVAILABLE)  # send it again in a minute; the rest is kept
        assert [m.text for m in reporter.messages()[after:]] == [told.text]  # nothing else, no error

        review = await reporter.say(PLACE, lambda m: actions.CONFIRM in str(m.reply_markup))
        assert story in review.text and PLACE_NAME in review.text  # the story told before is still there

    locked = [r for r in caplog.records if r.name == "bot.telegram.app" and "unavailable" in r.getMessage()]
    assert locked and all(r.levelno == logging.WARNING for r in locked)
