"""Benchmark (not a test): a burst of reporters on SQLite. Target: 500 chats writing a quick report all at once,
with no error reaching any of them, no "database is locked", and every report stored.

    .venv/bin/python benchmarks/sqlite_burst.py [--chats N] [--photos SHARE] [--think SECONDS] [--busy-handler-only]

Each chat does what a person does for a quick report: /start, a language, "Start a report", the story, the
country, the region, "Send"; a third of them (--photos) send a photo before the story. All chats start at once
and each sends its next update as soon as the bot has answered the last one (--think adds a random pause of up
to that many seconds, as a person reading the screen would take).

The real Application runs as it does when polling (the durable queue records every update in the inbox, the fair
update processor handles 32 at once, the handlers, the conversation, the sanitizer sandbox, the scheduled jobs),
on SQLite in a temporary folder. Telegram is an in-process Bot API that answers every call at once and keeps
what each chat was sent; Telegram's own rate limits are left out, so the figures are the bot's and the
database's. Prints the latency of each update (from being put on the queue, which records it, to being
handled), the updates answered with an error ("cannot save, try again", "that did not work", "something went
wrong", or not the screen a person expects next), the tips stored, and the database errors met on the way.
--busy-handler-only lets the bot's writers wait in SQLite's busy handler instead of in line
(storage.database.WriterLine), to compare the two.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from telegram import Update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.memory_soak import NullTelegram  # noqa: E402
from bot.callbacks import BEGIN  # noqa: E402
from bot.config import Settings, load_settings  # noqa: E402
from bot.conversation import STEP_FAILED  # noqa: E402
from bot.flows.engine import actions  # noqa: E402
from bot.i18n import FIRST_LANGUAGES, gettext_for  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.telegram.app import UNAVAILABLE, build_application  # noqa: E402
from storage.database import LinedConnection  # noqa: E402
from storage.models import Tip  # noqa: E402

FIRST_CHAT = 8_000_000
SOMETHING_WRONG = "Sorry, something went wrong. Please try again in a moment."
"""The error handler's line for a failure that is not the database's (bot/telegram/app.py)."""
STORIES = [
    "Всех учителей школы отправили на хлопок, норма 60 кг в день.",
    "Maktabimiz o‘qituvchilarini paxtaga jo‘natishdi, bormaganlarni ishdan bo‘shatamiz deyishdi.",
    "Мектептің барлық мұғалімдерін мақтаға жіберді.",
    "Teachers of school 5 were sent to the cotton fields since September.",
]
STEP_WAIT = 120.0
"""Seconds a chat waits for one update to be handled before it counts the step as never answered."""


@dataclass
class Screen:
    message_id: int
    text: str
    buttons: list[str]


class RecordingTelegram(NullTelegram):
    """The null Bot API, also keeping every text each chat was sent or had edited, with its buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.screens: dict[int, list[Screen]] = {}

    def _result(self, endpoint: str, params: dict[str, Any]) -> Any:
        result = super()._result(endpoint, params)
        if endpoint in ("sendMessage", "sendPhoto", "editMessageText"):
            chat_id = int(params.get("chat_id", 0))
            message_id = int(params["message_id"]) if endpoint == "editMessageText" else result["message_id"]
            text = str(params.get("text") or params.get("caption") or "")
            buttons = self.keyboards.get(chat_id, []) if params.get("reply_markup") else []
            self.screens.setdefault(chat_id, []).append(Screen(message_id, text, list(buttons)))
        return result


@dataclass
class Burst:
    """What one run measured."""

    chats: int
    photos: int
    seconds: float = 0.0
    cpu: float = 0.0
    """CPU seconds of the bot's process (all its threads) during the burst; the sandbox's workers are not in it."""
    latencies: list[float] = field(default_factory=list)
    """Seconds from putting each update on the queue to its having been handled."""
    recording: list[float] = field(default_factory=list)
    """Seconds each put took (the durable queue records the update in the inbox then)."""
    errors: dict[str, int] = field(default_factory=dict)
    """Updates answered with an error, by kind."""
    finished: int = 0
    """Chats that were shown their receipt."""
    tips: int = 0
    locked: int = 0
    """Statements that failed with "database is locked" or "database is busy"."""
    writes: list[float] = field(default_factory=list)
    """Seconds each write statement took as the bot saw it, waiting for the write lock included."""
    unrecorded: int = 0
    """Times the durable queue gave up waiting for an update's record (bot/telegram/intake.py RECORD_WITHIN) and
    handled the updates of the next 10 s unrecorded."""
    database_errors: dict[str, int] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)
    """Log lines at WARNING and above, by message."""
    examples: list[str] = field(default_factory=list)

    @property
    def errors_to_users(self) -> int:
        return sum(self.errors.values())

    def fail(self, kind: str, example: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.examples) < 5:
            self.examples.append(f"{kind}: {example}")


