"""Every urgent alert (and reporter's answer) exactly once in every staff chat: 50 urgent reports at once, with
and without a fifth of Telegram's calls failing; a crash at each step of posting a notice; and `tipbot run`
killed again and again while alerts go out, on SQLite and PostgreSQL.

A notice is a placeholder, claimed in the database, then edited into the notice (bot/digest/notices.py): a
crash before the claim is stored may leave one placeholder, never a second notice."""

from __future__ import annotations

import asyncio
import random
import signal
from collections import Counter
from datetime import date

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection
from telegram import Bot
from telegram.ext import ExtBot

from bot.digest import notices as notices_module
from bot.digest.jobs import send_notices
from bot.digest.notices import ALONE_UP_TO, Notifier, Piece, pack, placeholder_text
from bot.i18n import gettext_for
from bot.runtime import Runtime
from bot.telegram.ratelimit import SharedRateLimiter
from storage.database import alembic_config, create_engine, upgrade
from storage.notice_claims import NoticeClaims

from .fakebotapi import FakeBotAPI
from .harness import STAFF_CHAT, photo_with_gps, running_bot
from .test_kill import bot_environment, start_bot
from .test_staff_once import store_urgent

CHATS = [STAFF_CHAT, -1009876543210]
REPORTERS = 50
NOTICE_CALLS = ("sendMessage", "editMessageText")


class Crash(Exception):
    """Stands for the process dying at that very step."""


def headings(tip_ids: list[str], lang: str) -> dict[str, str]:
    return {tip_id: gettext_for(lang)("🔴 Urgent report {id}").format(id=tip_id[:8]) for tip_id in tip_ids}


def shown(api: FakeBotAPI, chat: int) -> list[str]:
    """The texts a staff chat shows now (edits applied, deleted messages gone)."""
    return [m.text or "" for m in api.sent_to(chat) if not m.deleted]


def alert_counts(api: FakeBotAPI, chat: int, tip_ids: list[str], lang: str) -> Counter:
    texts = shown(api, chat)
    return Counter(
        {tip_id: sum(t.count(heading) for t in texts) for tip_id, heading in headings(tip_ids, lang).items()}
    )


def placeholders(api: FakeBotAPI, chat: int, lang: str) -> int:
    texts = shown(api, chat)
    return texts.count(placeholder_text(lang)) + texts.count(placeholder_text(lang, urgent=True))


def notifier(runtime: Runtime, bot: Bot) -> Notifier:
    return Notifier(bot, runtime.repository, runtime.records, runtime.flows, "en", pause=0.01)


def crash_once(monkeypatch, owner, name: str, when=lambda *args, **kwargs: True) -> None:
    """`owner.name` raises Crash the first time `when` holds for its arguments, and works after that."""
    original, crashed = getattr(owner, name), []

    async def replacement(*args, **kwargs):
        if not crashed and when(*args, **kwargs):
            crashed.append(True)
            raise Crash
        return await original(*args, **kwargs)

    monkeypatch.setattr(owner, name, replacement)


def two_staff_chats(make_settings, api: FakeBotAPI, **overrides):
    return make_settings(
        token=FakeBotAPI.token,
        api_base_url=api.base_url,
        api_file_url=api.base_file_url,
        staff_chat_ids=",".join(map(str, CHATS)),
        **overrides,
    )


# ---- 50 reporters at once, in the process -------------------------------------------------------------------


@pytest.mark.parametrize("failing", [0.0, 0.2], ids=["calm", "a-fifth-failing"])
async def test_fifty_urgent_reports_at_once_alert_every_staff_chat_once(api, make_settings, failing):
    settings = two_staff_chats(make_settings, api)
    bot = ExtBot(FakeBotAPI.token, base_url=api.base_url, rate_limiter=SharedRateLimiter())  # Telegram's limits
    async with running_bot(settings) as runtime, bot:
        if failing:
            api.chaos(failing, NOTICE_CALLS, seed=11)
        loop = asyncio.get_running_loop()
        began = loop.time()

        async def report(number: int) -> str:  # as the reporter's handler does once the tip is stored
            tip_id = await store_urgent(runtime, number)
            await send_notices(runtime, bot)
            return tip_id

        ids = await asyncio.gather(*(report(number) for number in range(REPORTERS)))
        for _run in range(5):  # a notice whose retries all failed goes with the next report's run
            if not await runtime.repository.urgent_unalerted():
                break
            await send_notices(runtime, bot)
        took = loop.time() - began
        api.calm()
        assert await runtime.repository.urgent_unalerted() == []
        urgent_first = placeholder_text(settings.staff_language, urgent=True)  # what staff phones show
        for chat in CHATS:
            assert alert_counts(api, chat, ids, settings.staff_language) == Counter(dict.fromkeys(ids, 1))
            assert placeholders(api, chat, settings.staff_language) == 0
            sent = [c.params["text"] for c in api.calls_to("sendMessage") if int(c.params["chat_id"]) == chat]
            assert sent and set(sent) == {urgent_first}
        calls = [c for method in NOTICE_CALLS for c in api.calls_to(method) if int(c.params["chat_id"]) in CHATS]
        if failing:
            assert any(c.result is None for c in calls)  # the faults really happened (a dropped one has no error)
        failed = sum(c.result is None for c in calls)
        print(f"\n{REPORTERS} alerts x {len(CHATS)} staff chats, {failed} of {len(calls)} calls failed: {took:.1f} s")


