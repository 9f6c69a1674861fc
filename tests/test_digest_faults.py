"""Fault injection: while a digest of 300 tips with photos is sent, the Bot API answers a random 20% of calls
with 429, 500 or a dropped connection, and the sending process is killed once. In the end every tip reached
every staff chat exactly once and all are marked digested."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
from collections import Counter
from datetime import date, datetime

from PIL import Image

from bot.runtime import Runtime
from storage.repository import NewTip

from .cli import ROOT
from .fakebotapi import FakeBotAPI

TIPS = 300
STAFF_CHATS = (5550101, 5550102)  # staff members' private chats: no per-group rate limit to wait out in a test
SENDING = ("sendMessage", "sendPhoto", "sendMediaGroup", "sendDocument")


def small_photo(n: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (n % 256, 40, 90)).save(buffer, "JPEG")
    return buffer.getvalue()


async def seed(settings, today: date) -> list[str]:
    runtime = await Runtime.open(settings)
    try:
        ids = []
        for n in range(TIPS):
            key = f"draft-{n}"
            await runtime.repository.save_draft(key, {}, datetime(2026, 11, 27, 9))
            ref = await runtime.repository.add_draft_file(key, "image/jpeg", small_photo(n))
            answers = {
                "what": ["harvest_mobilisation", "wages"][: 1 + n % 2],
                "region": {"country": "UZ", "region": "UZ-AN"},
                "description": f"Report number {n}: teachers of school {n} were sent to the cotton fields.",
                "evidence": ["image"],
                "danger_now": "no",
            }
            tip = NewTip("forced-labour", 1, answers, False, today, f"{n:064d}")
            ids.append(await runtime.repository.submit_tip(key, tip, [ref]))
        return ids
    finally:
        await runtime.close()


async def digest_process(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "digest",
        "--send",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_every_tip_reaches_every_staff_chat_exactly_once(make_settings, tmp_path):
    async with FakeBotAPI() as api:
        settings = make_settings(staff_chat_ids=",".join(map(str, STAFF_CHATS)))
        today = datetime.now(settings.tz).date()
        ids = await seed(settings, today)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TIPBOT_DATA_DIR": str(settings.data_dir),
            "TIPBOT_SECRET_KEY": "k" * 40,
            "TIPBOT_TOKEN": FakeBotAPI.token,
            "TIPBOT_API_BASE_URL": api.base_url,
            "TIPBOT_API_FILE_URL": api.base_file_url,
            "TIPBOT_STAFF_CHAT_IDS": ",".join(map(str, STAFF_CHATS)),
            "TIPBOT_STAFF_LANGUAGE": "en",
        }
        api.chaos(0.2, SENDING, seed=20261127)

        first = await digest_process(env)
        await api.wait_until(lambda: len(api.sent_to(STAFF_CHATS[0])) >= 25, timeout=60)
        api.stall_next("sendMediaGroup")
        await api.wait_until(lambda: bool(api.stalled), timeout=60)
        first.send_signal(signal.SIGKILL)  # killed in the middle of the digest, while a request hangs
        await first.wait()
        runs = 1
        while True:
            process = await digest_process(env)
            out, err = await asyncio.wait_for(process.communicate(), 300)
            runs += 1
            assert "Traceback" not in err.decode(), err.decode()[-3000:]
            if process.returncode == 0:
                break
            assert runs < 6, f"the digest did not complete: {out.decode()} {err.decode()[-2000:]}"

        assert sum(api.chaos_counts.values()) > 10, api.chaos_counts  # the faults really happened
        for chat in STAFF_CHATS:
            texts = Counter()
            photos = Counter()
            for message in api.sent_to(chat):
                if message.method == "sendMessage":
                    for tip_id in ids:
                        texts[tip_id] += message.text.count(f"Report {tip_id[:8]} ·")
                elif message.files and message.method in ("sendPhoto", "sendMediaGroup") and message.text:
                    photos[message.text.split(" ·")[0].lstrip("#")] += 1
            assert all(texts[tip_id] == 1 for tip_id in ids), [t[:8] for t in ids if texts[t] != 1][:10]
            bad = [(t[:8], photos[t[:8]]) for t in ids if photos[t[:8]] != 1]
            assert not bad, (len(bad), bad[:10])

        runtime = await Runtime.open(settings)
        try:
            assert await runtime.repository.pending_tips() == []
        finally:
            await runtime.close()
