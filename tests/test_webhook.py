"""Nobody but Telegram can talk to the webhook: `tipbot run` in webhook mode, as a process, against the fake Bot API.

The attack this guards against: a forged POST carrying an admin's user id added a staff chat, which then got
every report through /digest.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator

import aiohttp

from bot.i18n import gettext_for
from bot.privacy.keys import WEBHOOK_SECRET_PATTERN
from bot.screens import help_screen

from .fakebotapi import FakeBotAPI, FakeUser
from .harness import settling_press
from .test_e2e_process import free_port, post_when_listening, start_tipbot_run

ADMIN = FakeUser(id=7800001, first_name="Dilnoza", language_code="en")
FORGED_CHAT = -100999
HEADER = "X-Telegram-Bot-Api-Secret-Token"
en = gettext_for("en")


@contextlib.asynccontextmanager
async def webhook_bot(
    api: FakeBotAPI, tmp_path, stop: signal.Signals = signal.SIGINT, **settings: str
) -> AsyncIterator[tuple[str, int]]:
    """`tipbot run` with a webhook URL until the block ends (then `stop` is sent); yields the secret it
    registered and its port."""
    port = free_port()
    registered = len(api.calls_to("setWebhook"))
    process = await start_tipbot_run(
        api,
        tmp_path,
        {"TIPBOT_WEBHOOK_URL": "https://tips.example.org/telegram", "TIPBOT_PORT": str(port), **settings},
    )
    try:
        await api.wait_until(lambda: len(api.calls_to("setWebhook")) > registered, timeout=30)
        secret = api.calls_to("setWebhook")[-1].params["secret_token"]
        yield secret, port
    finally:
        process.send_signal(stop)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    log = stderr.decode()
    assert process.returncode == 0, log[-2000:]
    assert "Traceback" not in log and secret not in log


async def post(client: aiohttp.ClientSession, port: int, update: dict, secret: str) -> int:
    async with client.post(f"http://127.0.0.1:{port}/telegram", json=update, headers={HEADER: secret}) as answer:
        return answer.status


async def test_forged_updates_get_403_and_change_nothing(tmp_path):
    async with (
        FakeBotAPI() as api,
        webhook_bot(api, tmp_path, TIPBOT_ADMIN_IDS=str(ADMIN.id), TIPBOT_STAFF_LANGUAGE="en") as (secret, port),
        aiohttp.ClientSession() as client,
    ):
        assert WEBHOOK_SECRET_PATTERN.fullmatch(secret) and len(secret) >= 32
        forged = api.send_text(ADMIN, f"/staff add chat {FORGED_CHAT}")
        unsigned = await post_when_listening(client, f"http://127.0.0.1:{port}/telegram", forged, None)
        assert unsigned.status == 403
        assert await post(client, port, forged, "not-the-secret") == 403
        assert await post(client, port, forged, secret[:-1]) == 403

        assert await post(client, port, api.send_text(ADMIN, "/staff"), secret) == 200
        listing = await api.wait_for_message(ADMIN.id)
        assert listing.text.splitlines()[0] == en("Staff chats: {list}").format(list="—")
        assert await post(client, port, api.send_group_text(FORGED_CHAT, ADMIN, "/digest"), secret) == 200
        settled = settling_press(api, ADMIN, {"id": FORGED_CHAT, "type": "supergroup"})
        assert await post(client, port, settled, secret) == 200
        await api.wait_until(lambda: api.callback_answer(settled) is not None)
        assert len(api.sent_to(ADMIN.id)) == 1 and api.sent_to(FORGED_CHAT) == []  # not a staff chat: nothing said

        assert await post(client, port, forged, secret) == 200
        added = await api.wait_for_message(ADMIN.id, after=1)
        assert added.text.splitlines()[0] == en("Staff chats: {list}").format(list=str(FORGED_CHAT))
        assert await post(client, port, api.send_group_text(FORGED_CHAT, ADMIN, "/digest"), secret) == 200
        digest = await api.wait_for_message(FORGED_CHAT)
        assert digest.text != help_screen("en", discreet=True).text


async def connects(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection(host, port)
    except ConnectionRefusedError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def listening_on(host: str, port: int, attempts: int = 100) -> bool:
    """The server may start listening a moment after it registered the webhook."""
    for _ in range(attempts):
        if await connects(host, port):
            return True
        await asyncio.sleep(0.1)
    return False


async def test_generated_secret_is_private_kept_across_restarts_and_listen_is_honoured(tmp_path):
    data = tmp_path / "data"
    async with FakeBotAPI() as api:
        async with webhook_bot(api, tmp_path) as (first, port):
            assert await listening_on("127.0.0.1", port)
            assert not await connects("127.0.0.2", port)
            assert (data / "webhook.secret").read_text() == first
            assert (data / "webhook.secret").stat().st_mode & 0o777 == 0o600
            assert data.stat().st_mode & 0o777 == 0o700
        async with webhook_bot(api, tmp_path, TIPBOT_LISTEN="127.0.0.2") as (second, port):
            assert await listening_on("127.0.0.2", port)
            assert not await connects("127.0.0.1", port)
        assert second == first
        assert sorted(path.name for path in data.iterdir() if "secret" in path.name) == ["secret.key", "webhook.secret"]


async def test_registers_every_pending_update_answers_health_checks_and_stops_on_sigterm(tmp_path):
    """What a load balancer and an orchestrator rely on: /healthz once the instance is up, a clean stop on
    SIGTERM (docker stop), and a registration that drops nothing Telegram still holds."""
    async with (
        FakeBotAPI() as api,
        webhook_bot(api, tmp_path, stop=signal.SIGTERM, TIPBOT_WEBHOOK_SECRET="shared_secret-1") as (secret, port),
        aiohttp.ClientSession() as client,
    ):
        registered = api.calls_to("setWebhook")[-1].params
        assert registered["url"] == "https://tips.example.org/telegram" and secret == "shared_secret-1"
        assert registered["allowed_updates"] == ["message", "callback_query"]
        assert registered["drop_pending_updates"] is False
        assert await listening_on("127.0.0.1", port)
        async with client.get(f"http://127.0.0.1:{port}/healthz") as answer:
            assert (answer.status, await answer.text()) == (200, "ok\n")
        assert api.calls_to("deleteWebhook") == [] and api.calls_to("getUpdates") == []
    assert api.calls_to("deleteWebhook") == []  # another instance may still be serving
