"""A database that stops answering: the reporter hears within seconds that nothing can be saved right now and
to try again in a minute, in place of silence; staff hear it in their chat; scheduled jobs log one line and
carry on; once the database is back the same answer goes through, with nothing answered before lost.

The PostgreSQL tests put a proxy the test controls (tests/dbproxy.py) between the bot and a database of their
own: a silent partition (nothing forwarded, nothing closed) and a server refusing connections. The SQLite test
has another writer hold the database's write lock for a few seconds."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.flows.engine import actions
from bot.i18n import gettext_for
from bot.telegram import reporter as reporter_handlers
from bot.telegram.app import STAFF_UNAVAILABLE, UNAVAILABLE
from storage.database import SQLITE_BUSY_TIMEOUT, create_engine

from .conftest import SERVER_URL
from .dbproxy import DatabaseProxy
from .fakebotapi import FakeUser
from .harness import STAFF_CHAT, Reporter, asks, bot_settings, handled_so_far, running_bot

needs_postgres = pytest.mark.skipif(not SERVER_URL, reason="TIPBOT_TEST_DATABASE_URL is not set")
STORY = "Maktabimiz o‘qituvchilarini paxtaga majburan jo‘natishdi, direktor bormaganlarni ishdan bo‘shatamiz dedi."
PLACE, PLACE_NAME = "Andijon", "Andijon viloyati"
PHONE_LANGUAGE, CHOSEN_LANGUAGE = "ru", "uz"
"""The reporter's phone is in Russian and they chose Uzbek: during an outage the choice cannot be read, so the
message comes in the phone's language."""
ANSWER_WITHIN = 10.0
"""A generous bound on "within a few seconds" (the bot gives up on a silent server after 3 to 5 seconds)."""
LOCK_HELD = 6.0
"""Seconds the other SQLite writer keeps the write lock: longer than Python's default busy timeout of 5 s,
well within the bot's."""
STAFF_MEMBER = FakeUser(id=5550301, first_name="Staff", username="staff_member")
STRANGER, STRANGERS_GROUP = FakeUser(id=5550302, first_name="Stranger"), -1009876543210


