"""Tests for the fake Bot API server, driving a real PTB Application through it."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
import zlib
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
import pytest_asyncio
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, EndPointNotFound
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fakebotapi import FakeBotAPI, FakeUser

pytestmark = [
    pytest.mark.asyncio,
    # PTB 22.8's own RetryAfter.__init__ reads the deprecated int `retry_after` property, so
    # every 429 emits this warning inside AIORateLimiter (unless PTB_TIMEDELTA=1 is set).
    # Under "error" it would be raised instead of RetryAfter and break the retry.
    # (Of several filterwarnings marks the *last* one listed wins.)
    pytest.mark.filterwarnings("error"),
    pytest.mark.filterwarnings(
        "ignore:.*In a future major version attribute `retry_after`:telegram.warnings.PTBDeprecationWarning"
    ),
]

ALICE = FakeUser(id=1001, first_name="Alice", last_name="A", username="alice")
BOB = FakeUser(id=1002, first_name="Bob")


def make_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest_asyncio.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    tasks_before = set(other_tasks())
    async with FakeBotAPI() as server:
        yield server
    assert server.errors == []
    leftover = [t for t in other_tasks() if t not in tasks_before]
    assert leftover == [], f"pending tasks after the fake server stopped: {leftover}"


def other_tasks() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]


@contextlib.asynccontextmanager
async def running_app(
    api: FakeBotAPI, setup: Callable[[Application], None], rate_limiter: bool = False
) -> AsyncIterator[Application]:
    builder = ApplicationBuilder().token(FakeBotAPI.token).base_url(api.base_url).base_file_url(api.base_file_url)
    if rate_limiter:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=2))
    app = builder.build()
    errors: list[object] = []

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        errors.append(context.error)

    app.add_error_handler(on_error)
    setup(app)
    tasks_before = set(other_tasks())
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        # Only the fake server's connection handlers (closed by the client) may still be
        # winding down; give them a moment, everything PTB started must be gone.
        for _ in range(20):
            leftover = [t for t in other_tasks() if t not in tasks_before]
            if not leftover:
                break
            await asyncio.sleep(0.01)
        assert leftover == [], f"pending tasks after shutdown: {leftover}"
    assert errors == [], f"handler errors: {errors!r}"


# ----------------------------------------------------------------------------- handlers


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text(
        f"Hi <b>{update.effective_user.first_name}</b>!", parse_mode=ParseMode.HTML, do_quote=True
    )


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Like", callback_data=f"like:{update.message.message_id}"),
                InlineKeyboardButton("Site", url="https://example.com"),
            ]
        ]
    )
    await update.message.reply_text(f"Echo: {update.message.text}", reply_markup=keyboard)


async def on_like(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await query.answer("Thanks!")
    await query.edit_message_text(f"Liked by {query.from_user.first_name}: {query.message.text}")


async def on_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    doc = update.message.document
    data = bytes(await (await context.bot.get_file(doc.file_id)).download_as_bytearray())
    photo_msg = await context.bot.send_photo(
        update.effective_chat.id, photo=data, caption=f"{doc.file_name} ({len(data)} bytes)"
    )
    await context.bot.send_media_group(
        update.effective_chat.id,
        media=[
            InputMediaPhoto(data, caption="uploaded again"),
            InputMediaPhoto(photo_msg.photo[-1].file_id, caption="by file_id"),
        ],
    )


# ----------------------------------------------------------------------------- tests


async def test_echo_keyboard_and_callback(api: FakeBotAPI) -> None:
    def setup(app: Application) -> None:
        app.add_handler(CommandHandler("start", start))
        app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
        app.add_handler(CallbackQueryHandler(on_like, pattern=r"^like:"))

    async with running_app(api, setup):
        api.send_command(ALICE, "/start")
        hello = await api.wait_for_message(ALICE.id)
        assert hello.text == "Hi <b>Alice</b>!"
        assert hello.plain_text == "Hi Alice!"
        assert hello.reply_to_message_id == 1  # reply_text quotes the user's message

        mark = api.mark(ALICE.id)
        update = api.send_text(ALICE, "hello there")
        assert update["message"]["message_id"] == 3  # ids are shared between user and bot
        echoed = await api.wait_for_message(ALICE.id, lambda m: m.text.startswith("Echo"), after=mark)
        assert echoed.text == "Echo: hello there"
        assert echoed.button_texts() == ["Like", "Site"]
        assert echoed.find_button("Site")["url"] == "https://example.com"
        with pytest.raises(AssertionError, match="available buttons"):
            echoed.find_button("Dislike")

        press = api.press(ALICE, echoed, lambda text: text.startswith("Li"))
        assert press["callback_query"]["data"] == "like:3"
        await api.wait_until(lambda: echoed.edits)
        assert echoed.text == "Liked by Alice: Echo: hello there"
        assert echoed.buttons() == []  # editMessageText without reply_markup drops the keyboard
        assert api.callback_answer(press)["text"] == "Thanks!"
        assert [m.message_id for m in api.sent_to(ALICE.id)] == [2, 4]

        # Other users' chats are separate.
        api.send_text(BOB, "yo")
        bob_msg = await api.wait_for_message(BOB.id, "Echo: yo")
        assert bob_msg.message_id == 2
        with pytest.raises(AssertionError, match="cannot see"):
            api.press(ALICE, bob_msg, "Like")
        await api.wait_for_updates_consumed()

    methods = [c.method for c in api.calls]
    assert methods[0] == "getMe"
    assert "deleteWebhook" in methods
    assert all(c.ok for c in api.calls)


async def test_document_download_and_photo_upload(api: FakeBotAPI) -> None:
    def setup(app: Application) -> None:
        app.add_handler(MessageHandler(filters.Document.ALL, on_document))

    png = make_png(3, 2)
    async with running_app(api, setup):
        update = api.send_document(ALICE, png, file_name="pic.png", mime_type="image/png")
        assert update["message"]["document"]["file_size"] == len(png)

        album = await api.wait_for_message(ALICE.id, lambda m: m.method == "sendMediaGroup" and m.text == "by file_id")
        sent = api.sent_to(ALICE.id)
        assert [m.method for m in sent] == ["sendPhoto", "sendMediaGroup", "sendMediaGroup"]
        assert sent[0].text == f"pic.png ({len(png)} bytes)"
        assert all(m.files == [png] for m in sent)
        assert sent[1].media_group_id == album.media_group_id is not None
        assert sent[0].raw["photo"][-1]["width"] == 3
        assert sent[0].raw["photo"][-1]["height"] == 2

        upload = api.calls_to("sendPhoto")[0]
        assert upload.files == {"photo": png}  # multipart part named after the parameter
        group_call = api.calls_to("sendMediaGroup")[0]
        attach = group_call.params["media"][0]["media"]
        assert attach.startswith("attach://")
        assert group_call.files == {attach.removeprefix("attach://"): png}
        assert group_call.params["media"][1]["media"] == sent[0].file_ids[0]

        # Bot-sent files can be fetched back through PTB as well.
        app_bot = Bot(FakeBotAPI.token, base_url=api.base_url, base_file_url=api.base_file_url)
        async with app_bot:
            file = await app_bot.get_file(album.file_ids[0])
            assert bytes(await file.download_as_bytearray()) == png


async def test_rate_limit_retry(api: FakeBotAPI) -> None:
    def setup(app: Application) -> None:
        app.add_handler(MessageHandler(filters.TEXT, echo))

    async with running_app(api, setup, rate_limiter=True):
        api.fail_next("sendMessage", 429, retry_after=1)
        started = time.monotonic()
        api.send_text(ALICE, "ping")
        msg = await api.wait_for_message(ALICE.id, timeout=5)
        elapsed = time.monotonic() - started
        assert msg.text == "Echo: ping"
        calls = api.calls_to("sendMessage")
        assert [c.ok for c in calls] == [False, True]
        assert calls[0].error["parameters"] == {"retry_after": 1}
        assert elapsed >= 1.0
        assert len(api.sent_to(ALICE.id)) == 1


async def test_errors_and_raw_protocol(api: FakeBotAPI) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{api.base_url}wrong:token/getMe") as resp:
            assert resp.status == 401
            assert await resp.json() == {
                "ok": False,
                "error_code": 401,
                "description": "Unauthorized",
            }
        async with session.get(f"{api.base_url}{api.token}/noSuchMethod") as resp:
            assert resp.status == 404
            assert (await resp.json())["description"] == "Not Found: method not found"
        async with session.get(f"{api.base_url}{api.token}/getMe") as resp:
            assert (await resp.json())["result"]["username"] == "tip_test_bot"

    async with Bot(FakeBotAPI.token, base_url=api.base_url, base_file_url=api.base_file_url) as bot:
        # PTB maps HTTP 404 (like 401) to InvalidToken; do_api_request on an initialized bot
        # turns that into EndPointNotFound.
        with pytest.raises(EndPointNotFound):
            await bot.do_api_request("noSuchMethod")
        with pytest.raises(BadRequest, match="(?i)unsupported start tag"):
            await bot.send_message(ALICE.id, "<script>x</script>", parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match="(?i)reserved"):
            await bot.send_message(ALICE.id, "1.5 TON", parse_mode=ParseMode.MARKDOWN_V2)
        with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
            await bot.send_message(
                ALICE.id,
                "x",
                reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="x" * 65)]]),
            )
        msg = await bot.send_message(ALICE.id, "123", reply_markup=None)
        assert msg.text == "123" and api.calls_to("sendMessage")[-1].params["text"] == "123"
        with pytest.raises(BadRequest, match="(?i)not modified"):
            await bot.edit_message_text("123", ALICE.id, msg.message_id)
        api.fail_next("sendMessage", 500, times=2)
        for _ in range(2):
            with pytest.raises(Exception, match="Internal Server Error"):
                await bot.send_message(ALICE.id, "boom")
        assert (await bot.send_message(ALICE.id, "ok")).text == "ok"
        assert await bot.delete_message(ALICE.id, msg.message_id)
        assert api.sent_to(ALICE.id)[0].deleted


async def test_long_poll_wakes_up_on_new_update(api: FakeBotAPI) -> None:
    async with Bot(FakeBotAPI.token, base_url=api.base_url, base_file_url=api.base_file_url) as bot:
        started = time.monotonic()
        assert await bot.get_updates(timeout=1) == ()
        assert 0.9 <= time.monotonic() - started < 1.8

        asyncio.get_running_loop().call_later(0.2, api.send_text, ALICE, "late")
        started = time.monotonic()
        updates = await bot.get_updates(timeout=2)
        assert time.monotonic() - started < 1.0
        assert [u.message.text for u in updates] == ["late"]
        # Not confirmed yet: delivered again until offset moves past it.
        assert len(await bot.get_updates(timeout=0)) == 1
        assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == ()
        await api.wait_for_updates_consumed(timeout=0.1)

        api.send_photo(ALICE, make_png(200, 100), caption="look")
        (update,) = await bot.get_updates(offset=updates[-1].update_id + 1)
        small, large = update.message.photo
        assert (small.width, small.height, large.width, large.height) == (90, 45, 200, 100)
        assert bytes(await (await large.get_file()).download_as_bytearray()) == make_png(200, 100)
        api.send_sticker(ALICE)
        api.send_contact(ALICE, "+123456")
        api.send_group_text(-1001234, BOB, "/tip@tip_test_bot 5")
        updates = await bot.get_updates(offset=update.update_id + 1)
        assert updates[0].message.sticker is not None
        assert updates[1].message.contact.user_id == ALICE.id
        group_msg = updates[2].message
        assert group_msg.chat.type == "supergroup" and group_msg.chat.id == -1001234
        assert group_msg.parse_entities(["bot_command"]).popitem()[1] == "/tip@tip_test_bot"
