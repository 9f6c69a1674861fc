"""The repository on SQLite and PostgreSQL: drafts, tips with files, deliveries, and what is at rest."""

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from storage.repository import NewTip


def new_tip(**overrides):
    values = dict(
        flow_id="forced-labour",
        flow_version=1,
        answers={"story": "Хоким заставил"},
        urgent=False,
        created_on=date(2026, 11, 27),
        receipt_hash="0" * 64,
    )
    return NewTip(**{**values, **overrides})


async def test_draft_round_trip_and_delete(runtime):
    repo = runtime.repository
    await repo.save_draft("a" * 64, {"lang": "uz", "draft": None}, datetime(2026, 11, 27, 10, 42))
    assert await repo.load_draft("a" * 64) == {"lang": "uz", "draft": None}
    await repo.delete_draft("a" * 64)
    assert await repo.load_draft("a" * 64) is None


async def test_drafts_expire_with_their_files(runtime):
    repo = runtime.repository
    now = datetime(2026, 11, 27, 12, 0)
    await repo.save_draft("old", {"lang": "ru"}, now - timedelta(hours=25))
    ref = await repo.add_draft_file("old", "image/jpeg", b"jpeg-bytes")
    await repo.save_draft("new", {"lang": "kk"}, now - timedelta(hours=2))
    assert await repo.expire_drafts(now - timedelta(hours=24)) == 1
    assert await repo.load_draft("old") is None and await repo.load_draft("new") is not None
    try:
        await repo.submit_tip("old", new_tip(), [ref])
    except LookupError:
        pass
    else:
        raise AssertionError("the expired draft's file should be gone")


async def test_submit_moves_files_into_the_tip_and_drops_the_draft(runtime):
    repo = runtime.repository
    await repo.save_draft("k", {"lang": "en"}, datetime(2026, 11, 27, 9))
    first = await repo.add_draft_file("k", "image/jpeg", b"first")
    second = await repo.add_draft_file("k", "image/png", b"second")
    tip_id = await repo.submit_tip("k", new_tip(urgent=True), [second, first])
    assert await repo.load_draft("k") is None
    tip = await repo.get_tip(tip_id)
    assert tip.answers == {"story": "Хоким заставил"} and tip.urgent
    assert [(f.mime, f.data) for f in tip.files] == [("image/png", b"second"), ("image/jpeg", b"first")]
    assert len(tip_id) == 32 and tip.created_on == date(2026, 11, 27)


async def test_a_file_of_another_draft_cannot_be_taken(runtime):
    repo = runtime.repository
    await repo.save_draft("mine", {}, datetime(2026, 11, 27, 9))
    await repo.save_draft("theirs", {}, datetime(2026, 11, 27, 9))
    ref = await repo.add_draft_file("theirs", "image/jpeg", b"x")
    try:
        await repo.submit_tip("mine", new_tip(), [ref])
    except LookupError:
        pass
    else:
        raise AssertionError("submitting another draft's file must fail")
    assert await repo.count_tips() == 0


async def test_deliveries_per_chat_then_digested_when_all_chats_have_it(runtime):
    repo = runtime.repository
    await repo.save_draft("a", {}, datetime(2026, 11, 27, 9))
    one = await repo.submit_tip("a", new_tip(receipt_hash="1" * 64), [])
    await repo.save_draft("b", {}, datetime(2026, 11, 27, 9))
    two = await repo.submit_tip("b", new_tip(receipt_hash="2" * 64), [])
    staff = [-1001, -1002]
    await repo.record_parts(-1001, [(one, "text:1")], [one])
    await repo.record_parts(-1001, [(one, "text:1")], [one])  # recording twice is harmless
    assert [t.id for t in await repo.tips_pending_for(-1001)] == [two]
    assert {t.id for t in await repo.tips_pending_for(-1002)} == {one, two}
    assert await repo.mark_digested(staff) == 0
    await repo.record_parts(-1002, [(one, "text:1")], [one])
    assert await repo.mark_digested(staff) == 1
    assert [t.id for t in await repo.pending_tips()] == [two]


async def test_answers_and_files_are_encrypted_at_rest(runtime, database_url):
    repo = runtime.repository
    await repo.save_draft("k", {"lang": "ru", "secret": "черновик-маркер"}, datetime(2026, 11, 27, 9))
    ref = await repo.add_draft_file("k", "image/jpeg", b"FILE-MARKER-123")
    await repo.submit_tip("k", new_tip(answers={"story": "ответ-маркер"}), [ref])
    if database_url.startswith("sqlite"):
        await runtime.engine.dispose()
        raw = Path(database_url.split("///", 1)[1]).read_bytes()
        for marker in ("ответ-маркер", "черновик-маркер", "FILE-MARKER-123"):
            assert marker.encode() not in raw


async def test_rotated_key_still_opens_old_tips(make_settings, database_url):
    from bot.runtime import Runtime

    old = await Runtime.open(make_settings(database_url=database_url, secret_key="o" * 40))
    await old.repository.save_draft("k", {}, datetime(2026, 11, 27, 9))
    tip_id = await old.repository.submit_tip("k", new_tip(answers={"story": "до смены ключа"}), [])
    await old.close()

    rotated = await Runtime.open(
        make_settings(database_url=database_url, secret_key="n" * 40, previous_secret_keys="x" * 40 + "," + "o" * 40)
    )
    try:
        assert (await rotated.repository.get_tip(tip_id)).answers == {"story": "до смены ключа"}
        await rotated.repository.save_draft("k2", {}, datetime(2026, 11, 27, 9))
        new_id = await rotated.repository.submit_tip("k2", new_tip(receipt_hash="9" * 64), [])
    finally:
        await rotated.close()

    forgotten = await Runtime.open(make_settings(database_url=database_url, secret_key="n" * 40))
    try:
        assert (await forgotten.repository.get_tip(new_id)).answers == {"story": "Хоким заставил"}
        assert await forgotten.repository.get_tip(tip_id) is None  # its key is gone: left out, not an error
    finally:
        await forgotten.close()


async def test_dropping_a_draft_removes_its_files(runtime):
    repo = runtime.repository
    await repo.save_draft("k", {"lang": "ru"}, datetime(2026, 11, 27, 9))
    ref = await repo.add_draft_file("k", "image/jpeg", b"photo")
    await repo.delete_draft_files("k")
    assert await repo.load_draft("k") == {"lang": "ru"}
    with pytest.raises(LookupError):
        await repo.submit_tip("k", new_tip(), [ref])


async def test_a_migration_cut_short_leaves_nothing_half_done(tmp_path, monkeypatch):
    """As when the bot is killed during its first start: the next start migrates from the beginning."""
    from alembic import command
    from sqlalchemy import inspect

    from storage import database

    url = f"sqlite+aiosqlite:///{tmp_path / 'tipbot.db'}"
    engine = database.create_engine(url)
    real_upgrade = command.upgrade

    def killed_after_the_first_migration(config, _revision):
        real_upgrade(config, "0001")
        raise KeyboardInterrupt

    monkeypatch.setattr(database.command, "upgrade", killed_after_the_first_migration)
    with pytest.raises(KeyboardInterrupt):
        await database.upgrade(engine)
    async with engine.connect() as connection:
        assert await connection.run_sync(lambda sync: inspect(sync).get_table_names()) == []
    monkeypatch.setattr(database.command, "upgrade", real_upgrade)
    await database.upgrade(engine)
    async with engine.connect() as connection:
        assert "tips" in await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    await engine.dispose()
