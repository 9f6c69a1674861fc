"""`tipbot run` as a real process, polling the fake Bot API server: the way it runs in production."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from .cli import ROOT
from .fakebotapi import FakeBotAPI, FakeUser
from .harness import STAFF_CHAT, Reporter


async def start_tipbot_run(api: FakeBotAPI, tmp_path, settings: dict[str, str]) -> asyncio.subprocess.Process:
    """`tipbot run` as its own process, talking to the fake Bot API, with the given extra settings."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TIPBOT_DATA_DIR": str(tmp_path / "data"),
        "TIPBOT_TOKEN": FakeBotAPI.token,
        "TIPBOT_API_BASE_URL": api.base_url,
        "TIPBOT_API_FILE_URL": api.base_file_url,
        **settings,
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_tipbot_run_serves_reporters_and_stops_cleanly(tmp_path):
    async with FakeBotAPI() as api:
        process = await start_tipbot_run(
            api,
            tmp_path,
            {
                "TIPBOT_STAFF_CHAT_IDS": str(STAFF_CHAT),
            },
        )
        try:
            reporter = Reporter(api, FakeUser(id=7300001, first_name="Saule", language_code="kk"))
            api.send_command(reporter.user, "/start")
            picker = await api.wait_for_message(reporter.chat, lambda m: bool(m.buttons()), timeout=30)
            assert picker.button_texts()[0] == "Қазақша"
            await reporter.press_and_wait("lang:kk", lambda m: "begin" in str(m.reply_markup))
            menus = {call.params.get("language_code") for call in api.calls_to("setMyCommands")}
            assert menus == {None, "ru", "uz", "kk", "en", "tk"}
        finally:
            process.send_signal(signal.SIGINT)
            _, stderr = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0, stderr.decode()[-2000:]
        assert "Traceback" not in stderr.decode()
        assert (tmp_path / "data" / "tipbot.db").exists() and (tmp_path / "data" / "secret.key").exists()


async def post_when_listening(client, url: str, update: dict, secret: str | None, attempts: int = 100):
    """The webhook server may start listening a moment after it registered the webhook (no secret: no header)."""
    import aiohttp

    headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
    for _ in range(attempts):
        try:
            return await client.post(url, json=update, headers=headers)
        except aiohttp.ClientConnectorError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"nothing listens on {url}")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_tipbot_run_with_a_webhook_url_takes_updates_by_webhook(tmp_path):
    import aiohttp

    port = free_port()
    async with FakeBotAPI() as api:
        process = await start_tipbot_run(
            api,
            tmp_path,
            {
                "TIPBOT_WEBHOOK_URL": "https://tips.example.org/telegram",
                "TIPBOT_WEBHOOK_SECRET": "webhook-secret-123",
                "TIPBOT_PORT": str(port),
            },
        )
        try:
            await api.wait_until(lambda: bool(api.calls_to("setWebhook")), timeout=30)
            registered = api.calls_to("setWebhook")[0].params
            assert registered["url"] == "https://tips.example.org/telegram"
            assert registered["secret_token"] == "webhook-secret-123"
            user = FakeUser(id=7300002, first_name="Aziz", language_code="uz")
            update = api.send_command(user, "/start")
            async with aiohttp.ClientSession() as client:
                url = f"http://127.0.0.1:{port}/telegram"
                refused = await post_when_listening(client, url, update, "wrong")
                assert refused.status == 403
                accepted = await client.post(
                    url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "webhook-secret-123"}
                )
                assert accepted.status == 200
            picker = await api.wait_for_message(user.id, lambda m: bool(m.buttons()))
            assert picker.button_texts()[0] == "O‘zbekcha"
        finally:
            process.send_signal(signal.SIGINT)
            _, stderr = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0, stderr.decode()[-2000:]