# ---- a crash at each step of one notice -----------------------------------------------------------------------


async def test_a_crash_before_the_claim_leaves_one_placeholder_and_the_alert_once(api, runtime, monkeypatch):
    ids = [await store_urgent(runtime, number) for number in range(2)]
    crash_once(monkeypatch, NoticeClaims, "claim")
    async with Bot(FakeBotAPI.token, base_url=api.base_url) as bot:
        with pytest.raises(Crash):
            await notifier(runtime, bot).send_pending(CHATS)
        assert sum(placeholders(api, chat, "en") for chat in CHATS) == 1  # accepted; its message id not stored
        await notifier(runtime, bot).send_pending(CHATS)
    for chat in CHATS:
        assert alert_counts(api, chat, ids, "en") == Counter(dict.fromkeys(ids, 1))
    assert sum(placeholders(api, chat, "en") for chat in CHATS) == 1
    assert await runtime.repository.urgent_unalerted() == []


async def test_a_crash_after_the_edit_finishes_the_same_message(api, runtime, monkeypatch):
    ids = [await store_urgent(runtime, number) for number in range(2)]
    crash_once(monkeypatch, NoticeClaims, "deliver", lambda self, chat_id, parts: bool(parts))
    async with Bot(FakeBotAPI.token, base_url=api.base_url) as bot:
        with pytest.raises(Crash):
            await notifier(runtime, bot).send_pending(CHATS)
        assert sum(len(api.sent_to(chat)) for chat in CHATS) == 3  # one chat stopped after its first alert
        await notifier(runtime, bot).send_pending(CHATS)
    for chat in CHATS:
        assert alert_counts(api, chat, ids, "en") == Counter(dict.fromkeys(ids, 1))
        assert placeholders(api, chat, "en") == 0
    again = [c for c in api.calls_to("editMessageText") if not c.ok]
    assert len(again) == 1 and "not modified" in again[0].error["description"]  # finished by editing it again
    assert [await NoticeClaims.beside(runtime.repository).of_chat(chat) for chat in CHATS] == [[], []]


async def test_a_placeholder_telegram_would_not_edit_is_finished_by_the_next_run(api, runtime):
    ids = [await store_urgent(runtime, number) for number in range(2)]
    async with Bot(FakeBotAPI.token, base_url=api.base_url) as bot:
        api.fail_next("editMessageText", 500, times=6 * len(CHATS))  # every try of each chat's first edit
        await notifier(runtime, bot).send_pending(CHATS)  # the chats are left for later
        assert [len(await NoticeClaims.beside(runtime.repository).of_chat(chat)) for chat in CHATS] == [1, 1]
        await notifier(runtime, bot).send_pending(CHATS)
    for chat in CHATS:
        assert alert_counts(api, chat, ids, "en") == Counter(dict.fromkeys(ids, 1))
        assert placeholders(api, chat, "en") == 0
        assert len(api.sent_to(chat)) == 2  # the claimed placeholder was edited, not posted again


async def test_a_claimed_placeholder_deleted_in_the_chat_is_replaced(api, runtime, monkeypatch):
    [tip_id] = [await store_urgent(runtime, 1)]
    crash_once(monkeypatch, Notifier, "show")
    async with Bot(FakeBotAPI.token, base_url=api.base_url) as bot:
        with pytest.raises(Crash):
            await notifier(runtime, bot).send_pending(CHATS)
        [(chat, claim)] = [
            (c, claim) for c in CHATS for claim in await NoticeClaims.beside(runtime.repository).of_chat(c)
        ]
        await bot.delete_message(chat, claim.message_id)  # a staff member tidied the chat meanwhile
        await notifier(runtime, bot).send_pending(CHATS)
    for chat in CHATS:
        assert alert_counts(api, chat, [tip_id], "en") == Counter({tip_id: 1})
        assert placeholders(api, chat, "en") == 0