@pytest.fixture
async def proxied_database():
    """A database of this test's own on the test server, and a proxy in front of it; dropped at the end."""
    name = f"tipbot_outage_{os.getpid()}_{secrets.token_hex(4)}"
    await _on_server(f'CREATE DATABASE "{name}"')
    server = make_url(SERVER_URL)
    try:
        async with DatabaseProxy(server.host or "127.0.0.1", server.port or 5432) as proxy:
            yield proxy, proxy.url_for(server.set(database=name))
    finally:
        await _on_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _on_server(statement: str) -> None:
    engine = create_engine(SERVER_URL).execution_options(isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def is_review(message) -> bool:
    return actions.CONFIRM in str(message.reply_markup)


async def story_told(reporter: Reporter) -> None:
    """/start, the language, the quick report's story: the reporter is now asked where it happened, and the bot
    has finished with everything they sent."""
    reporter.api.send_command(reporter.user, "/start")
    await reporter.wait(lambda m: "lang:" in str(m.reply_markup))
    await reporter.press_and_wait(f"lang:{CHOSEN_LANGUAGE}", lambda m: "begin" in str(m.reply_markup))
    await reporter.press_and_wait("begin", lambda m: asks(m, "description"))
    await reporter.say(STORY, lambda m: asks(m, "region"))
    await handled_so_far(reporter.api, reporter.user, reporter.user.private_chat())


def errors_logged(caplog) -> list[str]:
    """What the error handler and the scheduled jobs logged as errors or with a traceback."""
    app = [r for r in caplog.records if r.name == "bot.telegram.app"]
    return [r.getMessage() for r in app if r.levelno >= logging.ERROR or r.exc_info]


@needs_postgres
async def test_a_silent_partition_gets_a_clear_answer_and_the_bot_recovers(
    api, make_settings, proxied_database, caplog, monkeypatch
):
    proxy, url = proxied_database
    monkeypatch.setattr(reporter_handlers, "CLEARING_INTERVAL", timedelta(seconds=1))  # a job meets the outage
    caplog.set_level(logging.WARNING)
    settings = bot_settings(make_settings, api, database_url=url)
    reporter = Reporter(api, FakeUser(id=7300001, first_name="Dilnoza", language_code=PHONE_LANGUAGE))
    async with running_bot(settings):
        await story_told(reporter)

        async with proxy.partition():
            after = api.mark(reporter.chat)
            api.send_text(reporter.user, PLACE)
            told = await api.wait_for_message(reporter.chat, after=after, timeout=ANSWER_WITHIN)
            assert told.text == gettext_for(PHONE_LANGUAGE)(UNAVAILABLE)
            await api.wait_until(lambda: any("scheduled job clear_chats" in r.getMessage() for r in caplog.records))

        review = await reporter.say(PLACE, is_review)  # the same answer again, no restart
        assert STORY in review.text and PLACE_NAME in review.text  # the story told before the outage is kept

    assert errors_logged(caplog) == []  # an outage is one warning line per failure


@needs_postgres
async def test_a_refused_connection_answers_reporters_and_staff_but_not_other_groups(
    api, make_settings, proxied_database
):
    proxy, url = proxied_database
    settings = bot_settings(make_settings, api, database_url=url, staff_language="kk")
    reporter = Reporter(api, FakeUser(id=7300002, first_name="Aziz", language_code=PHONE_LANGUAGE))
    async with running_bot(settings):
        await story_told(reporter)

        async with proxy.refusal():
            after = api.mark(reporter.chat)
            await reporter.press(actions.country("region", "UZ"))  # the press is answered: no spinner stays
            told = await api.wait_for_message(reporter.chat, after=after, timeout=ANSWER_WITHIN)
            assert told.text == gettext_for(PHONE_LANGUAGE)(UNAVAILABLE)
            staff_after = api.mark(STAFF_CHAT)
            api.send_group_text(STAFF_CHAT, STAFF_MEMBER, "/tips")
            staff_told = await api.wait_for_message(STAFF_CHAT, after=staff_after, timeout=ANSWER_WITHIN)
            assert staff_told.text == gettext_for("kk")(STAFF_UNAVAILABLE)
            api.send_group_text(STRANGERS_GROUP, STRANGER, "/tips")  # a group the bot cannot tell is not staff
            await handled_so_far(api, STRANGER, {"id": STRANGERS_GROUP, "type": "supergroup"})
            assert api.sent_to(STRANGERS_GROUP) == []

        await reporter.press(actions.country("region", "UZ"))  # the same message now lists the regions
        review = await reporter.press_and_wait(actions.region("region", "UZ-AN"), is_review)
        assert STORY in review.text and PLACE_NAME in review.text


async def test_a_write_waiting_a_few_seconds_for_another_writer_goes_through(api, make_settings, tmp_path):
    assert LOCK_HELD < SQLITE_BUSY_TIMEOUT
    database = tmp_path / "tipbot.db"
    settings = bot_settings(make_settings, api, database_url=f"sqlite+aiosqlite:///{database}")
    reporter = Reporter(api, FakeUser(id=7300003, first_name="Gulnora", language_code=CHOSEN_LANGUAGE))
    async with running_bot(settings):
        await story_told(reporter)
        other_writer = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        await asyncio.to_thread(other_writer.execute, "BEGIN IMMEDIATE")
        after = api.mark(reporter.chat)
        api.send_text(reporter.user, PLACE)
        await api.wait_for_updates_consumed()
        await asyncio.sleep(LOCK_HELD)
        await asyncio.to_thread(other_writer.execute, "COMMIT")
        other_writer.close()
        review = await api.wait_for_message(reporter.chat, is_review, after=after)
        assert [m.text for m in reporter.messages()[after:]] == [review.text]  # no error on the way
        assert STORY in review.text and PLACE_NAME in review.text