class LogTally(logging.Handler):
    """Counts log lines at WARNING and above by their message (the bot logs no identifiers)."""

    def __init__(self, burst: Burst) -> None:
        super().__init__(logging.WARNING)
        self.burst = burst

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            message += f" [{record.exc_info[1]}]"
        if "handled unrecorded" in message:
            self.burst.unrecorded += 1
        self.burst.warnings[message] = self.burst.warnings.get(message, 0) + 1


def error_texts() -> dict[str, str]:
    """Each error line a reporter may be sent, in every language, and its kind."""
    lines = {UNAVAILABLE: "cannot save, try again", STEP_FAILED: "step failed", SOMETHING_WRONG: "something went wrong"}
    return {gettext_for(lang)(msgid): kind for lang in FIRST_LANGUAGES for msgid, kind in lines.items()}


class Reporter:
    """One person in a private chat, writing a quick report step by step."""

    def __init__(self, bench: Bench, number: int, photo: bool, think: float) -> None:
        self.bench = bench
        self.chat = FIRST_CHAT + number
        self.lang = FIRST_LANGUAGES[number % len(FIRST_LANGUAGES)]
        self.story = STORIES[number % len(STORIES)]
        self.photo = photo
        self.think = think
        self.random = random.Random(number)

    async def report(self) -> None:
        _ = gettext_for(self.lang)
        steps: list[tuple[dict[str, Any], Any]] = [
            (self._text("/start"), self._offers(f"lang:{self.lang}")),
            (self._press(f"lang:{self.lang}"), self._offers(BEGIN)),
            (self._press(BEGIN), self._asks("description")),
        ]
        if self.photo:
            received = _("Files received: {count}. They will be sent with your report.").format(count=1)
            steps.append((self._photo(), self._says(received)))
        steps += [
            (self._text(self.story), self._offers(actions.country("region", "UZ"))),
            (self._press(actions.country("region", "UZ")), self._offers(actions.region("region", "UZ-AN"))),
            (self._press(actions.region("region", "UZ-AN")), self._offers(actions.CONFIRM)),
            (self._press(actions.CONFIRM), self._says(_("Thank you. Your report has been received."))),
        ]
        for number, (build, expected) in enumerate(steps, 1):
            if self.think:
                await asyncio.sleep(self.random.uniform(0, self.think))
            if not await self._step(number, build(), expected):
                return
        self.bench.burst.finished += 1

    async def _step(self, number: int, update: dict[str, Any], expected: Any) -> bool:
        """Send one update and check the answer; False (counted as an error) when it was not the next screen."""
        seen = len(self.bench.telegram.screens.get(self.chat, []))
        handled = self.bench.expect(update["update_id"])
        started = time.perf_counter()
        await self.bench.queue.put(Update.de_json(update, self.bench.application.bot))
        self.bench.burst.recording.append(time.perf_counter() - started)
        try:
            await asyncio.wait_for(handled, STEP_WAIT)
        except TimeoutError:
            self.bench.burst.fail("never answered", f"step {number}")
            return False
        self.bench.burst.latencies.append(time.perf_counter() - started)
        answer = self.bench.telegram.screens.get(self.chat, [])[seen:]
        for screen in answer:
            for line, kind in self.bench.errors.items():
                if screen.text.startswith(line):
                    self.bench.burst.fail(kind, screen.text[:80])
                    return False
        if not expected(answer):
            shown = " | ".join(screen.text[:60] for screen in answer) or "nothing"
            self.bench.burst.fail("not the expected screen", f"step {number}: {shown}")
            return False
        return True

    def _offers(self, data: str):
        return lambda answer: any(data in screen.buttons for screen in answer)

    def _asks(self, question: str):
        return lambda answer: any(f":{question}:" in data for screen in answer for data in screen.buttons)

    def _says(self, words: str):
        return lambda answer: any(words in screen.text for screen in answer)

    def _base(self) -> dict[str, Any]:
        return {"update_id": next(self.bench.update_ids)}

    def _user(self) -> dict[str, Any]:
        return {"id": self.chat, "is_bot": False, "first_name": "R", "language_code": self.lang}

    def _message(self, content: dict[str, Any]) -> dict[str, Any]:
        message = {"message_id": next(self.bench.message_ids), "date": int(time.time()), "from": self._user()}
        message["chat"] = {"id": self.chat, "type": "private", "first_name": "R"}
        return {**self._base(), "message": {**message, **content}}

    def _text(self, text: str):
        def build() -> dict[str, Any]:
            entities = [{"type": "bot_command", "offset": 0, "length": len(text)}] if text.startswith("/") else []
            return self._message({"text": text, **({"entities": entities} if entities else {})})

        return build

    def _photo(self):
        def build() -> dict[str, Any]:
            size = {"file_id": f"photo-{self.chat}", "file_unique_id": f"p{self.chat}", "width": 64, "height": 48}
            return self._message({"photo": [{**size, "file_size": len(self.bench.telegram.photo)}]})

        return build

    def _press(self, data: str):
        """A press on the newest message carrying `data`, as the phone shows it."""

        def build() -> dict[str, Any]:
            screens = self.bench.telegram.screens.get(self.chat, [])
            holder = next((s.message_id for s in reversed(screens) if data in s.buttons), 1)
            message = {"message_id": holder, "date": int(time.time()), "text": "·"}
            message["chat"] = {"id": self.chat, "type": "private"}
            query = {"id": f"q{next(self.bench.update_ids)}", "from": self._user(), "chat_instance": "c", "data": data}
            return {**self._base(), "callback_query": {**query, "message": message}}

        return build


