"""The staff digest: text building, splitting, marking only what Telegram accepted, the schedule, the CLI."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.digest.build import build_digest
from bot.digest.send import Digester
from bot.i18n import gettext_for
from bot.render import split_message
from bot.telegram.app import build_application
from storage.repository import NewTip

from .fakebotapi import FakeBotAPI
from .harness import STAFF_CHAT, bot_settings, photo_with_gps

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 11, 27)


async def store_tip(runtime, key: str, description: str, country="UZ", region="UZ-FA", urgent=False, photos=0):
    repo = runtime.repository
    await repo.save_draft(key, {}, datetime(2026, 11, 27, 9))
    refs = [await repo.add_draft_file(key, "image/jpeg", photo_with_gps()) for _ in range(photos)]
    answers = {
        "what": ["harvest_mobilisation"],
        "region": {"country": country, "region": region},
        "description": description,
        "danger_now": "yes" if urgent else "no",
    }
    if photos:
        answers["evidence"] = ["image"] * photos
    tip = NewTip("forced-labour", 1, answers, urgent, TODAY, key.ljust(64, "0"))
    return await repo.submit_tip(key, tip, refs)


def test_long_text_is_split_under_telegrams_limit():
    text = "\n".join(f"line {n} " + "ж" * 300 for n in range(40)) + "\n" + "x" * 9000
    parts = split_message(text)
    assert all(len(part) <= 4096 for part in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")


async def test_header_counts_urgent_and_countries(runtime):
    await store_tip(runtime, "a", "one", urgent=True)
    await store_tip(runtime, "b", "two", country="KZ", region="KZ-35")
    await store_tip(runtime, "c", "three", country="KZ", region="KZ-71")
    digest = build_digest(await runtime.repository.pending_tips(), runtime.flows, "ru", TODAY)
    _ = gettext_for("ru")
    assert digest.header.splitlines() == [
        _("📋 Digest of {date}").format(date="27.11.2026"),
        _("New reports: {count}").format(count=3),
        _("🔴 Urgent: {count}").format(count=1),
        _("By country: {list}").format(list="Казахстан: 2, Узбекистан: 1"),
        _("By region: {list}").format(list="Астана (город): 1, Карагандинская область: 1, Ферганская область: 1"),
        _("By category: {list}").format(list="Отправили на сбор хлопка или урожая: 3"),
    ]
    urgent = next(entry for entry in digest.entries if "one" in entry.texts[0])
    assert urgent.texts[0].startswith("🔴 " + _("URGENT"))
    assert "Ферганская область" in urgent.texts[0]


async def test_tip_is_marked_only_after_every_message_was_accepted(api, make_settings, database_url):
    from bot.runtime import Runtime

    settings = bot_settings(make_settings, api, database_url=database_url, staff_language="en")
    runtime = await Runtime.open(settings)
    try:
        tip_id = await store_tip(runtime, "k", "Teachers taken from lessons", photos=2)
        bot = build_application(settings, runtime).bot
        digester = Digester(bot, runtime.repository, runtime.records, runtime.flows, "en", 90, pause=0.01)
        async with bot:
            api.fail_next("sendMediaGroup", error_code=500, times=6)  # more than the retries of one run
            report = await digester.send([STAFF_CHAT], TODAY)
            assert report.failed_chats == [STAFF_CHAT] and report.digested == 0
            assert [t.id for t in await runtime.repository.pending_tips()] == [tip_id]

            api.fail_next("sendMessage", error_code=500, times=2)  # retried within the run
            report = await digester.send([STAFF_CHAT], TODAY)
            assert report.failed_chats == [] and report.digested == 1
        assert await runtime.repository.pending_tips() == []
        albums = [m for m in api.sent_to(STAFF_CHAT) if m.media_group_id]
        assert len(albums) == 2 and all(m.text.startswith(f"#{tip_id[:8]}") for m in albums)
        texts = [m for m in api.sent_to(STAFF_CHAT) if m.method == "sendMessage" and "Teachers taken" in m.text]
        assert len(texts) == 1, "the tip's text was accepted in the first run and is not sent again"
    finally:
        await runtime.close()


@pytest.mark.parametrize("zone", ["Asia/Tashkent", "Asia/Almaty"])
async def test_digest_is_scheduled_daily_at_the_configured_local_time(api, make_settings, zone):
    from bot.runtime import Runtime

    settings = bot_settings(make_settings, api, digest_time="18:45", timezone=zone)
    runtime = await Runtime.open(settings)
    application = build_application(settings, runtime)
    try:
        await application.initialize()
        await application.start()
        [job] = application.job_queue.get_jobs_by_name("digest")
        local = job.next_t.astimezone(ZoneInfo(zone))
        assert (local.hour, local.minute) == (18, 45)
        assert job.trigger.__class__.__name__ == "CronTrigger" and "day_of_week" in str(job.trigger)
        now = datetime.now(ZoneInfo(zone))
        assert 0 < (job.next_t - now).total_seconds() <= 24 * 3600
        assert settings.digest_time == time(18, 45)
    finally:
        await application.stop()
        await application.shutdown()
        await runtime.close()


async def run_cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, out.decode(), err.decode()


async def test_cli_prints_and_sends_the_digest(api, make_settings, tmp_path):
    from bot.runtime import Runtime

    settings = bot_settings(make_settings, api, staff_language="kk")
    runtime = await Runtime.open(settings)
    await store_tip(runtime, "p", "Шахтада паспорттарды алып қойды", country="KZ", region="KZ-35")
    await runtime.close()
    env = {
        "TIPBOT_DATA_DIR": str(settings.data_dir),
        "TIPBOT_SECRET_KEY": "k" * 40,
        "TIPBOT_STAFF_LANGUAGE": "kk",
        "TIPBOT_TOKEN": FakeBotAPI.token,
        "TIPBOT_API_BASE_URL": api.base_url,
        "TIPBOT_API_FILE_URL": api.base_file_url,
        "TIPBOT_STAFF_CHAT_IDS": str(STAFF_CHAT),
    }
    code, out, err = await run_cli("digest", "--print", env=env)
    assert code == 0, err
    assert "Шахтада паспорттарды алып қойды" in out and "Қарағанды" in out
    code, out, err = await run_cli("digest", "--send", env=env)
    assert code == 0, err
    assert any("Шахтада паспорттарды" in (m.text or "") for m in api.sent_to(STAFF_CHAT))
    code, out, err = await run_cli("digest", "--print", env=env)
    assert out.strip() == gettext_for("kk")("No new reports since the last digest.")


@pytest.mark.parametrize(
    ("zone", "now", "done_on", "missed"),
    [
        ("Asia/Tashkent", datetime(2026, 11, 27, 9, 0), date(2026, 11, 26), True),  # right at 09:00
        ("Asia/Tashkent", datetime(2026, 11, 27, 8, 59), date(2026, 11, 26), False),  # not yet due today
        ("Asia/Tashkent", datetime(2026, 11, 27, 8, 59), date(2026, 11, 25), True),  # yesterday's was missed
        ("Asia/Almaty", datetime(2026, 11, 27, 23, 30), date(2026, 11, 27), False),
        ("Asia/Almaty", datetime(2026, 11, 28, 0, 30), date(2026, 11, 26), True),
        ("Asia/Almaty", datetime(2026, 11, 28, 0, 30), None, False),  # the first start ever misses nothing
    ],
)
def test_missed_digest_with_a_fake_clock(zone, now, done_on, missed):
    from bot.digest.jobs import is_missed

    assert is_missed(now.replace(tzinfo=ZoneInfo(zone)), time(9, 0), done_on) is missed


async def test_a_digest_missed_during_downtime_is_sent_at_the_next_start(api, make_settings):
    from bot.digest.jobs import DONE_KEY

    from .harness import running_bot

    settings = bot_settings(make_settings, api, staff_language="en", digest_time="00:00")
    async with running_bot(settings) as runtime:
        await store_tip(runtime, "m", "Reported while the bot was down")
        yesterday = runtime.today() - timedelta(days=1)
    async with running_bot(settings) as runtime:  # state says: last digest the day before yesterday
        await runtime.records.set_state(DONE_KEY, (yesterday - timedelta(days=1)).isoformat())
    async with running_bot(settings) as runtime:
        message = await api.wait_for_message(STAFF_CHAT, lambda m: "Reported while the bot was down" in (m.text or ""))
        assert message

        async def marked():
            return await runtime.records.state(DONE_KEY) == runtime.today().isoformat()

        from .harness import eventually

        await eventually(marked)
