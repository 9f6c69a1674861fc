"""Running the real bot against the fake Bot API server, and playing a reporter through it."""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import re
from collections.abc import AsyncIterator

from PIL import Image

from bot.runtime import Runtime
from bot.telegram.app import ALLOWED_UPDATES, build_application, replay_intake

from .fakebotapi import FakeBotAPI, FakeUser, SentMessage

STAFF_CHAT = -1001234567890
_SETTLING = itertools.count(1)
RECEIPT = re.compile(r"\b\d{4} \d{4} \d{4} \d{4}\b")


def bot_settings(make_settings, api: FakeBotAPI, **overrides):
    return make_settings(
        token=FakeBotAPI.token,
        api_base_url=api.base_url,
        api_file_url=api.base_file_url,
        staff_chat_ids=str(STAFF_CHAT),
        **overrides,
    )


@contextlib.asynccontextmanager
async def running_bot(settings) -> AsyncIterator[Runtime]:
    """The real PTB Application, polling the fake server, until the block ends."""
    runtime = await Runtime.open(settings)
    application = build_application(settings, runtime)
    await application.initialize()
    await application.start()
    await replay_intake(application)
    await application.updater.start_polling(poll_interval=0.0, timeout=1, allowed_updates=ALLOWED_UPDATES)
    try:
        yield runtime
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()
        await application.update_queue.forgotten()
        await runtime.close()


async def eventually(check, timeout: float = 10.0) -> None:
    """Wait until the async `check()` returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{check.__name__} never became true")
        await asyncio.sleep(0.05)


def photo_with_gps(marker: str = "Canon-SERIAL-4242") -> bytes:
    image = Image.new("RGB", (80, 60), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = marker  # Make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (40.0, 46.0, 59.0), "E", (72.0, 20.0, 40.0)  # Andijan
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


class Reporter:
    """A person in a private chat with the bot, pressing buttons by what they do (their callback data)."""

    def __init__(self, api: FakeBotAPI, user: FakeUser):
        self.api = api
        self.user = user

    @property
    def chat(self) -> int:
        return self.user.id

    def messages(self) -> list[SentMessage]:
        return self.api.sent_to(self.chat)

    async def wait(self, predicate, after: int | None = None) -> SentMessage:
        return await self.api.wait_for_message(self.chat, predicate, after=after or 0)

    def holder(self, action: str) -> tuple[SentMessage, dict]:
        """The newest button doing `action` (or `action` for one object, whose id follows after a colon)."""
        for message in reversed(self.messages()):
            for row in message.buttons():
                for button in row:
                    data = button.get("callback_data") or ""
                    if data == action or data.startswith(action + ":"):
                        return message, button
        raise AssertionError(f"no button {action!r} in the chat:\n{self.api.dump_chat(self.chat)}")

    def has_button(self, action: str) -> bool:
        try:
            self.holder(action)
        except AssertionError:
            return False
        return True

    async def press(self, action: str) -> None:
        """Press a button and wait until the bot has dealt with it (answered the callback)."""
        message, button = self.holder(action)
        update = self.api.press(self.user, message, lambda text: text == button["text"])
        await self.api.wait_until(lambda: self.api.callback_answer(update) is not None)

    async def press_and_wait(self, action: str, predicate) -> SentMessage:
        after = self.api.mark(self.chat)
        await self.press(action)
        return await self.wait(predicate, after)

    async def say(self, text: str, predicate) -> SentMessage:
        after = self.api.mark(self.chat)
        self.api.send_text(self.user, text)
        return await self.wait(predicate, after)

    async def question(self, question_id: str, after: int = 0) -> SentMessage:
        return await self.wait(lambda m: asks(m, question_id), after)


def asks(message: SentMessage, question_id: str) -> bool:
    return any(f":{question_id}:" in (button.get("callback_data") or "") for row in message.buttons() for button in row)


def settling_press(api: FakeBotAPI, user: FakeUser, chat: dict) -> dict:
    """A press on no button of the bot's, queued in `chat`: one chat's updates are handled in order, so once it
    is answered every earlier update of the chat has been handled, also where the bot said nothing."""
    return api.queue_update(
        {
            "callback_query": {
                "id": f"settle-{next(_SETTLING)}",
                "from": user.to_dict(),
                "chat_instance": "1",
                "data": "settle",
                "message": {"message_id": 1, "date": 0, "chat": chat},
            }
        }
    )


async def handled_so_far(api: FakeBotAPI, user: FakeUser, chat: dict) -> None:
    """Wait until the bot has handled every update of `chat` sent so far (see settling_press)."""
    press = settling_press(api, user, chat)
    await api.wait_until(lambda: api.callback_answer(press) is not None)