class Bench:
    """The application under test, and the futures that tell each reporter its update has been handled."""

    def __init__(self, application, telegram: RecordingTelegram, burst: Burst) -> None:
        self.application = application
        self.queue = application.update_queue
        self.telegram = telegram
        self.burst = burst
        self.errors = error_texts()
        self.update_ids = itertools.count(1)
        self.message_ids = itertools.count(10_000_000)
        self._waiting: dict[int, asyncio.Future[None]] = {}
        processor = application.update_processor
        forget = processor.handled

        async def handled(update: object) -> None:
            if isinstance(update, Update) and update.update_id in self._waiting:
                future = self._waiting.pop(update.update_id)
                if not future.done():
                    future.set_result(None)
            if forget is not None:
                await forget(update)

        processor.handled = handled

    def expect(self, update_id: int) -> asyncio.Future[None]:
        future = asyncio.get_running_loop().create_future()
        self._waiting[update_id] = future
        return future


def burst_settings(folder: Path) -> Settings:
    return load_settings(
        token="123456:burst",
        data_dir=folder / "data",
        secret_key="b" * 40,
        staff_chat_ids="-1001234567890",
        database_url=f"sqlite+aiosqlite:///{folder / 'tipbot.db'}",
    )


async def run_burst(settings: Settings, chats: int, photos: float = 1 / 3, think: float = 0.0) -> Burst:
    """Run `chats` reporters at once against a bot opened with `settings` (an SQLite database) and measure."""
    with_photo = {number for number in range(chats) if number % round(1 / photos) == 0} if photos else set()
    burst = Burst(chats=chats, photos=len(with_photo))
    tally = LogTally(burst)
    logging.getLogger().addHandler(tally)
    telegram = RecordingTelegram()
    runtime = await Runtime.open(settings)

    def database_error(context) -> None:
        text = str(context.original_exception)
        if "locked" in text or "busy" in text:
            burst.locked += 1
        burst.database_errors[text] = burst.database_errors.get(text, 0) + 1

    def before(connection, _cursor, statement, _parameters, _context, _many) -> None:
        connection.info["started"] = time.perf_counter()

    def after(connection, _cursor, statement, _parameters, _context, _many) -> None:
        if not statement.lstrip().upper().startswith(("SELECT", "PRAGMA")):
            burst.writes.append(time.perf_counter() - connection.info.pop("started"))

    engine = runtime.engine.sync_engine
    event.listen(engine, "handle_error", database_error)
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    application = build_application(settings, runtime)
    application.bot._request = (telegram, telegram)  # the in-process Bot API for calls and for downloads alike
    application.bot._rate_limiter = None  # Telegram's 30 messages a second would only measure the limiter
    try:
        await application.initialize()
        await application.start()  # takes updates from the queue as polling would put them there
        bench = Bench(application, telegram, burst)
        reporters = [Reporter(bench, number, number in with_photo, think) for number in range(chats)]
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(reporter.report() for reporter in reporters))
        burst.seconds, burst.cpu = time.perf_counter() - started, time.process_time() - cpu
        await application.stop()
    finally:
        await application.shutdown()
        await application.update_queue.forgotten()
        async with runtime.engine.connect() as connection:
            burst.tips = (await connection.execute(select(func.count()).select_from(Tip))).scalar_one()
        await runtime.close()
        logging.getLogger().removeHandler(tally)
    return burst


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def table(burst: Burst) -> str:
    ms = [value * 1000 for value in burst.latencies]
    put = [value * 1000 for value in burst.recording]
    writes = [value * 1000 for value in burst.writes]
    rows = [
        f"chats {burst.chats} at once ({burst.photos} with a photo), {len(ms)} updates handled "
        f"in {burst.seconds:.1f} s ({len(ms) / max(burst.seconds, 1e-9):.0f} a second, the bot's process using "
        f"{burst.cpu:.1f} s of CPU)",
        "",
        f"{'latency, ms':<28}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}",
        f"{'queue put to handled':<28}{percentile(ms, 0.5):>8.0f}{percentile(ms, 0.95):>8.0f}"
        f"{percentile(ms, 0.99):>8.0f}{max(ms, default=0):>8.0f}",
        f"{'  of which recording (put)':<28}{percentile(put, 0.5):>8.0f}{percentile(put, 0.95):>8.0f}"
        f"{percentile(put, 0.99):>8.0f}{max(put, default=0):>8.0f}",
        f"{'a write statement':<28}{percentile(writes, 0.5):>8.0f}{percentile(writes, 0.95):>8.0f}"
        f"{percentile(writes, 0.99):>8.0f}{max(writes, default=0):>8.0f}",
        "",
        f"errors to users: {burst.errors_to_users}"
        + (f" ({', '.join(f'{kind}: {count}' for kind, count in burst.errors.items())})" if burst.errors else ""),
        f"receipts shown: {burst.finished} of {burst.chats}",
        f"tips stored: {burst.tips} of {burst.chats}",
        f"database is locked/busy: {burst.locked}",
        f"the durable queue gave up recording updates: {burst.unrecorded} times (each time for 10 s)",
    ]
    rows += [f"  database error x{count}: {text}" for text, count in burst.database_errors.items()]
    rows += [f"  log x{count}: {message[:150]}" for message, count in burst.warnings.items()]
    rows += [f"  e.g. {example}" for example in burst.examples]
    if ms:
        rows.append(f"mean latency {statistics.mean(ms):.0f} ms")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=500)
    parser.add_argument("--photos", type=float, default=1 / 3, help="share of chats sending a photo")
    parser.add_argument("--think", type=float, default=0.0, help="a pause of up to this many seconds per step")
    parser.add_argument(
        "--busy-handler-only",
        action="store_true",
        help="writers wait in SQLite's busy handler instead of in line (storage.database.WriterLine), for comparison",
    )
    args = parser.parse_args()
    if args.busy_handler_only:
        LinedConnection.before = lambda _connection, _statement: None
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    waiting = "in SQLite's busy handler" if args.busy_handler_only else "in line"
    print(
        f"python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {os.cpu_count()} cores: {args.chats} "
        f"chats, think up to {args.think} s, writers waiting {waiting}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as folder:
        burst = asyncio.run(run_burst(burst_settings(Path(folder)), args.chats, args.photos, args.think))
    print(table(burst))
    good = burst.errors_to_users == 0 and burst.tips == burst.chats and burst.locked == 0
    print(
        f"{'PASS' if good else 'FAIL'}: {burst.errors_to_users} errors to users, {burst.tips} tips of "
        f"{burst.chats}, {burst.locked} locked"
    )
    return 0 if good else 1


if __name__ == "__main__":
    raise SystemExit(main())
