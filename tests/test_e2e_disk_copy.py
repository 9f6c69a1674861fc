"""A copy of the server's disk links no account to a report: the data directory (database, WAL, shm, key)
copied while the bot runs, right after a report is sent and right after one is cancelled, holds none of
the reporter's answers, files, chat id or the chat's HMAC in any byte. On PostgreSQL the same holds for the
per-chat tables' files and pg_wal once the bot's rewrite after the ending has run (what the README says)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.flows.engine import actions
from bot.runtime import Runtime
from bot.screens import RECEIPT_DONE

from .conftest import POSTGRES_URL
from .fakebotapi import FakeUser
from .harness import Reporter, asks, bot_settings, photo_with_gps, running_bot
from .test_e2e_reporter import answer_first_part, describe_and_place, open_questionnaire

STORY = "Direktor-Marker-8841 bizni dalaga haydadi"
PHOTO_MARKER = "Camera-Serial-5593"


def needles(runtime: Runtime, chat_id: int) -> dict[str, bytes]:
    chat_key = runtime.keys.chat_key(chat_id)
    return {
        "chat id": str(chat_id).encode(),
        "HMAC (hex)": chat_key.encode(),
        "HMAC (bytes)": bytes.fromhex(chat_key),
        "answer": STORY.encode(),
        "file": PHOTO_MARKER.encode(),
    }


def copy_data_dir(data_dir: Path, into: Path) -> bytes:
    """What an attacker copying the directory gets, as one byte string."""
    shutil.copytree(data_dir, into)
    return b"".join(path.read_bytes() for path in sorted(into.rglob("*")) if path.is_file())


def found(blob: bytes, runtime: Runtime, chat_id: int) -> list[str]:
    return [name for name, needle in needles(runtime, chat_id).items() if needle in blob]


async def write_report(reporter: Reporter) -> None:
    """Up to the review, with a story and a photo, so the draft holds answers, files and the chat's key."""
    await open_questionnaire(reporter, "uz")
    await answer_first_part(reporter)
    await reporter.say("15.09.2026", lambda m: asks(m, "people"))
    await reporter.say("40", lambda m: asks(m, "children"))
    await reporter.press_and_wait(actions.option("children", "no"), lambda m: asks(m, "ordered_by"))
    await reporter.press_and_wait(actions.option("ordered_by", "hokimiyat"), lambda m: asks(m, "description"))
    await describe_and_place(reporter, STORY)
    after = reporter.api.mark(reporter.chat)
    reporter.api.send_photo(reporter.user, photo_with_gps(PHOTO_MARKER))
    await reporter.wait(lambda m: asks(m, "evidence") and "1" in (m.text or ""), after)
    await reporter.press_and_wait(actions.nav("evidence", "done"), lambda m: asks(m, "danger_now"))
    await reporter.press_and_wait(actions.option("danger_now", "no"), lambda m: actions.CONFIRM in str(m.reply_markup))


async def test_a_copy_of_the_data_directory_after_sending_or_cancelling_links_nobody(api, make_settings, tmp_path):
    settings = bot_settings(make_settings, api)
    data_dir = settings.data_dir
    sender = Reporter(api, FakeUser(id=964813572201, first_name="Sender", language_code="uz"))
    canceller = Reporter(api, FakeUser(id=964813572202, first_name="Canceller", language_code="uz"))
    async with running_bot(settings) as runtime:
        await write_report(sender)
        during = copy_data_dir(data_dir, tmp_path / "during")
        assert "HMAC (hex)" in found(during, runtime, sender.chat), "the search finds a draft in flight"

        await sender.press_and_wait(actions.CONFIRM, lambda m: RECEIPT_DONE in str(m.reply_markup))
        receipt_shown = copy_data_dir(data_dir, tmp_path / "receipt")
        assert "HMAC (hex)" in found(receipt_shown, runtime, sender.chat), "the receipt waits, keyed by the chat"
        await sender.press_and_wait(RECEIPT_DONE, lambda m: m.text == "Chat tozalandi.")
        after_sending = copy_data_dir(data_dir, tmp_path / "sent")
        assert found(after_sending, runtime, sender.chat) == []

        await write_report(canceller)
        await canceller.say("/cancel", lambda m: m.text == "Chat tozalandi." or m.text == "Chat cleared.")
        after_cancelling = copy_data_dir(data_dir, tmp_path / "cancelled")
        assert found(after_cancelling, runtime, canceller.chat) == []
        assert found(after_cancelling, runtime, sender.chat) == []

    with sqlite3.connect(tmp_path / "cancelled" / "tipbot.db") as copy:
        assert copy.execute("SELECT count(*) FROM drafts").fetchone() == (0,)
        assert copy.execute("SELECT count(*) FROM draft_files").fetchone() == (0,)
    wal = tmp_path / "cancelled" / "tipbot.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0, "the write-ahead log was emptied"


PER_CHAT_RELATIONS = """
    SELECT c.oid::regclass::text FROM pg_class c
    WHERE c.relname IN ('drafts', 'draft_files', 'clearings', 'code_attempts', 'inbox')
       OR c.oid IN (SELECT indexrelid FROM pg_index
                    WHERE indrelid::regclass::text IN ('drafts', 'draft_files', 'clearings', 'inbox'))
"""


async def postgres_pages(runtime: Runtime) -> bytes:
    """Every page of the per-chat tables and their indexes as PostgreSQL holds it (in memory or on disk),
    dead tuples included, read with pageinspect."""
    async with runtime.engine.begin() as connection:
        await connection.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
        pages = []
        for (relation,) in (await connection.execute(text(PER_CHAT_RELATIONS))).all():
            blocks = (await connection.execute(text(f"SELECT pg_relation_size('{relation}') / 8192"))).scalar_one()
            for block in range(blocks):
                page = await connection.execute(text(f"SELECT get_raw_page('{relation}', {block})"))
                pages.append(bytes(page.scalar_one()))
    return b"".join(pages)


def wal_written_since(data_directory: Path, since: float) -> bytes:
    segments = [path for path in (data_directory / "pg_wal").glob("0*") if path.stat().st_mtime >= since]
    return b"".join(path.read_bytes() for path in segments)


@pytest.mark.skipif(not POSTGRES_URL, reason="TIPBOT_TEST_DATABASE_URL is not set")
async def test_on_postgresql_deleted_drafts_leave_nothing_in_the_tables_pages_or_the_wal(api, make_settings):
    from .conftest import reset_postgres

    await reset_postgres(POSTGRES_URL)
    settings = bot_settings(make_settings, api, database_url=POSTGRES_URL)
    started = time.time() - 1
    reporter = Reporter(api, FakeUser(id=964813572203, first_name="Sender", language_code="uz"))
    async with running_bot(settings) as runtime:
        await write_report(reporter)
        assert "HMAC (hex)" in found(await postgres_pages(runtime), runtime, reporter.chat), "the search works"
        await reporter.press_and_wait(actions.CONFIRM, lambda m: RECEIPT_DONE in str(m.reply_markup))
        await reporter.press_and_wait(RECEIPT_DONE, lambda m: m.text == "Chat tozalandi.")
        await runtime.scrubber.settled()
        assert found(await postgres_pages(runtime), runtime, reporter.chat) == []
        async with runtime.engine.connect() as connection:
            directory = Path((await connection.execute(text("SHOW data_directory"))).scalar_one())
        if not os.access(directory / "pg_wal", os.R_OK):
            pytest.skip("pg_wal is not readable by this test (another machine or user)")
        wal = wal_written_since(directory, started)
        assert wal, "the WAL written during the test was read"
        assert found(wal, runtime, reporter.chat) == []
