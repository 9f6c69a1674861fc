"""End to end: two `tipbot run` processes in webhook mode on one PostgreSQL, updates spread over them at random by the
test playing Telegram and the load balancer (and some delivered to both): 20 reporters, half of them tapping "Send"
twice, each end with their receipt and one report; a follow-up by receipt code hops between instances; the digest due
at start is sent once, not by each instance; a questionnaire published through one instance is asked by the other."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
from pathlib import Path

import aiohttp
import pytest
import yaml

from bot import callbacks
from bot.config import load_settings
from bot.digest.jobs import DONE_KEY
from bot.flow_admin import FRESH_FOR
from bot.flows.export_yaml import flow_to_raw
from bot.i18n import gettext_for
from bot.privacy.receipts import hash_code
from bot.runtime import Runtime
from bot.telegram.admin import ACTION

from .cli import ROOT
from .conftest import POSTGRES_URL, reset_postgres
from .fakebotapi import FakeBotAPI, FakeUser
from .harness import STAFF_CHAT, Reporter, asks
from .test_e2e_admin import summary_token
from .test_e2e_process import free_port
from .test_kill import Person

pytestmark = pytest.mark.skipif(POSTGRES_URL is None, reason="needs TIPBOT_TEST_DATABASE_URL (PostgreSQL)")

REPORTERS = 20
TWICE = 0.15
"""Share of updates Telegram (or a retrying load balancer) delivers to both instances."""
SECRET = "shared-webhook-secret-0123456789"
KEY = "s" * 48
ADMIN = FakeUser(id=4343, first_name="Admin", language_code="en")
STAFF = FakeUser(id=5550077, first_name="Staff", language_code="en")
MARK = "(campaign 2027)"
en = gettext_for("en")


class Balancer:
    """Takes what people send from the fake Telegram and posts each update to one instance at random, as a load
    balancer in front of the webhook would; some go to both. A person can be pinned to one instance."""

    def __init__(self, api: FakeBotAPI, ports: list[int]):
        self.api = api
        self.ports = ports
        self.pinned: dict[int, int] = {}
        self.chance = random.Random(20261202)
        self.delivered = [0] * len(ports)
        self._tasks: set[asyncio.Task] = set()

    async def run(self) -> None:
        async with aiohttp.ClientSession() as client:
            while True:
                for update in self.api.take_updates():
                    for port in self._route(update):
                        task = asyncio.create_task(self._post(client, port, update))
                        self._tasks.add(task)
                        task.add_done_callback(self._tasks.discard)
                await asyncio.sleep(0.02)

    def _route(self, update: dict) -> list[int]:
        sender = next(part["from"]["id"] for part in update.values() if isinstance(part, dict) and "from" in part)
        if sender in self.pinned:
            return [self.ports[self.pinned[sender]]]
        if self.chance.random() < TWICE:
            return list(self.ports)
        return [self.chance.choice(self.ports)]

    async def _post(self, client: aiohttp.ClientSession, port: int, update: dict) -> None:
        """Telegram delivers again until it hears 200."""
        for _attempt in range(100):
            with contextlib.suppress(aiohttp.ClientError):
                url = f"http://127.0.0.1:{port}/telegram"
                async with client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as answer:
                    if answer.status == 200:
                        self.delivered[self.ports.index(port)] += 1
                        return
            await asyncio.sleep(0.2)
        raise AssertionError(f"instance on {port} never took update {update['update_id']}")


class HastyPerson(Person):
    """Taps "Send" twice in a row: the two taps may reach different instances."""

    def press(self, screen, action: str) -> None:
        super().press(screen, action)
        if action == "review:confirm":
            super().press(screen, action)


def new_version(flow) -> bytes:
    """The questionnaire with the story question worded for a new campaign."""
    raw = flow_to_raw(flow)
    story = next(question for question in raw["questions"] if question["id"] == "description")
    story["text"] = {lang: f"{text} {MARK}" for lang, text in story["text"].items()}
    return yaml.safe_dump(raw, allow_unicode=True, sort_keys=False).encode()


async def start_instance(api: FakeBotAPI, tmp_path: Path, name: str, port: int, log) -> asyncio.subprocess.Process:
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TIPBOT_DATA_DIR": str(tmp_path / name),
        "TIPBOT_DATABASE_URL": POSTGRES_URL,
        "TIPBOT_SECRET_KEY": KEY,
        "TIPBOT_WEBHOOK_SECRET": SECRET,
        "TIPBOT_WEBHOOK_URL": "https://tips.example.org/telegram",
        "TIPBOT_PORT": str(port),
        "TIPBOT_TOKEN": FakeBotAPI.token,
        "TIPBOT_API_BASE_URL": api.base_url,
        "TIPBOT_API_FILE_URL": api.base_file_url,
        "TIPBOT_STAFF_CHAT_IDS": str(STAFF_CHAT),
        "TIPBOT_ADMIN_IDS": str(ADMIN.id),
        "TIPBOT_STAFF_LANGUAGE": "en",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=environment, cwd=str(tmp_path), stdout=log, stderr=log
    )


async def open_runtime(tmp_path: Path) -> Runtime:
    return await Runtime.open(load_settings(data_dir=tmp_path / "test", database_url=POSTGRES_URL, secret_key=KEY))


async def test_two_instances_share_reporters_follow_ups_the_digest_and_new_questionnaires(tmp_path):
    await reset_postgres(POSTGRES_URL)
    runtime = await open_runtime(tmp_path)  # a digest was due yesterday: each instance sees it missed at start
    await runtime.records.set_state(DONE_KEY, "2000-01-01")
    old_flow = runtime.flows.active
    await runtime.close()

    ports = [free_port(), free_port()]
    async with FakeBotAPI() as api:
        balancer = Balancer(api, ports)
        with open(tmp_path / "instances.log", "wb") as log:
            processes = await asyncio.gather(
                *(start_instance(api, tmp_path, f"instance-{n}", port, log) for n, port in enumerate(ports))
            )
            delivering = asyncio.create_task(balancer.run())
            try:
                await api.wait_until(lambda: len(api.calls_to("setWebhook")) >= 2, timeout=60)
                await check_everything(api, balancer, tmp_path, old_flow)
            finally:
                delivering.cancel()
                for process in processes:
                    process.send_signal(signal.SIGINT)
                for process in processes:
                    await asyncio.wait_for(process.wait(), 30)
        assert all(process.returncode == 0 for process in processes)
    text = (tmp_path / "instances.log").read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    assert min(balancer.delivered) > 50, balancer.delivered  # both instances really took part


async def check_everything(api: FakeBotAPI, balancer: Balancer, tmp_path: Path, old_flow) -> None:
    people = [(HastyPerson if number % 2 else Person)(api, number) for number in range(REPORTERS)]
    codes = await asyncio.gather(*(person.report() for person in people))

    runtime = await open_runtime(tmp_path)
    try:
        salt = runtime.keys.receipt_salt
        tip_ids = [await runtime.repository.tip_by_receipt([hash_code(c.replace(" ", ""), salt)]) for c in codes]
        assert None not in tip_ids
        stored = await runtime.repository.list_tips(None, limit=10 * REPORTERS)  # digested at start or not
        assert len(stored) == REPORTERS, "one report each, none twice"
        for person, tip_id in zip(people, tip_ids, strict=True):
            assert person.story in (await runtime.repository.get_tip(tip_id)).answers["description"]
    finally:
        await runtime.close()

    heading = en("📋 Digest of {date}").split("{")[0]
    no_news = en("No new reports since the last digest.")[:20]
    digests = [m for m in api.sent_to(STAFF_CHAT) if (m.text or "").startswith((heading, no_news))]
    assert len(digests) == 1, [m.text for m in digests]  # the catch-up at start, by one instance only

    await follow_up_across_instances(api, people[0], codes[0], tip_ids[0])
    await publish_on_one_ask_on_the_other(api, balancer, old_flow)


async def follow_up_across_instances(api: FakeBotAPI, person: Person, code: str, tip_id: str) -> None:
    after = api.mark(STAFF_CHAT)
    api.send_group_text(STAFF_CHAT, STAFF, f"/reply {tip_id[:8]} Which district was it?")
    await api.wait_for_message(STAFF_CHAT, lambda m: m.text and tip_id[:8] in m.text, after=after, timeout=30)
    reporter = Reporter(api, person.user)
    _ = gettext_for(person.lang)
    await reporter.press_and_wait("receipt:done", lambda m: True)  # the code is written down; the chat is cleared
    asking = _("Send the 16-digit receipt code of your report (spaces are fine).")
    after = api.mark(reporter.chat)
    api.send_command(person.user, "/status")
    await reporter.wait(lambda m: asking in (m.text or ""), after)
    screen = await reporter.say(code, lambda m: _("Your report: {status}.").split("{")[0] in (m.text or ""))
    assert "Which district was it?" in screen.text
    after = api.mark(STAFF_CHAT)
    await reporter.press_and_wait(callbacks.FOLLOW_UP_ANSWER, lambda m: bool(m.buttons()))
    await reporter.say("Andijan district, near the school", lambda m: bool(m.text))
    answered = await api.wait_for_message(STAFF_CHAT, "Andijan district, near the school", after=after, timeout=30)
    assert tip_id[:8] in answered.text


async def publish_on_one_ask_on_the_other(api: FakeBotAPI, balancer: Balancer, old_flow) -> None:
    admin = Reporter(api, ADMIN)
    balancer.pinned[ADMIN.id] = 0
    after = api.mark(admin.chat)
    api.send_document(ADMIN, new_version(old_flow), "campaign_2027.yaml", "application/x-yaml")
    summary = await admin.wait(lambda m: bool(m.buttons()), after)
    await admin.press(f"{ACTION}publish:{summary_token(summary)}")
    assert summary.text.startswith(en("Published: {id} version {version}.").split("{")[0])
    await asyncio.sleep(FRESH_FOR + 0.5)  # the other instance looks for new versions at most this often
    newcomer = Person(api, REPORTERS + 1)
    balancer.pinned[newcomer.user.id] = 1
    api.send_command(newcomer.user, "/start")
    reporter = Reporter(api, newcomer.user)
    await reporter.wait(lambda m: "lang:" in str(m.reply_markup))
    await reporter.press_and_wait(f"lang:{newcomer.lang}", lambda m: "begin" in str(m.reply_markup))
    question = await reporter.press_and_wait("begin", lambda m: asks(m, "description"))
    assert MARK in question.text
