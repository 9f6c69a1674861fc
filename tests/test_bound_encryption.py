"""Attachments, notes and exchanges are encrypted bound to their tip: a row moved to another tip does not open
there, and a row that does not decrypt is left out with a log line naming no row, while listings, the digest
and follow-up exchanges carry on with the rest. Rows stored before the binding are re-encrypted once."""

from __future__ import annotations

import logging
from datetime import date, datetime

import pytest
from sqlalchemy import text

from bot.digest.build import build_digest
from bot.privacy.crypto import Cipher
from bot.staffdesk import StaffDesk
from storage.repository import BOUND_STATE, NewTip

TODAY = date(2026, 11, 27)
STAFF = 5550001


@pytest.fixture
def skipped(caplog):
    caplog.set_level(logging.WARNING, logger="storage")
    return caplog


async def store_tip(runtime, key: str, story: str, files: tuple[bytes, ...] = ()) -> str:
    repository = runtime.repository
    await repository.save_draft(key, {}, datetime(2026, 11, 27, 9))
    refs = [await repository.add_draft_file(key, "image/png", data) for data in files]
    tip = NewTip("forced-labour", 1, {"description": story}, False, TODAY, key.ljust(64, "0"))
    return await repository.submit_tip(key, tip, refs)


async def sql(runtime, statement: str, **values) -> list:
    async with runtime.engine.begin() as connection:
        result = await connection.execute(text(statement), values)
        return result.all() if result.returns_rows else []


def assert_logged_without_ids(log, line: str, *ids: str) -> None:
    assert line in log.text
    assert not any(tip_id in log.text or tip_id[:8] in log.text for tip_id in ids)


async def test_an_attachment_moved_to_another_tip_does_not_open_there(runtime, skipped):
    first = await store_tip(runtime, "a", "first story", (b"FILE-FIRST",))
    second = await store_tip(runtime, "b", "second story", (b"FILE-SECOND",))
    await sql(runtime, "UPDATE attachments SET tip_id = :to WHERE tip_id = :moved", to=second, moved=first)

    tips = {tip.id: tip for tip in await runtime.repository.pending_tips()}
    assert [file.data for file in tips[second].files] == [b"FILE-SECOND"]
    assert tips[first].files == []
    assert_logged_without_ids(skipped, "skipped 1 attachment(s) that do not decrypt", first, second)
    digest = build_digest(await runtime.repository.tips_pending_for(-100123), runtime.flows, "en", TODAY)
    assert len(digest.entries) == 2
    answer = await StaffDesk(runtime).tip(STAFF, second[:8], "en")
    assert [file.data for _tip, _n, file in answer.files] == [b"FILE-SECOND"]


async def test_a_note_moved_to_another_tip_does_not_open_there(runtime, skipped):
    first = await store_tip(runtime, "a", "first story")
    second = await store_tip(runtime, "b", "second story")
    await runtime.records.add_note(first, STAFF, "about the first", TODAY)
    await runtime.records.add_note(second, STAFF, "about the second", TODAY)
    await sql(runtime, "UPDATE notes SET tip_id = :to WHERE tip_id = :moved", to=second, moved=first)

    assert [note.text for note in await runtime.records.notes(second)] == ["about the second"]
    assert_logged_without_ids(skipped, "skipped 1 note(s) that do not decrypt", first, second)
    answer = await StaffDesk(runtime).tip(STAFF, second[:8], "en")
    assert "about the second" in answer.texts[0] and "about the first" not in answer.texts[0]


async def test_an_exchange_or_its_file_moved_to_another_tip_does_not_open_there(runtime, skipped):
    first = await store_tip(runtime, "a", "first story")
    second = await store_tip(runtime, "b", "second story")
    records = runtime.records
    moved = await records.add_exchange(first, "reporter", "answer on the first", TODAY)
    with_file = await records.add_exchange(first, "reporter", "", TODAY, [("image/png", b"PHOTO-FIRST")])
    own = await records.add_exchange(second, "reporter", "answer on the second", TODAY, [("image/png", b"PHOTO")])
    await sql(runtime, "UPDATE exchanges SET tip_id = :to WHERE id = :moved", to=second, moved=moved.id)
    await sql(
        runtime, "UPDATE attachments SET exchange_id = :to WHERE exchange_id = :moved", to=own.id, moved=with_file.id
    )

    exchanges = await records.exchanges(second)
    assert [(e.text, [f.data for f in e.files]) for e in exchanges] == [("answer on the second", [b"PHOTO"])]
    assert_logged_without_ids(skipped, "skipped 1 message(s) that do not decrypt", first, second)
    assert_logged_without_ids(skipped, "skipped 1 attachment(s) that do not decrypt", first, second)
    waiting = await records.undelivered_answers()
    assert {(e.tip_id, e.text) for e in waiting} == {(first, ""), (second, "answer on the second")}