async def test_a_long_answer_in_two_messages_survives_a_crash_between_them(api, runtime, monkeypatch):
    tip_id = await store_urgent(runtime, 1)
    first, second = "A" * 3000, "B" * 3000
    await runtime.records.add_exchange(tip_id, "reporter", f"{first}\n{second}", date(2026, 12, 1))
    calls = []

    def second_claim(self, chat_id, message_id, language, pieces) -> bool:
        calls.append(pieces)
        return any(part.startswith("answer:") and piece == 2 for _tip, part, piece in pieces)

    crash_once(monkeypatch, NoticeClaims, "claim", second_claim)
    async with Bot(FakeBotAPI.token, base_url=api.base_url) as bot:
        with pytest.raises(Crash):
            await notifier(runtime, bot).send_pending(CHATS)
        await notifier(runtime, bot).send_pending(CHATS)
    for chat in CHATS:
        texts = shown(api, chat)
        assert sum(first in t for t in texts) == 1 and sum(second in t for t in texts) == 1
        assert alert_counts(api, chat, [tip_id], "en") == Counter({tip_id: 1})
    assert sum(placeholders(api, chat, "en") for chat in CHATS) == 1  # the second piece's, sent before the crash
    assert await runtime.records.undelivered_answers() == []


async def test_an_answers_files_are_sent_once_after_its_text(api, runtime, monkeypatch):
    tip_id = await store_urgent(runtime, 1)
    await runtime.records.add_exchange(tip_id, "reporter", "", date(2026, 12, 1), [("image/jpeg", photo_with_gps())])
    crash_once(monkeypatch, notices_module, "send_album")
    async with Bot(FakeBotAPI.token, base_url=api.base_url) as bot:
        with pytest.raises(Crash):
            await notifier(runtime, bot).send_pending(CHATS)
        await notifier(runtime, bot).send_pending(CHATS)
    heading = gettext_for("en")("💬 The reporter of {id} answered:").format(id=tip_id[:8])
    for chat in CHATS:
        assert sum(t.count(heading) for t in shown(api, chat)) == 1
        assert [m.method for m in api.sent_to(chat)].count("sendPhoto") == 1
    assert await runtime.records.undelivered_answers() == []


async def test_many_waiting_alerts_share_messages_within_telegrams_limit(api, runtime):
    ids = [await store_urgent(runtime, number) for number in range(REPORTERS)]
    async with Bot(FakeBotAPI.token, base_url=api.base_url) as bot:
        await notifier(runtime, bot).send_pending(CHATS)
    for chat in CHATS:
        assert alert_counts(api, chat, ids, "en") == Counter(dict.fromkeys(ids, 1))
        assert len(api.sent_to(chat)) <= 3
    assert all(m.text for chat in CHATS for m in api.sent_to(chat))  # the fake refuses texts over 4096


def test_packing_keeps_split_pieces_alone_and_shared_messages_within_the_limit():
    alert = Piece(("t1", "alert"), 1, "🔴" * 30, True)
    pieces = [alert._replace(key=(f"t{n}", "alert")) for n in range(5)]
    long = [Piece(("t9", "answer:1"), n, "x" * 30, False) for n in (1, 2)]
    messages = pack([*pieces[:2], *long, *pieces[2:]], together=True, limit=100)
    assert [[(p.key[0], p.number) for p in m] for m in messages] == [
        [("t0", 1)],
        [("t1", 1)],
        [("t9", 1)],
        [("t9", 2)],
        [("t2", 1)],
        [("t3", 1)],
        [("t4", 1)],
    ]  # 30 emoji take 60 of Telegram's units: two with the separator are over 100
    messages = pack([p._replace(text="🔴" * 10) for p in pieces], together=True, limit=100)
    assert [len(m) for m in messages] == [4, 1]
    assert [len(m) for m in pack(pieces, together=False)] == [1] * 5


