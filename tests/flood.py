"""One chat flooding the bot, and another reporter whose every step is timed: shared by tests/test_fairness.py
and benchmarks/flood_latency.py."""

from __future__ import annotations

import io
import os
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
from PIL import Image
from sqlalchemy import update

from bot.flows.engine import actions
from bot.privacy.receipts import hash_code
from bot.runtime import Runtime
from storage.models import Tip

from .fakebotapi import FakeBotAPI, FakeUser, SentMessage
from .harness import RECEIPT, Reporter, asks
from .test_digest import store_tip

DESCRIPTION = "Teachers of our school were sent to pick cotton, quota 60 kg a day."


@dataclass(frozen=True)
class FloodFiles:
    """Files that cost the sanitizers real work: a voice note (re-recorded with a shifted pitch) and noisy
    photos that do not compress."""

    voice: bytes
    photo: bytes
    document: bytes

    @classmethod
    def make(cls, voice_seconds: int = 8) -> FloodFiles:
        return cls(voice_note(voice_seconds), noise_jpeg(1000, 800), noise_jpeg(1600, 1200))


def noise_jpeg(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def voice_note(seconds: int) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "voice.ogg"
        source = f"sine=frequency=300:duration={seconds}"
        command = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", source]
        subprocess.run([*command, "-c:a", "libopus", str(path)], check=True, capture_output=True, timeout=60)
        return path.read_bytes()


def send_voice(api: FakeBotAPI, user: FakeUser, data: bytes) -> None:
    """A voice message (the fake has no helper for it): a document message turned into a voice before the bot
    can fetch it."""
    message = api.send_document(user, data, "voice.ogg", "audio/ogg")["message"]
    document = message.pop("document")
    message["voice"] = {key: document[key] for key in ("file_id", "file_unique_id", "file_size")} | {
        "duration": 8,
        "mime_type": "audio/ogg",
    }


def burst(api: FakeBotAPI, user: FakeUser, files: FloodFiles, each: int = 3, texts: int = 31) -> int:
    """All at once, as fast as a client can: voice notes, photos and documents, then many texts. Returns how
    many updates were sent."""
    for _ in range(each):
        send_voice(api, user, files.voice)
    for _ in range(each):
        api.send_photo(user, files.photo)
    for number in range(each):
        api.send_document(user, files.document, f"scan{number}.jpg", "image/jpeg")
    for number in range(texts):
        api.send_text(user, f"flood {number}")
    return 3 * each + texts


async def tip_with_code(runtime: Runtime, code: str, hasher: Callable[[str, bytes], str] = hash_code) -> str:
    """A stored report whose receipt code is `code`."""
    tip_id = await store_tip(runtime, "a", "Report text")
    receipt = hasher(code.replace(" ", ""), runtime.keys.receipt_salt)
    async with runtime.engine.begin() as connection:
        await connection.execute(update(Tip).where(Tip.id == tip_id).values(receipt_hash=receipt))
    return tip_id


async def check_report(reporter: Reporter, code: str) -> SentMessage:
    """/status, then the code: the bot's answer to the code."""
    reporter.api.send_command(reporter.user, "/status")
    await reporter.wait(lambda m: "16" in (m.text or ""))
    return await reporter.say(code, lambda m: True)


Step = tuple[str, Callable[[Reporter], Awaitable[object]]]


def _press(action: str, then: Callable | None = None) -> Callable[[Reporter], Awaitable[object]]:
    return lambda reporter: reporter.press(action) if then is None else reporter.press_and_wait(action, then)


def _say(text: str, then: Callable) -> Callable[[Reporter], Awaitable[object]]:
    return lambda reporter: reporter.say(text, then)


def _asks(question: str) -> Callable:
    return lambda message: asks(message, question)


WALK: list[Step] = [
    ("/start", _say("/start", lambda m: "lang:en" in str(m.reply_markup))),
    ("language", _press("lang:en", lambda m: "begin" in str(m.reply_markup))),
    ("begin", _press("begin", _asks("description"))),
    ("step by step", _press("nav:description:full", _asks("what"))),
    ("tick an option", _press(actions.option("what", "wages"))),
    ("done", _press(actions.nav("what", "done"), _asks("sector"))),
    ("sector", _press(actions.option("sector", "teachers"), _asks("work"))),
    ("work", _press(actions.option("work", "cotton"), _asks("period"))),
    ("date", _say("today", _asks("people"))),
    ("skip", _press(actions.nav("people", "skip"), _asks("children"))),
    ("children", _press(actions.option("children", "no"), _asks("ordered_by"))),
    ("ordered by", _press(actions.option("ordered_by", "employer"), _asks("description"))),
    ("description", _say(DESCRIPTION, _asks("region"))),
    ("country", _press(actions.country("region", "UZ"))),
    ("region", _press(actions.region("region", "UZ-AN"), _asks("evidence"))),
    ("no files", _press(actions.nav("evidence", "skip"), _asks("danger_now"))),
    ("danger", _press(actions.option("danger_now", "no"), lambda m: actions.CONFIRM in str(m.reply_markup))),
    ("send", _press(actions.CONFIRM, lambda m: RECEIPT.search(m.text or ""))),
]
"""The default questionnaire in English, from /start to the receipt, one reply awaited at a time."""


async def timed_walk(
    reporter: Reporter, between: Callable[[int], None] = lambda step: None, steps: list[Step] = WALK
) -> list[tuple[str, float]]:
    """Seconds from each input to the bot's answer to it; `between(n)` runs before step n (e.g. a new flood)."""
    timings = []
    for number, (name, step) in enumerate(steps):
        between(number)
        start = time.perf_counter()
        await step(reporter)
        timings.append((name, time.perf_counter() - start))
    return timings
