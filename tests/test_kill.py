"""End to end: 40 reporters send quick reports while `tipbot run` is killed (SIGKILL) again and again at random
moments and started again. Every stored report's receipt ends up on its reporter's screen; no report is lost
or stored twice; a photo sent before a kill is in its report.

Reporters behave as people do: they look at the newest screen, do what it asks, and when nothing happens for a
while (the bot is down) they look again and do it again. A kill between storing a step and showing it used to
leave such a reporter pressing a button the bot took as stale, for ever: the redelivered update and the press
again now both bring the pressed screen up to date (tests/test_conversation.py has the cases one by one).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from pathlib import Path

from bot.config import load_settings
from bot.privacy.receipts import hash_code
from bot.runtime import Runtime

from .cli import ROOT
from .fakebotapi import FakeBotAPI, FakeUser, SentMessage
from .harness import RECEIPT, photo_with_gps

REPORTERS = 40
KILLS = 8
PATIENCE = 6.0
"""Seconds a reporter waits for an answer before looking at the screen again."""
DEADLINE = 240.0
LANGS = ("ru", "uz", "kk", "en", "tk", "uz_Cyrl")


class Person:
    """A reporter writing a quick report; every third one first sends a photo of an order."""

    def __init__(self, api: FakeBotAPI, number: int):
        self.api = api
        self.lang = LANGS[number % len(LANGS)]
        self.user = FakeUser(id=8100000 + number, first_name=f"P{number}", language_code=self.lang)
        self.story = f"Report {number}: the teachers of school {number} were sent to the cotton fields."
        self.photo = photo_with_gps(f"order-{number}") if number % 3 == 0 else None
        self.photo_sent = self.story_sent = False

    def screen(self) -> SentMessage | None:
        """The newest message with buttons still in the chat."""
        for message in reversed(self.api.sent_to(self.user.id)):
            if message.buttons() and not message.deleted:
                return message
        return None

    def receipt(self) -> str | None:
        screen = self.screen()
        if screen is not None and "receipt:done" in str(screen.reply_markup):
            found = RECEIPT.search(screen.text or "")
            return found.group(0) if found else None
        return None

    async def report(self) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE
        self.api.send_command(self.user, "/start")
        while loop.time() < deadline:
            if (code := self.receipt()) is not None:
                return code
            before = _signature(self.screen())
            self.act()
            patience = loop.time() + PATIENCE
            while loop.time() < patience and _signature(self.screen()) == before:
                await asyncio.sleep(0.1)
        raise AssertionError(f"no receipt for {self.user.id}:\n{self.api.dump_chat(self.user.id)}")

    def act(self) -> None:
        screen = self.screen()
        data = " ".join(str(b.get("callback_data")) for row in (screen.buttons() if screen else []) for b in row)
        if screen is None:
            self.api.send_command(self.user, "/start")
        elif "lang:" in data:
            self.press(screen, f"lang:{self.lang}")
        elif "begin" in data.split():
            self.press(screen, "begin")
        elif "nav:description:full" in data:
            if self.photo is not None and not self.photo_sent:
                self.api.send_photo(self.user, self.photo)
                self.photo_sent = True
            else:
                self.api.send_text(self.user, self.story)
                self.story_sent = True
        elif "country:region:UZ" in data:
            self.press(screen, "country:region:UZ")
        elif "region:region:UZ-AN" in data:
            self.press(screen, "region:region:UZ-AN")
        elif "review:confirm" in data:
            self.press(screen, "review:confirm")
        else:
            self.press(screen, next(iter(data.split())))

    def press(self, screen: SentMessage, action: str) -> None:
        self.api.press(self.user, screen, lambda _text, screen=screen, action=action: _data(screen, _text) == action)


def _data(screen: SentMessage, text: str) -> str | None:
    return next((b.get("callback_data") for row in screen.buttons() for b in row if b.get("text") == text), None)


def _signature(screen: SentMessage | None) -> tuple:
    if screen is None:
        return ()
    return (screen.message_id, screen.text, str(screen.reply_markup))


def _stopped_by_itself(tmp_path: Path) -> str:
    return "the bot stopped by itself:\n" + (tmp_path / "bot.log").read_text(errors="replace")[-3000:]


def bot_environment(api: FakeBotAPI, tmp_path: Path, database_url: str, secret_key: str, **extra: str) -> dict:
    """What `python -m bot run` needs to run against the fake Bot API on the test's database."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TIPBOT_DATA_DIR": str(tmp_path / "data"),
        "TIPBOT_DATABASE_URL": database_url,
        "TIPBOT_SECRET_KEY": secret_key,
        "TIPBOT_TOKEN": FakeBotAPI.token,
        "TIPBOT_API_BASE_URL": api.base_url,
        "TIPBOT_API_FILE_URL": api.base_file_url,
        **extra,
    }


async def start_bot(api: FakeBotAPI, environment: dict[str, str], log) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=environment, cwd=str(Path(environment["TIPBOT_DATA_DIR"]).parent),
        stdout=log, stderr=log,
    )  # fmt: skip


async def test_reports_survive_repeated_kills(api, make_settings, database_url, tmp_path):
    settings = make_settings(database_url=database_url, token=FakeBotAPI.token)
    environment = bot_environment(api, tmp_path, database_url, settings.secret_key.get_secret_value())
    people = [Person(api, number) for number in range(REPORTERS)]
    chance = random.Random(20261201)
    with open(tmp_path / "bot.log", "wb") as log:
        process = await start_bot(api, environment, log)
        reports = asyncio.gather(*(person.report() for person in people))
        try:
            for _kill in range(KILLS):
                await asyncio.sleep(chance.uniform(2.0, 5.0))
                assert process.returncode is None, _stopped_by_itself(tmp_path)
                process.send_signal(signal.SIGKILL)
                await process.wait()
                process = await start_bot(api, environment, log)
            codes = await reports
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGINT)
            await asyncio.wait_for(process.wait(), 30)
    assert process.returncode == 0, _stopped_by_itself(tmp_path)
    assert "Traceback" not in (tmp_path / "bot.log").read_text(errors="replace")

    runtime = await Runtime.open(load_settings(data_dir=tmp_path / "data", database_url=database_url,
                                               secret_key=settings.secret_key.get_secret_value()))  # fmt: skip
    try:
        tips = await runtime.repository.pending_tips()
        salt = runtime.keys.receipt_salt
        for person, code in zip(people, codes, strict=True):
            tip_id = await runtime.repository.tip_by_receipt([hash_code(code.replace(" ", ""), salt)])
            assert tip_id is not None, f"{person.user.id} holds a receipt for no report"
            tip = await runtime.repository.get_tip(tip_id)
            assert person.story in tip.answers["description"]
            if person.photo is not None:
                assert tip.answers.get("evidence") == ["image"], person.user.id  # the photo sent before a kill
        assert len(tips) == REPORTERS, "every report once, none lost, none twice"
    finally:
        await runtime.close()
