"""Per-chat limits: each one reached gives its message in the reporter's language and loses nothing already
written; answers over the limit never reach staff; receipt-code tries are counted atomically and strangers
cannot lock a reporter out; counters are deleted once their window has passed."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from bot import follow_up
from bot.flows.engine import actions
from bot.follow_up import ANSWER, DONE
from bot.i18n import gettext_for
from bot.limits import ANSWERS, FILES, GUESSES, KINDS, REACHED, REPORT_KB, REPORTS, Limits, expire_counters
from bot.privacy import clean
from bot.privacy.clean import SanitizeError
from bot.screens import RECEIPT_DONE, file_refusal
from storage.models import Counter

from .cli import tipbot
from .fakebotapi import FakeUser
from .flood import WALK, check_report, noise_jpeg, timed_walk, tip_with_code
from .harness import RECEIPT, STAFF_CHAT, Reporter, asks, bot_settings, eventually, photo_with_gps, running_bot
from .test_e2e_reporter import open_questionnaire, reach_evidence

CODE = "4921 0387 5566 1290"


def reads(lang: str, msgid: str, **known: object):
    """A predicate: the message is `msgid` in `lang`, with the placeholders given filled in and any others free."""
    template = gettext_for(lang)(msgid)
    pattern = re.escape(template)
    for name in re.findall(r"\{(\w+)\}", template):
        value = known.get(name)
        pattern = pattern.replace(re.escape("{" + name + "}"), re.escape(str(value)) if value is not None else ".+")
    compiled = re.compile(pattern, re.DOTALL)
    return lambda message: bool(compiled.fullmatch(message.text or ""))


async def counters(runtime, prefix: str = "") -> list[Counter]:
    async with runtime.engine.connect() as connection:
        rows = await connection.execute(select(Counter).where(Counter.key.startswith(prefix)))
        return list(rows)


# ---- end to end: what a reporter sees ------------------------------------------------------------------------


async def test_answers_to_staff_over_the_limit_are_refused_and_not_forwarded(api, make_settings):
    settings = bot_settings(make_settings, api, max_follow_up_messages_per_hour=3)
    reporter = Reporter(api, FakeUser(id=7800001, first_name="Dilnoza", language_code="ru"))
    ru = gettext_for("ru")
    async with running_bot(settings) as runtime:
        tip_id = await tip_with_code(runtime, CODE)
        shown = await check_report(reporter, CODE)
        assert ANSWER in str(shown.reply_markup)
        await reporter.press_and_wait(ANSWER, lambda m: DONE in str(m.reply_markup))
        replies = [(await reporter.say(f"Ответ номер {n}", lambda m: True)) for n in range(5)]
        assert all(reply.text.startswith(ru("Sent to staff.")) for reply in replies[:3])
        for refused in replies[3:]:
            assert reads("ru", REACHED[ANSWERS], limit=3)(refused), refused.text
            assert DONE in str(refused.reply_markup)

        exchanges = await runtime.records.exchanges(tip_id)
        assert [e.text for e in exchanges if e.sender == "reporter"] == [f"Ответ номер {n}" for n in range(3)]

        def forwarded() -> set[str]:
            return set(re.findall(r"Ответ номер \d", " ".join(m.text or "" for m in api.sent_to(STAFF_CHAT))))

        await api.wait_until(lambda: len(forwarded()) >= 3)
        assert forwarded() == {f"Ответ номер {n}" for n in range(3)}


async def test_files_over_the_hourly_limit_are_refused_and_the_question_stays(api, make_settings):
    settings = bot_settings(make_settings, api, max_files_per_hour=2)
    reporter = Reporter(api, FakeUser(id=7800002, first_name="Aziz", language_code="uz"))
    uz = gettext_for("uz")
    async with running_bot(settings) as runtime:
        await open_questionnaire(reporter, "uz")
        await reach_evidence(reporter, "uz", "Bolalarni paxtaga olib chiqishdi.")
        for count in (1, 2):
            after = api.mark(reporter.chat)
            api.send_photo(reporter.user, photo_with_gps())
            received = uz("Files received: {count}. Send more or press “Done”.").format(count=count)
            await reporter.wait(lambda m, text=received: text in (m.text or ""), after)
        after = api.mark(reporter.chat)
        api.send_photo(reporter.user, photo_with_gps())
        again = await reporter.wait(lambda m: asks(m, "evidence"), after)
        refused = api.sent_to(reporter.chat)[after:]
        assert reads("uz", REACHED[FILES], limit=2)(refused[0]), refused[0].text
        assert uz("Files received: {count}. Send more or press “Done”.").format(count=2) in again.text
        draft = await runtime.repository.load_draft(runtime.keys.chat_key(reporter.chat))
        assert draft["draft"]["answers"]["description"] == "Bolalarni paxtaga olib chiqishdi."
        assert len(draft["draft"]["pending"]) == 2
        await reporter.press_and_wait(actions.nav("evidence", "done"), lambda m: asks(m, "danger_now"))


async def test_a_report_over_its_size_limit_keeps_the_files_it_has(api, make_settings):
    settings = bot_settings(make_settings, api, max_report_mb=1)
    reporter = Reporter(api, FakeUser(id=7800003, first_name="Aigerim", language_code="kk"))
    kk = gettext_for("kk")
    big = noise_jpeg(1000, 800)  # about 600 KB once cleaned: two of them pass 1 MB
    async with running_bot(settings):
        await open_questionnaire(reporter, "kk")
        await reach_evidence(reporter, "kk", "Мұғалімдерді мақта теруге жіберді.")
        files = kk("Files received: {count}. Send more or press “Done”.")
        after = api.mark(reporter.chat)
        api.send_photo(reporter.user, big)
        await reporter.wait(lambda m: files.format(count=1) in (m.text or ""), after)
        after = api.mark(reporter.chat)
        api.send_photo(reporter.user, big)
        again = await reporter.wait(lambda m: asks(m, "evidence"), after)
        refused = api.sent_to(reporter.chat)[after]
        assert reads("kk", REACHED[REPORT_KB], limit=1)(refused), refused.text
        assert files.format(count=1) in again.text
        after = api.mark(reporter.chat)
        api.send_photo(reporter.user, photo_with_gps())  # a small one still fits
        await reporter.wait(lambda m: files.format(count=2) in (m.text or ""), after)


async def test_a_report_over_the_daily_limit_stays_a_draft_until_it_can_be_sent(api, make_settings):
    settings = bot_settings(make_settings, api, max_reports_per_day=1)
    reporter = Reporter(api, FakeUser(id=7800004, first_name="Timur", language_code="en"))
    async with running_bot(settings) as runtime:
        await timed_walk(reporter)
        await reporter.press_and_wait(RECEIPT_DONE, lambda m: m.text == "Chat cleared.")  # the code written down
        await timed_walk(reporter, steps=WALK[:-1])
        after = api.mark(reporter.chat)
        await reporter.press(actions.CONFIRM)
        review = await reporter.wait(lambda m: actions.CONFIRM in str(m.reply_markup), after)
        refused = api.sent_to(reporter.chat)[after:]
        assert reads("en", REACHED[REPORTS], limit=1)(refused[-2]), refused[-2].text
        assert re.search(r"in (23 h \d+|24 h 0) min\.$", refused[-2].text)
        assert len(await runtime.repository.pending_tips()) == 1
        draft = await runtime.repository.load_draft(runtime.keys.chat_key(reporter.chat))
        assert draft["draft"]["answers"]["ordered_by"] == "employer"

        async with runtime.engine.begin() as connection:  # a day later
            ended = datetime.now() - timedelta(days=2)
            await connection.execute(update(Counter).where(Counter.key.startswith("report:")).values(hour=ended))
        assert review.message_id == reporter.holder(actions.CONFIRM)[0].message_id
        await reporter.press_and_wait(actions.CONFIRM, lambda m: RECEIPT.search(m.text or ""))
        assert len(await runtime.repository.pending_tips()) == 2


async def test_a_busy_sanitizer_asks_for_the_file_again_in_a_minute(api, make_settings, monkeypatch):
    if "busy" not in clean.REASONS:
        monkeypatch.setattr(clean, "REASONS", (*clean.REASONS, "busy"))
    settings = bot_settings(make_settings, api)
    reporter = Reporter(api, FakeUser(id=7800005, first_name="Nurlan", language_code="kk"))
    kk = gettext_for("kk")
    async with running_bot(settings) as runtime:
        await open_questionnaire(reporter, "kk")
        await reach_evidence(reporter, "kk", "Мұғалімдерді мақта теруге жіберді.")

        async def busy(*_args):
            raise SanitizeError("busy")

        with monkeypatch.context() as patched:
            patched.setattr(runtime.sandbox, "run", busy)
            after = api.mark(reporter.chat)
            api.send_photo(reporter.user, photo_with_gps())
            await reporter.wait(lambda m: asks(m, "evidence"), after)
        refusal = api.sent_to(reporter.chat)[after]
        assert refusal.text == kk("Many files are being checked right now. Please send this file again in a minute.")
        assert refusal.text == file_refusal("busy", "kk", settings.max_file_bytes)
        after = api.mark(reporter.chat)
        api.send_photo(reporter.user, photo_with_gps())
        files = kk("Files received: {count}. Send more or press “Done”.").format(count=1)
        await reporter.wait(lambda m: files in (m.text or ""), after)


async def test_strangers_guessing_codes_do_not_lock_out_a_reporter(api, make_settings, monkeypatch):
    """60 accounts with 5 wrong codes each (and a sixth, refused), then a 61st chat with the right code."""

    def quick_hash(code: str, salt: bytes) -> str:  # scrypt is not what is tested here
        return hashlib.sha256(salt + code.encode()).hexdigest()

    monkeypatch.setattr(follow_up, "hash_code", quick_hash)
    settings = bot_settings(make_settings, api)
    reporter = Reporter(api, FakeUser(id=7800061, first_name="Real", language_code="en"))
    async with running_bot(settings) as runtime:
        tip_id = await tip_with_code(runtime, CODE, quick_hash)
        services = runtime.conversation.services

        async def guess(chat: int, attempt: int) -> str | None:
            found = await follow_up.check_code(
                f"1111 2222 3333 {chat:02d}{attempt:02d}",
                runtime.keys.chat_key(chat),
                runtime.repository,
                runtime.records,
                services.receipt_salts,
                services.now(),
                services.limits,
            )
            return found.problem

        problems = await asyncio.gather(*(guess(chat, attempt) for chat in range(60) for attempt in range(6)))
        assert problems.count("unknown") == 300 and problems.count("limit") == 60

        shown = await check_report(reporter, CODE)
        assert ANSWER in str(shown.reply_markup), shown.text
        assert tip_id


# ---- counting ------------------------------------------------------------------------------------------------


async def test_concurrent_wrong_codes_from_one_chat_are_all_counted(runtime):
    services = runtime.conversation.services
    chat_key = runtime.keys.chat_key(7800099)

    async def guess(number: int) -> str | None:
        found = await follow_up.check_code(
            f"9999 0000 0000 {number:04d}",
            chat_key,
            runtime.repository,
            runtime.records,
            services.receipt_salts,
            services.now(),
            services.limits,
        )
        return found.problem

    problems = await asyncio.gather(*(guess(number) for number in range(20)))
    assert problems.count("unknown") == 5 and problems.count("limit") == 15
    [row] = await counters(runtime, GUESSES.prefix)
    assert row.count == 5 and chat_key not in row.key


async def test_concurrent_counts_never_pass_the_limit(runtime):
    limits = Limits(files_per_hour=30)
    now = runtime.now()
    results = await asyncio.gather(*(limits.take(runtime.records, FILES, "chat", now) for _ in range(50)))
    assert sum(result is None for result in results) == 30
    refused = [result for result in results if result is not None]
    assert all(result.most == 30 and timedelta(0) < result.wait <= timedelta(hours=1) for result in refused)
    [row] = await counters(runtime, FILES.prefix)
    assert row.count == 30


async def test_a_window_ends_an_hour_after_its_first_hour_began(runtime):
    limits, records = Limits(guesses_per_hour=2), runtime.records
    start = datetime(2026, 9, 15, 10, 20, tzinfo=runtime.settings.tz)
    assert await limits.take(records, GUESSES, "chat", start) is None
    assert await limits.take(records, GUESSES, "chat", start + timedelta(minutes=30)) is None
    refused = await limits.take(records, GUESSES, "chat", start + timedelta(minutes=35))
    assert refused is not None and refused.wait == timedelta(minutes=5)
    assert await limits.take(records, GUESSES, "other chat", start + timedelta(minutes=35)) is None
    assert await limits.take(records, GUESSES, "chat", start + timedelta(minutes=40)) is None  # 11:00


async def test_a_reports_first_file_starts_its_size_count_again(runtime):
    limits, records, now = Limits(report_mb=1), runtime.records, runtime.now()
    assert await limits.take(records, REPORT_KB, "chat", now, 800) is None
    assert await limits.take(records, REPORT_KB, "chat", now, 300) is not None
    assert await limits.take(records, REPORT_KB, "chat", now, 800, restart=True) is None
    assert await limits.take(records, REPORT_KB, "chat", now, 224) is None
    assert await limits.take(records, REPORT_KB, "chat", now, 2000, restart=True) is not None
    [row] = await counters(runtime, REPORT_KB.prefix)
    assert row.count == 1024


async def test_counters_are_deleted_once_their_window_has_passed(runtime):
    limits, records = Limits(), runtime.records
    start = datetime(2026, 9, 15, 10, 20, tzinfo=runtime.settings.tz)
    for kind in KINDS:
        assert await limits.take(records, kind, "chat", start) is None
    async with runtime.engine.begin() as connection:  # left by an earlier version, which never deleted them
        await connection.execute(insert(Counter).values(key="*", hour=datetime(2026, 9, 15, 10), count=3))
    assert await expire_counters(records, start + timedelta(minutes=39)) == 1
    assert await expire_counters(records, start + timedelta(minutes=40)) == 3  # guesses, answers, files
    assert {row.key.split(":")[0] for row in await counters(runtime)} == {"report", "kb"}
    assert await expire_counters(records, start + timedelta(hours=23, minutes=39)) == 0
    assert await expire_counters(records, start + timedelta(hours=23, minutes=40)) == 2
    assert await counters(runtime) == []


async def test_counters_are_deleted_every_minute_and_by_tipbot_purge(api, make_settings, tmp_path):
    settings = bot_settings(make_settings, api)
    ended = datetime.now() - timedelta(hours=2)
    async with running_bot(settings) as runtime:
        async with runtime.engine.begin() as connection:
            await connection.execute(insert(Counter).values(key="file:" + "0" * 59, hour=ended, count=30))
            await connection.execute(insert(Counter).values(key="report:" + "0" * 57, hour=ended, count=1))

        async def only_the_days_count_is_left():
            return [row.key[:7] for row in await counters(runtime)] == ["report:"]

        await eventually(only_the_days_count_is_left, timeout=20)  # the job runs every minute, first after 7 s
        async with runtime.engine.begin() as connection:
            await connection.execute(insert(Counter).values(key="answer:" + "0" * 57, hour=ended, count=20))
    done = await asyncio.to_thread(tipbot, "purge", cwd=tmp_path, env={"TIPBOT_SECRET_KEY": "k" * 40})
    assert done.returncode == 0, done.stderr
    assert "deleted 1 rate counter(s) whose window had passed" in done.stdout
    async with running_bot(settings) as runtime:
        assert [row.key[:7] for row in await counters(runtime)] == ["report:"]


@pytest.mark.parametrize("lang", ["ru", "uz", "kk", "en"])
def test_limit_messages_fill_in_their_numbers(lang):
    from bot.limits import Reached, reached_text

    text = reached_text(REPORTS, Reached(5, timedelta(hours=3, minutes=1, seconds=10)), lang)
    assert "5" in text and gettext_for(lang)("{hours} h {minutes} min").format(hours=3, minutes=2) in text
    text = reached_text(REPORT_KB, Reached(50 * 1024, timedelta(0)), lang)
    assert "50" in text and "51200" not in text