async def test_answers_delivered_before_the_upgrade_keep_their_files_delivered(database_url):
    """Migration 0010: "answer:N" used to mean text and files; the files are now "attached:N"."""
    engine = create_engine(database_url)

    def to_0009(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0009")

    try:
        async with engine.begin() as connection:
            await connection.run_sync(to_0009)
            await connection.execute(
                text(
                    "INSERT INTO tips (id, flow_id, flow_version, answers, created_on, urgent, digest_status,"
                    " receipt_hash, status, keep, alerted) VALUES ('t1', 'f', 1, :blob, :day, true, 'pending',"
                    " 'r1', 'new', false, true)"
                ),
                {"blob": b"x", "day": date(2026, 12, 1)},
            )
            parts = "('t1', -5, 'answer:3'), ('t1', -5, 'alert')"
            await connection.execute(text(f"INSERT INTO delivered_parts (tip_id, chat_id, part) VALUES {parts}"))
        await upgrade(engine)
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT part FROM delivered_parts ORDER BY part"))
            assert [row[0] for row in rows] == ["alert", "answer:3", "attached:3"]
    finally:
        await engine.dispose()


# ---- `tipbot run` killed while alerts go out --------------------------------------------------------------------

KILLS = 6
WAVE = ALONE_UP_TO
"""Tips stored before most starts: on a quiet day so few go one per message; once many have been alerted, they
share one."""


def notice_calls(api: FakeBotAPI, finished: bool) -> int:
    """Calls that post or edit a notice in a staff chat, begun or (if `finished`) answered."""
    return sum(
        1
        for c in api.calls
        if c.method in NOTICE_CALLS
        and int(c.params.get("chat_id", 0)) in CHATS
        and (not finished or c.result is not None or c.error is not None)
    )


async def calls_to_come(api: FakeBotAPI, runtime: Runtime, ids: list[str], lang: str) -> int:
    """The fewest notice calls the bot will make at its start: an edit for each message a kill left claimed, and
    for the alerts neither shown nor claimed, a placeholder and its edit each where they go one per message,
    two for all where they share."""
    claims = NoticeClaims.beside(runtime.repository)
    alerted, calls = await claims.alerted_since_digest(), 0
    for chat in CHATS:
        claimed = await claims.of_chat(chat)
        counts = alert_counts(api, chat, ids, lang)
        new = sum(1 for tip_id in ids if not counts[tip_id] and all(c.tip_id != tip_id for c in claimed))
        calls += len({c.message_id for c in claimed}) + (2 * new if alerted + new <= ALONE_UP_TO else 2 * (new > 0))
    return calls


async def kill_while_sending(api: FakeBotAPI, process, chance: random.Random, at_most: int) -> None:
    """SIGKILL once the bot has begun or finished a random number of its notice calls, a moment later."""
    finished = chance.random() < 0.5
    target = notice_calls(api, finished) + chance.randint(1, max(1, at_most))
    await api.wait_until(lambda: notice_calls(api, finished) >= target or process.returncode is not None, 60)
    assert process.returncode is None, "the bot stopped by itself"
    await asyncio.sleep(chance.uniform(0, 0.05))
    process.send_signal(signal.SIGKILL)
    await process.wait()


async def test_alerts_reach_every_staff_chat_once_through_repeated_kills(api, make_settings, database_url, tmp_path):
    settings = make_settings(
        database_url=database_url, token=FakeBotAPI.token, staff_chat_ids=",".join(map(str, CHATS))
    )
    lang = settings.staff_language
    secret_key = settings.secret_key.get_secret_value()
    staff = ",".join(map(str, CHATS))
    environment = bot_environment(api, tmp_path, database_url, secret_key, TIPBOT_STAFF_CHAT_IDS=staff)
    chance = random.Random(20261202)
    sizes = [WAVE, REPORTERS - WAVE * (KILLS - 1)] + [WAVE] * (KILLS - 2)  # a few, a burst of 20, a few more
    ids: list[str] = []
    loop = asyncio.get_running_loop()
    began = loop.time()
    with open(tmp_path / "bot.log", "wb") as log:
        for size in sizes:
            runtime = await Runtime.open(settings)  # while the bot is down, as reports stored before a crash
            try:
                ids += [await store_urgent(runtime, len(ids) + n) for n in range(size)]
                calls = await calls_to_come(api, runtime, ids, lang)
            finally:
                await runtime.close()
            process = await start_bot(api, environment, log)
            try:
                await kill_while_sending(api, process, chance, calls)
            except BaseException:
                process.kill()
                raise
        process = await start_bot(api, environment, log)
        watcher = await Runtime.open(settings)
        try:
            for _look in range(450):  # the run at start finishes what the kills left, and marks every tip alerted
                if not await watcher.repository.urgent_unalerted():
                    break
                await asyncio.sleep(0.2)
            took = loop.time() - began
            await asyncio.sleep(1.0)  # anything still to come would be a second alert
        finally:
            process.send_signal(signal.SIGINT)
            await asyncio.wait_for(process.wait(), 30)
            await watcher.close()
    assert "Traceback" not in (tmp_path / "bot.log").read_text(errors="replace")

    left = 0
    for chat in CHATS:
        assert alert_counts(api, chat, ids, lang) == Counter(dict.fromkeys(ids, 1)), api.dump_chat(chat)
        left += placeholders(api, chat, lang)
    assert left <= KILLS, "at most one placeholder per kill"
    runtime = await Runtime.open(settings)
    try:
        assert await runtime.repository.urgent_unalerted() == []
        assert [await NoticeClaims.beside(runtime.repository).of_chat(chat) for chat in CHATS] == [[], []]
    finally:
        await runtime.close()
    print(f"\n{len(ids)} alerts x {len(CHATS)} chats through {KILLS} kills: {left} placeholder(s) left, {took:.0f} s")