async def test_a_tampered_tip_is_left_out_of_listings_and_the_digest(runtime, skipped):
    first = await store_tip(runtime, "a", "first story")
    second = await store_tip(runtime, "b", "second story")
    [(answers,)] = await sql(runtime, "SELECT answers FROM tips WHERE id = :id", id=first)
    tampered = answers[:-1] + bytes([answers[-1] ^ 1])
    await sql(runtime, "UPDATE tips SET answers = :blob WHERE id = :id", blob=tampered, id=first)

    assert [tip.id for tip in await runtime.repository.pending_tips()] == [second]
    assert [tip.id for tip in await runtime.repository.list_tips(None)] == [second]
    assert await runtime.repository.get_tip(first) is None
    assert_logged_without_ids(skipped, "skipped 1 report(s) that do not decrypt", first, second)
    digest = build_digest(await runtime.repository.tips_pending_for(-100123), runtime.flows, "en", TODAY)
    assert len(digest.entries) == 1 and "second story" in digest.entries[0].texts[0]
    desk = StaffDesk(runtime)
    assert (await desk.tip(STAFF, first[:8], "en")).texts == [f"No report {first[:8]}."]
    assert "Reports: 1" in (await desk.stats(STAFF, "en")).texts[0]


async def test_rows_stored_before_the_binding_are_re_encrypted_once(runtime, make_settings, database_url, skipped):
    from bot.runtime import Runtime

    first = await store_tip(runtime, "a", "first story", (b"FILE-FIRST",))
    second = await store_tip(runtime, "b", "second story")
    await runtime.records.add_note(first, STAFF, "old note", TODAY)
    await runtime.records.add_exchange(first, "reporter", "old answer", TODAY, [("image/png", b"OLD-PHOTO")])
    cipher = Cipher(runtime.keys.data_key)
    for table, column in (("attachments", "data"), ("notes", "text"), ("exchanges", "text")):
        rows = await sql(runtime, f"SELECT id, {column} FROM {table}")
        kind = {"attachments": "attachment", "notes": "note", "exchanges": "exchange"}[table]
        for row_id, blob in rows:
            bound = f"{kind}:{first}:{row_id}".encode()
            legacy = cipher.encrypt(cipher.decrypt(blob, bound), f"{kind}:{row_id}".encode())
            await sql(runtime, f"UPDATE {table} SET {column} = :blob WHERE id = :id", blob=legacy, id=row_id)
    await sql(runtime, "DELETE FROM state WHERE key = :key", key=BOUND_STATE)
    legacy_blobs = await sql(runtime, "SELECT id, data FROM attachments")

    restarted = await Runtime.open(make_settings(database_url=database_url))  # the re-encryption runs at start
    try:
        [tip] = [tip for tip in await restarted.repository.pending_tips() if tip.id == first]
        assert [file.data for file in tip.files] == [b"FILE-FIRST"]
        assert [note.text for note in await restarted.records.notes(first)] == ["old note"]
        [exchange] = await restarted.records.exchanges(first)
        assert exchange.text == "old answer" and [f.data for f in exchange.files] == [b"OLD-PHOTO"]
        assert await restarted.records.state(BOUND_STATE) == "done"
        rebound = await sql(restarted, "SELECT id, data FROM attachments")
        assert sorted(rebound) != sorted(legacy_blobs) and "do not decrypt" not in skipped.text
    finally:
        await restarted.close()

    again = await Runtime.open(make_settings(database_url=database_url))
    try:
        assert [f.data for f in (await again.repository.get_tip(first)).files] == [b"FILE-FIRST"]
        assert sorted(await sql(again, "SELECT id, data FROM attachments")) == sorted(rebound)
        await sql(again, "UPDATE attachments SET tip_id = :to WHERE tip_id = :moved", to=second, moved=first)
        assert (await again.repository.get_tip(second)).files == []
    finally:
        await again.close()
