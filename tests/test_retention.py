"""Retention: a tip past TIPBOT_RETENTION_DAYS goes with everything that belongs to it, unless kept; staff are
warned a week before; the deleted bytes are gone from the SQLite file."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from bot.digest.retention import cutoff, purge, retention_notice
from bot.digest.send import Digester
from bot.i18n import gettext_for
from storage.repository import NewTip

from .cli import tipbot
from .harness import STAFF_CHAT

TODAY = date(2026, 11, 27)


async def add_tip(runtime, key: str, created_on: date, story: str, keep: bool = False) -> str:
    repo = runtime.repository
    await repo.save_draft(key, {}, datetime(2026, 11, 27, 9))
    ref = await repo.add_draft_file(key, "image/jpeg", f"FILE-{story}".encode())
    tip = NewTip("forced-labour", 1, {"description": story}, False, created_on, key.ljust(64, "0"))
    tip_id = await repo.submit_tip(key, tip, [ref])
    await runtime.records.add_note(tip_id, 5550001, f"note on {story}", created_on)
    await runtime.records.add_exchange(tip_id, "staff", f"question on {story}", created_on)
    await runtime.records.add_exchange(tip_id, "reporter", f"answer on {story}", created_on, [("image/png", b"PNG")])
    await repo.record_parts(STAFF_CHAT, [(tip_id, "text:1")], [tip_id])
    await repo.audit(5550001, "view", tip_id, datetime(2026, 11, 27, 10))
    if keep:
        await repo.set_keep(tip_id, True)
    return tip_id


async def test_old_tips_go_with_everything_kept_ones_stay(runtime, database_url):
    repo = runtime.repository
    old = await add_tip(runtime, "old", TODAY - timedelta(days=91), "OLD-STORY-MARKER")
    kept = await add_tip(runtime, "kept", TODAY - timedelta(days=200), "KEPT-STORY", keep=True)
    recent = await add_tip(runtime, "recent", TODAY - timedelta(days=90), "RECENT-STORY")
    async with runtime.engine.connect() as connection:
        blobs = [
            row[0] for row in await connection.execute(text("SELECT answers FROM tips WHERE id = :id"), {"id": old})
        ]
        blobs += [
            row[0]
            for row in await connection.execute(text("SELECT data FROM attachments WHERE tip_id = :id"), {"id": old})
        ]

    assert await purge(repo, TODAY, 90) == 1

    assert await repo.get_tip(old) is None
    assert await repo.get_tip(kept) is not None and await repo.get_tip(recent) is not None
    assert await runtime.records.notes(old) == [] and await runtime.records.exchanges(old) == []
    assert await repo.delivered_parts(STAFF_CHAT, [old]) == {}
    assert [tip for _s, _a, tip, _t in await repo.audit_entries()].count(None) == 1  # the reference is gone
    async with runtime.engine.connect() as connection:
        for table in ("attachments", "notes", "exchanges", "delivered_parts", "deliveries"):
            count = await connection.execute(text(f"SELECT count(*) FROM {table} WHERE tip_id = :id"), {"id": old})
            assert count.scalar_one() == 0, table
    if database_url.startswith("sqlite"):
        await runtime.engine.dispose()
        path = Path(database_url.split("///", 1)[1])
        stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert blobs and all(blob not in stored for blob in blobs), "the deleted tip's bytes are still in the file"
        assert old.encode() not in stored


async def test_staff_are_warned_seven_days_before(runtime):
    soon = await add_tip(runtime, "soon", cutoff(TODAY, 90) + timedelta(days=6), "SOON")
    later = await add_tip(runtime, "later", cutoff(TODAY, 90) + timedelta(days=7), "LATER")
    await add_tip(runtime, "kept", cutoff(TODAY, 90) + timedelta(days=6), "KEPT", keep=True)
    expiring = await runtime.repository.expiring_on(cutoff(TODAY, 90) + timedelta(days=6))
    assert [tip.id for tip in expiring] == [soon]
    notice = retention_notice(expiring, "en", 90)
    assert soon[:8] in notice and later[:8] not in notice and "/keep" in notice
    # seven days later the same tip is past the limit
    assert await purge(runtime.repository, TODAY + timedelta(days=7), 90) == 1
    assert await runtime.repository.get_tip(soon) is None


async def test_digest_carries_the_notice(runtime):
    class Recorder:
        def __init__(self):
            self.texts = []

        async def send_message(self, chat_id, text):
            self.texts.append(text)

    soon = await add_tip(runtime, "soon", cutoff(TODAY, 90) + timedelta(days=6), "SOON")
    await runtime.repository.record_parts(STAFF_CHAT, [], [soon])  # already digested in this chat
    await runtime.repository.mark_digested([STAFF_CHAT])
    bot = Recorder()
    digester = Digester(bot, runtime.repository, runtime.records, runtime.flows, "en", 90)  # type: ignore[arg-type]
    await digester.send([STAFF_CHAT], TODAY)
    [message] = bot.texts
    assert message.startswith(gettext_for("en")("No new reports since the last digest."))
    assert soon[:8] in message


def test_purge_command(tmp_path):
    result = tipbot("purge", cwd=tmp_path, env={"TIPBOT_RETENTION_DAYS": "30"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "deleted 0 report(s) older than 30 days (kept ones stay)"
