"""Benchmark (not a test): the bot's memory over a long run. Target: resident memory after 100,000 mixed updates
within 20% of what it was after 10,000.

    .venv/bin/python benchmarks/memory_soak.py [--updates N] [--chats C] [--seed S]

The real Application (every handler, the conversation, SQLite in a temporary folder, the sanitizer sandbox)
processes generated updates one after another as it does when polling: each is queued (and so recorded in the
inbox), then run by the fair update processor, which forgets it once handled.
Telegram is a null Bot API inside the process that answers every call with success and keeps only the last
keyboard each chat was sent, so the figures are the bot's own. C reporters wander through the bot as people
do: mostly pressing a button of the last keyboard they got (so they choose languages, write quick reports,
answer more questions, send them, write codes down), sometimes typing a story, a receipt code or nonsense,
pressing an old button, sending a sticker or a photo, erasing everything, or typing a command; staff ask for
lists now and then. Prints the resident memory after the first tenth of the updates and at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import itertools
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from PIL import Image
from telegram import Update
from telegram.request import BaseRequest, RequestData

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_settings  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.telegram.app import build_application  # noqa: E402

TARGET_GROWTH = 0.20
STAFF_CHAT = -1001234567890
BOT_USER = {"id": 4242, "is_bot": True, "first_name": "Survey helper", "username": "survey_helper_bot"}
STORIES = [
    "Всех учителей школы отправили на хлопок, норма 60 кг в день.",
    "Maktabimiz o‘qituvchilarini paxtaga jo‘natishdi, bormaganlarni ishdan bo‘shatamiz deyishdi.",
    "Мектептің барлық мұғалімдерін мақтаға жіберді.",
    "Teachers of school 5 were sent to the cotton fields since September.",
    "Call the brigadier at +998 90 123 45 67, he took our passports.",
]
NOISE = ["hello", "с сентября", "около 40", "1234 5678 9012 3456", "?", "Андижан", "ok", "x" * 3000]


def _photo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (180, 40, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


class NullTelegram(BaseRequest):
    """Answers every Bot API call with success, keeps the newest keyboard of each chat and nothing else."""

    def __init__(self) -> None:
        self.message_ids = itertools.count(1)
        self.keyboards: dict[int, list[str]] = {}
        self.photo = _photo()

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        if "/file/bot" in url:
            return 200, self.photo
        endpoint = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        return 200, json.dumps({"ok": True, "result": self._result(endpoint, params)}).encode()

    def _result(self, endpoint: str, params: dict[str, Any]) -> Any:
        if endpoint == "getMe":
            return {**BOT_USER, "can_join_groups": True, "can_read_all_group_messages": False}
        if endpoint == "getFile":
            return {"file_id": params["file_id"], "file_unique_id": "u", "file_size": 900, "file_path": "p/x.jpg"}
        if endpoint.startswith("send") or endpoint == "editMessageText":
            chat_id = int(params.get("chat_id", 0))
            markup = params.get("reply_markup")
            if markup:
                rows = json.loads(markup) if isinstance(markup, str) else markup
                data = [b.get("callback_data") for row in rows.get("inline_keyboard", []) for b in row]
                self.keyboards[chat_id] = [d for d in data if d]
            message = {"message_id": next(self.message_ids), "date": int(time.time()), "from": BOT_USER}
            message["chat"] = {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}
            message["text"] = "·"
            return [message] if endpoint == "sendMediaGroup" else message
        return True


class Crowd:
    """Reporters and staff producing updates as people do (see the module docstring)."""

    def __init__(self, telegram: NullTelegram, chats: int, seed: int):
        self.telegram = telegram
        self.random = random.Random(seed)
        self.chats = [7_000_000 + number for number in range(chats)]
        self.update_ids = itertools.count(1)
        self.message_ids = itertools.count(10_000_000)
        self.old_buttons: list[str] = ["review:confirm", "opt:what:quota", "lang:xx", "nav:region:back"]

    def next(self) -> dict[str, Any]:
        if self.random.random() < 0.01:
            return self._staff(self.random.choice(["/tips", "/tips open", "/help", "/tip 1a2b3c4d"]))
        chat = self.random.choice(self.chats)
        roll = self.random.random()
        buttons = self.telegram.keyboards.get(chat, [])
        if roll < 0.70 and buttons:
            choices = [data for data in buttons if data != "erase"] or buttons
            data = self.random.choice(choices)
            self.old_buttons.append(data)
            del self.old_buttons[:-200]
            return self._press(chat, data)
        if roll < 0.80:
            return self._text(chat, self.random.choice(STORIES))
        if roll < 0.85:
            return self._text(chat, self.random.choice(NOISE))
        if roll < 0.88:
            return self._press(chat, self.random.choice(self.old_buttons))
        if roll < 0.90:
            return self._message(chat, {"sticker": {"file_id": "s", "file_unique_id": "s", "width": 1, "height": 1,
                                                    "is_animated": False, "is_video": False, "type": "regular"}})
        if roll < 0.905:
            photo = {"file_id": f"photo-{chat}", "file_unique_id": "p", "width": 64, "height": 48, "file_size": 900}
            return self._message(chat, {"photo": [photo]})
        if roll < 0.92:
            return self._press(chat, "erase")
        return self._text(chat, self.random.choice(["/start", "/help", "/status", "/privacy", "/cancel", "/forget"]))

    def _base(self, chat: int) -> dict[str, Any]:
        return {"update_id": next(self.update_ids)}

    def _user(self, chat: int) -> dict[str, Any]:
        return {"id": chat, "is_bot": False, "first_name": "R", "language_code": "ru"}

    def _message(self, chat: int, content: dict[str, Any], chat_type: str = "private") -> dict[str, Any]:
        message = {"message_id": next(self.message_ids), "date": int(time.time()), "from": self._user(chat)}
        message["chat"] = {"id": chat, "type": chat_type, **({"first_name": "R"} if chat_type == "private" else {})}
        return {**self._base(chat), "message": {**message, **content}}

    def _text(self, chat: int, text: str) -> dict[str, Any]:
        entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}] if text[0] == "/" else []
        return self._message(chat, {"text": text, **({"entities": entities} if entities else {})})

    def _press(self, chat: int, data: str) -> dict[str, Any]:
        message = {"message_id": 1, "date": int(time.time()), "chat": {"id": chat, "type": "private"}, "text": "·"}
        query = {"id": str(next(self.update_ids)), "from": self._user(chat), "chat_instance": "c", "data": data}
        return {**self._base(chat), "callback_query": {**query, "message": message}}

    def _staff(self, text: str) -> dict[str, Any]:
        update = self._text(STAFF_CHAT, text)
        update["message"]["chat"] = {"id": STAFF_CHAT, "type": "supergroup", "title": "Staff"}
        return update


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def soak(updates: int, chats: int, seed: int, folder: Path) -> tuple[int, int, float]:
    settings = load_settings(
        token="123456:soak",
        data_dir=folder / "data",
        secret_key="s" * 40,
        staff_chat_ids=str(STAFF_CHAT),
        database_url=f"sqlite+aiosqlite:///{folder / 'tipbot.db'}",
    )
    telegram = NullTelegram()
    runtime = await Runtime.open(settings)
    application = build_application(settings, runtime)
    application.bot._request = (telegram, telegram)  # the null Bot API for calls and for downloads alike
    application.bot._rate_limiter = None  # Telegram's 30 messages a second would only make the run longer
    await application.initialize()
    crowd = Crowd(telegram, chats, seed)
    warm_up = updates // 10
    started = time.perf_counter()
    early = 0
    try:
        queue, processor = application.update_queue, application.update_processor
        for number in range(1, updates + 1):  # the way PTB takes each update: queued (and recorded), processed
            await queue.put(Update.de_json(crowd.next(), application.bot))
            update = await queue.get()
            await processor.process_update(update, application.process_update(update))
            if number == warm_up:
                gc.collect()
                early = resident_bytes()
            if number % 10_000 == 0:
                print(f"  {number:>7} updates, {resident_bytes() / 2**20:.1f} MiB", flush=True)
        await queue.forgotten()
        gc.collect()
        late = resident_bytes()
    finally:
        await application.shutdown()
        await runtime.close()
    return early, late, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=100_000)
    parser.add_argument("--chats", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"python {platform.python_version()}: {args.updates} updates from {args.chats} chats (seed {args.seed})")
    with tempfile.TemporaryDirectory() as folder:
        early, late, seconds = asyncio.run(soak(args.updates, args.chats, args.seed, Path(folder)))
    growth = late / early - 1
    print(f"resident memory after {args.updates // 10} updates: {early / 2**20:.1f} MiB")
    print(f"resident memory after {args.updates} updates: {late / 2**20:.1f} MiB ({growth:+.1%})")
    print(f"{args.updates / seconds:.0f} updates a second")
    verdict = "PASS" if growth <= TARGET_GROWTH else "FAIL"
    print(f"{verdict}: growth {growth:+.1%} (target at most +{TARGET_GROWTH:.0%})")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
