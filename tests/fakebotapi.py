"""A fake Telegram Bot API server for tests.

The real python-telegram-bot ``Application`` talks HTTP to this server instead of
api.telegram.org::

    async with FakeBotAPI() as api:
        app = (
            ApplicationBuilder()
            .token(FakeBotAPI.token)
            .base_url(api.base_url)
            .base_file_url(api.base_file_url)
            .build()
        )
        ...
        user = FakeUser(id=1001, first_name="Alice")
        api.send_command(user, "/start")
        msg = await api.wait_for_message(user.id)
        api.press(user, msg, "Tip 5")

Everything runs in the current asyncio loop; the server only listens on 127.0.0.1.

What is emulated (close to real Telegram where it is cheap to do so):

* Bot API envelope ``{"ok": true, "result": ...}`` / ``{"ok": false, "error_code", "description"}``
  with the HTTP status equal to ``error_code`` (that is what PTB maps to exceptions).
* Form-encoded, multipart and JSON request bodies, as well as GET query strings.
* Long polling ``getUpdates`` with offsets, limits and allowed_updates.
* Messages with per-chat message ids shared between users and the bot; edits, deletes, copies.
* File storage: everything a user or the bot sends gets file_ids resolvable via ``getFile`` and
  downloadable from ``base_file_url``.
* Some realistic validation that catches real bugs: empty / too long texts and captions,
  ``callback_data`` longer than 64 bytes, HTML / MarkdownV2 / Markdown entity parse errors,
  ``message is not modified`` on no-op edits, unknown file ids, editing missing messages.
  Note: like Telegram, ``editMessageText`` / ``editMessageCaption`` *without* a
  ``reply_markup`` remove the inline keyboard of the message.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import itertools
import json
import random
import secrets
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

__all__ = [
    "BotAPIError",
    "Call",
    "FakeBotAPI",
    "FakeUser",
    "SentMessage",
]

BOT_ID = 123456
BOT_FIRST_NAME = "Tip bot"
BOT_USERNAME = "tip_test_bot"

# Form fields that are always plain strings and must never be JSON-decoded
# (a message text "123" must stay "123", not become an int).
_RAW_STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_query_id",
        "url",
        "inline_message_id",
        "business_connection_id",
        "message_effect_id",
        "action",
        "description",
        "short_description",
        "name",
        "title",
        "emoji",
        "question",
        "explanation",
        "language_code",
        "secret_token",
        "ip_address",
        "file_id",
        "custom_title",
        "sticker_set_name",
        "invite_link",
        "payload",
        "currency",
        "start_parameter",
        "provider_token",
        "error_message",
        "data",
        # file inputs: file_id, URL or attach://name
        "photo",
        "document",
        "video",
        "audio",
        "voice",
        "animation",
        "sticker",
        "video_note",
        "thumbnail",
        "certificate",
    }
)

_INLINE_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "login_url",
    "web_app",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)

_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)

# Methods that simply succeed with ``true`` (and are recorded in ``calls``).
_TRUE_METHODS = (
    "deleteWebhook",
    "setWebhook",
    "close",
    "logOut",
    "sendChatAction",
    "setMyDescription",
    "setMyShortDescription",
    "setMyName",
    "setChatMenuButton",
    "setMyDefaultAdministratorRights",
    "setMessageReaction",
    "pinChatMessage",
    "unpinChatMessage",
    "unpinAllChatMessages",
    "leaveChat",
)

# (method, param / message field, file_path folder)
_MEDIA_SEND_METHODS = (
    ("sendPhoto", "photo", "photos"),
    ("sendDocument", "document", "documents"),
    ("sendVideo", "video", "videos"),
    ("sendAudio", "audio", "music"),
    ("sendVoice", "voice", "voice"),
    ("sendAnimation", "animation", "animations"),
    ("sendSticker", "sticker", "stickers"),
)
_MEDIA_FIELDS = tuple(f for _, f, _ in _MEDIA_SEND_METHODS)
_FOLDERS = {f: folder for _, f, folder in _MEDIA_SEND_METHODS}

_DEFAULT_MIME = {
    "photo": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/mpeg",
    "voice": "audio/ogg",
    "animation": "video/mp4",
    "sticker": "image/webp",
    "document": "application/octet-stream",
}
_EXT = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
    "audio/mpeg": ".mp3",
    "audio/ogg": ".oga",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "text/csv": ".csv",
    "application/json": ".json",
}

# A tiny but valid 1x1 PNG, used e.g. as sticker payload.
_TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (what Telegram uses for offsets/limits)."""
    return len(text.encode("utf-16-le")) // 2


class BotAPIError(Exception):
    """Raise from a method implementation (or a custom handler) to return a Bot API error."""

    def __init__(self, error_code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad(description: str) -> BotAPIError:
    return BotAPIError(400, f"Bad Request: {description}")


@dataclass
class Call:
    """One Bot API request received by the server (``getUpdates`` is not recorded here)."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    # multipart part name -> {"filename": ..., "content_type": ...}
    file_info: dict[str, dict[str, str | None]] = field(default_factory=dict)
    result: Any = None
    # the error body ({"ok": false, ...}) if the call failed (incl. injected faults)
    error: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class FakeUser:
    """A Telegram user. Their private chat with the bot has ``chat_id == id``."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "en"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data

    def private_chat(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name is not None:
            chat["last_name"] = self.last_name
        if self.username is not None:
            chat["username"] = self.username
        return chat


@dataclass
class SentMessage:
    """A message the bot sent (or copied / forwarded) into a chat.

    ``text`` is the text or caption exactly as the bot sent it (still containing HTML /
    Markdown markup); ``plain_text`` is what the user sees (markup removed).
    ``reply_markup`` is whatever markup was sent (inline *or* reply keyboard) and is kept
    up to date by edits; ``raw`` is the current Message JSON as Telegram would return it.
    """

    chat_id: int
    message_id: int
    method: str
    text: str | None
    reply_markup: dict[str, Any] | None = None
    files: list[bytes] = field(default_factory=list)
    deleted: bool = False
    parse_mode: str | None = None
    plain_text: str | None = None
    file_ids: list[str] = field(default_factory=list)
    media_group_id: str | None = None
    reply_to_message_id: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    # one entry per successful edit: {"method": ..., "params": ...}
    edits: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def buttons(self) -> list[list[dict[str, Any]]]:
        """Rows of the inline keyboard (or of a reply keyboard); ``[]`` if there is none."""
        markup = self.reply_markup or {}
        if isinstance(markup.get("inline_keyboard"), list):
            return markup["inline_keyboard"]
        if isinstance(markup.get("keyboard"), list):
            return [[b if isinstance(b, dict) else {"text": str(b)} for b in row] for row in markup["keyboard"]]
        return []

    def button_texts(self) -> list[str]:
        return [button.get("text", "") for row in self.buttons() for button in row]

    def find_button(self, text_or_predicate: str | Callable[[str], bool]) -> dict[str, Any]:
        """The first button whose text equals ``text_or_predicate`` (or satisfies it)."""

        def matches(text: str) -> bool:
            if callable(text_or_predicate):
                return bool(text_or_predicate(text))
            return text == text_or_predicate

        for row in self.buttons():
            for button in row:
                if matches(button.get("text", "")):
                    return button
        raise AssertionError(
            f"No button matching {text_or_predicate!r} in message {self.message_id} "
            f"(chat {self.chat_id}, text {self.text!r}); available buttons: "
            f"{self.button_texts()!r}"
        )

    def describe(self) -> str:
        flags = " [deleted]" if self.deleted else ""
        extra = f" files={[len(f) for f in self.files]}" if self.files else ""
        buttons = self.button_texts()
        btn = f" buttons={buttons!r}" if buttons else ""
        return f"#{self.message_id} {self.method}{flags}: {self.text!r}{btn}{extra}"


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None


# --------------------------------------------------------------------------- text parsing


class _TelegramHTML(HTMLParser):
    ALLOWED = frozenset(
        {
            "b",
            "strong",
            "i",
            "em",
            "u",
            "ins",
            "s",
            "strike",
            "del",
            "span",
            "tg-spoiler",
            "a",
            "code",
            "pre",
            "blockquote",
            "tg-emoji",
        }
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.stack: list[str] = []
        self.error: str | None = None

    def _fail(self, message: str) -> None:
        if self.error is None:
            self.error = message

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag not in self.ALLOWED:
            self._fail(f'Unsupported start tag "{tag}"')
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: Any) -> None:
        self._fail(f'Unsupported start tag "{tag}"')

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            self._fail(f'Unexpected end tag "{tag}"')
        elif self.stack[-1] != tag:
            self._fail(f'Can\'t find end tag corresponding to start tag "{self.stack[-1]}"')
            self.stack.pop()
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.out.append(data)

    def unknown_decl(self, data: str) -> None:
        self._fail("Unsupported declaration")


def _render_html(text: str) -> str:
    parser = _TelegramHTML()
    parser.feed(text)
    parser.close()
    if parser.error is None and parser.stack:
        parser.error = f'Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"'
    if parser.error:
        raise _bad(f"can't parse entities: {parser.error}")
    return "".join(parser.out)


def _render_markdown_v2(text: str) -> str:
    """Best-effort MarkdownV2 validation + markup removal (mirrors Telegram's common errors)."""
    out: list[str] = []
    open_marks: list[str] = []
    i, n = 0, len(text)
    mode = "text"  # text | code | pre | url
    link_depth = 0
    names = {"*": "Bold", "_": "Italic", "__": "Underline", "~": "Strikethrough", "||": "Spoiler"}

    def reserved(ch: str) -> BotAPIError:
        return _bad(f"can't parse entities: Character '{ch}' is reserved and must be escaped with the preceding '\\'")

    while i < n:
        ch = text[i]
        if mode in ("code", "pre"):
            if mode == "pre" and text.startswith("```", i):
                mode, i = "text", i + 3
            elif mode == "code" and ch == "`":
                mode, i = "text", i + 1
            elif ch == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
            else:
                out.append(ch)
                i += 1
            continue
        if mode == "url":
            if ch == "\\" and i + 1 < n:
                i += 2
            elif ch == ")":
                mode, i = "text", i + 1
            else:
                i += 1
            continue
        if ch == "\\":
            if i + 1 < n:
                out.append(text[i + 1])
                i += 2
            else:
                raise _bad("can't parse entities: Can't find end of the entity")
            continue
        if text.startswith("```", i):
            mode = "pre"
            i += 3
            newline = text.find("\n", i)
            lang = text[i:newline] if newline >= 0 else ""
            if newline >= 0 and lang and " " not in lang:
                i = newline + 1
            continue
        if ch == "`":
            mode, i = "code", i + 1
            continue
        two = text[i : i + 2]
        if two in ("__", "||"):
            mark, i = two, i + 2
        elif ch in "*_~":
            mark, i = ch, i + 1
        else:
            mark = ""
        if mark:
            if open_marks and open_marks[-1] == mark:
                open_marks.pop()
            elif mark in open_marks:
                raise _bad(f"can't parse entities: Can't find end of {names[mark]} entity")
            else:
                open_marks.append(mark)
            continue
        if ch == "!" and text.startswith("![", i):
            link_depth += 1
            i += 2
            continue
        if ch == "[":
            link_depth += 1
            i += 1
            continue
        if ch == "]":
            if not link_depth:
                raise reserved(ch)
            link_depth -= 1
            if text.startswith("(", i + 1):
                mode, i = "url", i + 2
            else:
                raise _bad("can't parse entities: Can't find end of the entity")
            continue
        if ch == ">" and (i == 0 or text[i - 1] == "\n"):
            i += 1
            continue
        if ch in "()#+-={}.!|>":
            raise reserved(ch)
        out.append(ch)
        i += 1
    if mode != "text" or link_depth:
        raise _bad("can't parse entities: Can't find end of the entity")
    if open_marks:
        raise _bad(f"can't parse entities: Can't find end of {names[open_marks[-1]]} entity")
    return "".join(out)


def _render_markdown(text: str) -> str:
    """Legacy Markdown: ``*bold*``, ``_italic_``, `` `code` ``, ```` ```pre``` ````, links."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.append(text[i + 1])
            i += 2
            continue
        if text.startswith("```", i):
            end = text.find("```", i + 3)
            if end < 0:
                raise _bad(
                    "can't parse entities: Can't find end of the entity starting at byte "
                    f"offset {len(text[:i].encode())}"
                )
            out.append(text[i + 3 : end])
            i = end + 3
            continue
        if ch in "*_`":
            end = text.find(ch, i + 1)
            if end < 0:
                raise _bad(
                    "can't parse entities: Can't find end of the entity starting at byte "
                    f"offset {len(text[:i].encode())}"
                )
            out.append(text[i + 1 : end])
            i = end + 1
            continue
        if ch == "[":
            close = text.find("](", i)
            end = text.find(")", close + 2) if close >= 0 else -1
            if close < 0 or end < 0:
                raise _bad(
                    "can't parse entities: Can't find end of the entity starting at byte "
                    f"offset {len(text[:i].encode())}"
                )
            out.append(text[i + 1 : close])
            i = end + 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def render_text(text: str, parse_mode: str | None) -> str:
    """The text a user would see for ``text`` sent with ``parse_mode`` (raises BotAPIError)."""
    if not parse_mode:
        return text
    mode = parse_mode.lower()
    if mode == "html":
        return _render_html(text)
    if mode == "markdownv2":
        return _render_markdown_v2(text)
    if mode == "markdown":
        return _render_markdown(text)
    raise _bad(f"unsupported parse_mode {parse_mode}")


def _image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) for PNG / GIF / JPEG data, else None."""
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
            return struct.unpack(">II", data[16:24])
        if data[:6] in (b"GIF87a", b"GIF89a"):
            return struct.unpack("<HH", data[6:10])
        if data.startswith(b"\xff\xd8"):
            i = 2
            while i + 9 < len(data):
                if data[i] != 0xFF:
                    i += 1
                    continue
                marker = data[i + 1]
                if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                    i += 2
                    continue
                length = struct.unpack(">H", data[i + 2 : i + 4])[0]
                if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                    height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                    return width, height
                i += 2 + length
    except struct.error:
        return None
    return None


# --------------------------------------------------------------------------- the server


@dataclass
class _Chaos:
    rate: float
    methods: frozenset[str]
    random: random.Random


class FakeBotAPI:
    """Fake Bot API HTTP server; see the module docstring."""

    token = "123456:TEST-TOKEN"
    bot_user: dict[str, Any] = {
        "id": BOT_ID,
        "is_bot": True,
        "first_name": BOT_FIRST_NAME,
        "username": BOT_USERNAME,
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }
    max_poll_timeout = 2.0
    default_timeout = 10.0

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.get_updates_calls = 0
        self.last_get_updates: dict[str, Any] | None = None
        # exceptions raised by the fake itself (bugs in the fake); tests may assert it is empty
        self.errors: list[BaseException] = []
        self.commands: list[dict[str, Any]] = []
        self.blocked: set[int] = set()
        self.chaos_counts: dict[str, int] = {"429": 0, "500": 0, "drop": 0}
        self._chaos: _Chaos | None = None
        self._stall_next: set[str] = set()
        self.stalled: list[Call] = []

        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._closing = False
        self._changed = asyncio.Event()

        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._delivered_update_id = 0  # highest update_id returned by getUpdates

        self._chats: dict[int, dict[str, Any]] = {}
        self._users: dict[int, FakeUser] = {}
        self._message_ids: dict[int, int] = {}
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._deleted: set[tuple[int, int]] = set()
        self._sent: dict[int, list[SentMessage]] = {}
        self._sent_index: dict[tuple[int, int], SentMessage] = {}

        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._file_counter = itertools.count(1)
        self._callback_counter = itertools.count(1)
        self._media_group_counter = itertools.count(1)
        self._issued_callbacks: dict[str, dict[str, Any]] = {}
        self._answered_callbacks: dict[str, dict[str, Any]] = {}
        self._faults: dict[str, list[BotAPIError]] = {}

        self._custom: dict[str, tuple[str, Callable[[Call], Any]]] = {}
        self._methods: dict[str, tuple[str, Callable[[Call], Any]]] = {}
        for name, impl in self._builtin_methods().items():
            self._methods[name.lower()] = (name, impl)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = web.Application(client_max_size=100 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_route("GET", "/file/bot{token}/{file_path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # noqa: SLF001 - aiohttp offers no public accessor for the port
        assert server is not None and server.sockets
        self._port = server.sockets[0].getsockname()[1]
        self._closing = False

    async def stop(self) -> None:
        self._closing = True
        self._notify()  # wakes long-polling getUpdates handlers
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> FakeBotAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeBotAPI is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ------------------------------------------------------------------ customisation

    def fail_next(
        self,
        method: str,
        error_code: int = 500,
        description: str = "Internal Server Error",
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with the given error.

        For ``error_code=429`` ``parameters.retry_after`` is included (default 1 s) and the
        default description becomes ``Too Many Requests: retry after N``.
        """
        parameters = None
        if error_code == 429 and retry_after is None:
            retry_after = 1
        if retry_after is not None:
            parameters = {"retry_after": retry_after}
            if error_code == 429 and description == "Internal Server Error":
                description = f"Too Many Requests: retry after {retry_after}"
        queue = self._faults.setdefault(method.lower(), [])
        for _ in range(times):
            queue.append(BotAPIError(error_code, description, parameters))

    def chaos(self, rate: float, methods: tuple[str, ...], seed: int = 0) -> None:
        """From now on, fail a random share `rate` of calls to `methods` before doing anything: a 429 with
        retry_after 1, a 500, or a dropped connection (one third each)."""
        self._chaos = _Chaos(rate, frozenset(method.lower() for method in methods), random.Random(seed))

    def calm(self) -> None:
        self._chaos = None

    def stall_next(self, method: str) -> None:
        """Hold the next call of `method` forever without doing anything (a hung connection)."""
        self._stall_next.add(method.lower())

    def on(self, method: str, handler: Callable[[Call], Any]) -> None:
        """Override / add a method. ``handler(call)`` returns the ``result`` (may be async)
        or raises :class:`BotAPIError`."""
        self._custom[method.lower()] = (method, handler)

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: sending to them fails with 403 from now on."""
        self.blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self.blocked.discard(chat_id)

    # ------------------------------------------------------------------ inspection

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def sent_to(self, chat_id: int) -> list[SentMessage]:
        return list(self._sent.get(chat_id, []))

    def last_sent(self, chat_id: int) -> SentMessage:
        sent = self._sent.get(chat_id)
        if not sent:
            raise AssertionError(f"The bot sent nothing to chat {chat_id}")
        return sent[-1]

    def mark(self, chat_id: int) -> int:
        return len(self._sent.get(chat_id, []))

    def remaining_messages(self, chat_id: int) -> list[dict[str, Any]]:
        """Every message still visible in a chat (the user's and the bot's), oldest first."""
        keys = sorted(key for key in self._messages if key[0] == chat_id and key not in self._deleted)
        return [self._messages[key] for key in keys]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """Current JSON of any message (user or bot) known to the server."""
        return self._messages[(chat_id, message_id)]

    def file_bytes(self, file_id: str) -> bytes:
        return self._files[file_id].data

    def callback_answer(self, update_or_id: dict[str, Any] | str) -> dict[str, Any] | None:
        """Params of the answerCallbackQuery for a ``press`` (update dict or query id)."""
        if isinstance(update_or_id, dict):
            update_or_id = update_or_id["callback_query"]["id"]
        return self._answered_callbacks.get(update_or_id)

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Queued updates not yet fetched by the bot."""
        return [u for u in self._updates if u["update_id"] > self._delivered_update_id]

    def take_updates(self) -> list[dict[str, Any]]:
        """Hand the queued updates over as Telegram's webhook delivery would, the test playing the delivery:
        they count as fetched, so getUpdates does not return them."""
        taken = self.pending_updates
        if taken:
            self._delivered_update_id = taken[-1]["update_id"]
        return copy.deepcopy(taken)

    def dump_chat(self, chat_id: int) -> str:
        sent = self._sent.get(chat_id, [])
        lines = [f"chat {chat_id} received {len(sent)} message(s):"]
        lines += [f"  [{i}] {m.describe()}" for i, m in enumerate(sent)]
        failed = [c for c in self.calls if c.error is not None]
        if failed:
            lines.append("failed calls:")
            lines += [f"  {c.method} {c.params!r} -> {c.error!r}" for c in failed[-10:]]
        if self.errors:
            lines.append(f"errors inside the fake: {self.errors!r}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ waiting

    def _notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def wait_until(
        self,
        predicate: Callable[[], Any],
        timeout: float | None = None,
        message: str | Callable[[], str] | None = None,
    ) -> Any:
        """Wait until ``predicate()`` is truthy and return its value."""
        loop = asyncio.get_running_loop()
        timeout = self.default_timeout if timeout is None else timeout
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                text = message() if callable(message) else message
                raise AssertionError(f"Condition not met within {timeout} s" + (f":\n{text}" if text else ""))
            event = self._changed
            # wake on any server-side change, re-check at least every 50 ms for
            # conditions that depend on state outside the fake
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(remaining, 0.05))

    async def wait_for_message(
        self,
        chat_id: int,
        predicate: Callable[[SentMessage], Any] | str = lambda m: True,
        after: int = 0,
        timeout: float | None = None,
    ) -> SentMessage:
        """First message in ``sent_to(chat_id)[after:]`` matching ``predicate``.

        ``predicate`` may be a string: matches messages whose text/plain text contains it.
        """
        if isinstance(predicate, str):
            needle = predicate
            predicate = lambda m: needle in (m.text or "") or needle in (m.plain_text or "")  # noqa: E731

        def find() -> SentMessage | None:
            for msg in self._sent.get(chat_id, [])[after:]:
                if predicate(msg):
                    return msg
            return None

        return await self.wait_until(
            find,
            timeout=timeout,
            message=lambda: f"no matching message (after={after})\n" + self.dump_chat(chat_id),
        )

    async def wait_for_updates_consumed(self, timeout: float | None = None) -> None:
        """Wait until the bot has fetched (getUpdates) every queued update."""
        await self.wait_until(
            lambda: self._delivered_update_id >= self._next_update_id - 1,
            timeout=timeout,
            message=lambda: f"pending updates: {self.pending_updates!r}",
        )

    # ------------------------------------------------------------------ playing users

    def queue_update(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update (``payload`` without update_id, e.g. ``{"my_chat_member": ...}``)."""
        update = {"update_id": self._next_update_id, **copy.deepcopy(payload)}
        self._next_update_id += 1
        self._updates.append(update)
        self._notify()
        return update

    def _register_user(self, user: FakeUser) -> None:
        self._users[user.id] = user
        self._chats[user.id] = user.private_chat()

    def _user_message(
        self,
        chat: dict[str, Any],
        user: FakeUser,
        content: dict[str, Any],
        reply_to: SentMessage | dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        chat_id = chat["id"]
        msg: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "from": user.to_dict(),
            "chat": dict(chat),
            "date": int(time.time()),
            **content,
        }
        if reply_to is not None:
            raw = reply_to.raw if isinstance(reply_to, SentMessage) else reply_to
            msg["reply_to_message"] = self._strip_reply(raw)
        self._messages[(chat_id, msg["message_id"])] = msg
        return msg

    def _queue_message(self, msg: dict[str, Any]) -> dict[str, Any]:
        return self.queue_update({"message": msg})

    @staticmethod
    def _text_content(text: str) -> dict[str, Any]:
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0] if text.strip() else text
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]
        return content

    def send_text(
        self, user: FakeUser, text: str, reply_to: SentMessage | dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The user writes ``text`` in their private chat. Returns the update dict."""
        self._register_user(user)
        msg = self._user_message(self._chats[user.id], user, self._text_content(text), reply_to=reply_to)
        return self._queue_message(msg)

    def send_command(self, user: FakeUser, command: str) -> dict[str, Any]:
        return self.send_text(user, command)

    def send_group_text(
        self,
        chat_id: int,
        user: FakeUser,
        text: str,
        chat_type: str | None = None,
        title: str | None = None,
    ) -> dict[str, Any]:
        """``user`` writes ``text`` in group ``chat_id`` (negative; -100... = supergroup)."""
        self._register_user(user)
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        chat = self._chats.get(chat_id)
        if chat is None or chat_type or title:
            chat = {
                "id": chat_id,
                "type": chat_type or ("supergroup" if str(chat_id).startswith("-100") else "group"),
                "title": title or (chat or {}).get("title") or f"Test group {chat_id}",
            }
            self._chats[chat_id] = chat
        msg = self._user_message(chat, user, self._text_content(text))
        return self._queue_message(msg)

    def send_photo(self, user: FakeUser, data: bytes, caption: str | None = None) -> dict[str, Any]:
        self._register_user(user)
        content: dict[str, Any] = {"photo": self._photo_sizes(data)}
        if caption is not None:
            content["caption"] = caption
        msg = self._user_message(self._chats[user.id], user, content)
        return self._queue_message(msg)

    def send_album(self, user: FakeUser, photos: list[bytes]) -> list[dict[str, Any]]:
        """Several photos sent at once: Telegram delivers one message each, sharing a media_group_id."""
        self._register_user(user)
        group = f"album-{next(self._media_group_counter)}"
        updates = []
        for data in photos:
            content: dict[str, Any] = {"photo": self._photo_sizes(data), "media_group_id": group}
            updates.append(self._queue_message(self._user_message(self._chats[user.id], user, content)))
        return updates

    def send_document(
        self,
        user: FakeUser,
        data: bytes,
        file_name: str,
        mime_type: str,
        caption: str | None = None,
    ) -> dict[str, Any]:
        self._register_user(user)
        stored = self._store_file(data, "documents", file_name=file_name, mime_type=mime_type)
        content: dict[str, Any] = {
            "document": {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_name": file_name,
                "mime_type": mime_type,
                "file_size": len(data),
            }
        }
        if caption is not None:
            content["caption"] = caption
        msg = self._user_message(self._chats[user.id], user, content)
        return self._queue_message(msg)

    def send_sticker(self, user: FakeUser, emoji: str = "\U0001f44d") -> dict[str, Any]:
        self._register_user(user)
        stored = self._store_file(_TINY_PNG, "stickers", mime_type="image/webp")
        content = {
            "sticker": {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": emoji,
                "file_size": len(stored.data),
            }
        }
        msg = self._user_message(self._chats[user.id], user, content)
        return self._queue_message(msg)

    def send_contact(self, user: FakeUser, phone_number: str, own: bool = True) -> dict[str, Any]:
        """The user shares a contact (their own by default, as with request_contact)."""
        self._register_user(user)
        contact: dict[str, Any] = {"phone_number": phone_number, "first_name": user.first_name}
        if user.last_name is not None:
            contact["last_name"] = user.last_name
        if own:
            contact["user_id"] = user.id
        msg = self._user_message(self._chats[user.id], user, {"contact": contact})
        return self._queue_message(msg)

    def press(
        self,
        user: FakeUser,
        message: SentMessage,
        button_text_or_predicate: str | Callable[[str], bool],
    ) -> dict[str, Any]:
        """The user presses an inline button of a bot message; returns the callback update."""
        if message.deleted:
            raise AssertionError(f"Message {message.message_id} was deleted: {message.describe()}")
        chat = message.raw.get("chat", {})
        if chat.get("type") == "private" and message.chat_id != user.id:
            raise AssertionError(
                f"User {user.id} cannot see message {message.message_id} in private chat {message.chat_id}"
            )
        button = message.find_button(button_text_or_predicate)
        if "callback_data" not in button:
            raise AssertionError(f"Button {button!r} has no callback_data")
        self._register_user(user)
        query_id = str(next(self._callback_counter) + 9_000_000)
        callback_query = {
            "id": query_id,
            "from": user.to_dict(),
            "message": copy.deepcopy(message.raw),
            "chat_instance": str(abs(message.chat_id) * 7 + 1),
            "data": button["callback_data"],
        }
        self._issued_callbacks[query_id] = callback_query
        return self.queue_update({"callback_query": callback_query})

    # ------------------------------------------------------------------ HTTP handlers

    async def _handle_method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._error_response(BotAPIError(401, "Unauthorized"))
        method = request.match_info["method"]
        try:
            params, files, file_info = await self._parse_request(request)
        except Exception as exc:  # noqa: BLE001
            return self._error_response(_bad(f"can't parse request: {exc!r}"))

        key = method.lower()
        name, impl = self._custom.get(key) or self._methods.get(key) or (method, None)
        call = Call(method=name, params=params, files=files, file_info=file_info)
        if key == "getupdates":
            self.get_updates_calls += 1
            self.last_get_updates = params
        else:
            self.calls.append(call)

        if key in self._stall_next:
            self._stall_next.discard(key)
            self.stalled.append(call)
            self._notify()
            await asyncio.Event().wait()  # never answered: the caller hangs until it gives up or dies
        if self._chaos is not None and key in self._chaos.methods and self._chaos.random.random() < self._chaos.rate:
            fault = self._chaos.random.choice(("429", "500", "drop"))
            self.chaos_counts[fault] += 1
            if fault == "drop":  # the connection dies before any answer: nothing was done
                if request.transport is not None:
                    request.transport.close()
                raise ConnectionResetError("chaos: connection dropped")
            error = (
                BotAPIError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
                if fault == "429"
                else BotAPIError(500, "Internal Server Error")
            )
            call.error = error.to_json()
            return self._error_response(error)

        try:
            faults = self._faults.get(key)
            if faults:
                raise faults.pop(0)
            if impl is None:
                raise BotAPIError(404, "Not Found: method not found")
            result = impl(call)
            if inspect.isawaitable(result):
                result = await result
        except BotAPIError as exc:
            call.error = exc.to_json()
            self._notify()
            return self._error_response(exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in the fake (or in a custom handler)
            self.errors.append(exc)
            error = BotAPIError(500, f"Internal Server Error: fake raised {exc!r}")
            call.error = error.to_json()
            self._notify()
            return self._error_response(error)
        call.result = result
        self._notify()
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._error_response(BotAPIError(401, "Unauthorized"))
        stored = self._files_by_path.get(request.match_info["file_path"])
        if stored is None:
            return self._error_response(BotAPIError(404, "Not Found"))
        return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")

    @staticmethod
    def _error_response(error: BotAPIError) -> web.Response:
        return web.json_response(error.to_json(), status=error.error_code)

    @staticmethod
    def _decode_value(key: str, value: str) -> Any:
        if key in _RAW_STRING_FIELDS:
            return value
        try:
            return json.loads(value)
        except ValueError:
            return value

    async def _parse_request(
        self, request: web.Request
    ) -> tuple[dict[str, Any], dict[str, bytes], dict[str, dict[str, str | None]]]:
        raw: dict[str, str] = dict(request.query)
        files: dict[str, bytes] = {}
        file_info: dict[str, dict[str, str | None]] = {}
        params: dict[str, Any] = {}
        if request.method == "POST" and request.can_read_body:
            content_type = request.content_type
            if content_type == "application/json":
                params.update(await request.json())
            elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        files[key] = value.file.read()
                        file_info[key] = {
                            "filename": value.filename,
                            "content_type": value.content_type,
                        }
                    elif isinstance(value, str):
                        raw[key] = value
                    else:
                        raw[key] = bytes(value).decode()
            else:
                await request.read()
        for key, value in raw.items():
            params.setdefault(key, self._decode_value(key, value))
        return params, files, file_info

    # ------------------------------------------------------------------ state helpers

    def _next_message_id(self, chat_id: int) -> int:
        self._message_ids[chat_id] = self._message_ids.get(chat_id, 0) + 1
        return self._message_ids[chat_id]

    def _store_file(
        self,
        data: bytes,
        folder: str,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> _StoredFile:
        n = next(self._file_counter)
        ext = ""
        if file_name and "." in file_name:
            ext = "." + file_name.rsplit(".", 1)[1]
        elif mime_type:
            ext = _EXT.get(mime_type, "")
        stored = _StoredFile(
            file_id=f"FAKE{n:05d}{folder[:3].upper()}{secrets.token_hex(6)}",
            file_unique_id=f"AQAD{n:05d}",
            data=bytes(data),
            file_path=f"{folder}/file_{n}{ext}",
            file_name=file_name,
            mime_type=mime_type,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _photo_sizes(self, data: bytes) -> list[dict[str, Any]]:
        width, height = _image_size(data) or (1280, 960)
        scale = min(1.0, 90 / max(width, height, 1))
        small_w, small_h = max(1, round(width * scale)), max(1, round(height * scale))
        sizes = []
        for w, h in ((small_w, small_h), (width, height)):
            stored = self._store_file(data, "photos", mime_type="image/jpeg")
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "width": w,
                    "height": h,
                    "file_size": len(data),
                }
            )
        return sizes

    def _media_object(self, kind: str, data: bytes, file_name: str | None, mime_type: str | None) -> tuple[Any, str]:
        """Build the message field for ``kind`` (photo/document/...); returns (value, file_id)."""
        if kind == "photo":
            sizes = self._photo_sizes(data)
            return sizes, sizes[-1]["file_id"]
        mime_type = mime_type or _DEFAULT_MIME[kind]
        stored = self._store_file(data, _FOLDERS[kind], file_name=file_name, mime_type=mime_type)
        obj: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(data),
        }
        if kind == "sticker":
            obj.update(type="regular", width=512, height=512, is_animated=False, is_video=False)
            return obj, stored.file_id
        if kind in ("video", "animation"):
            width, height = _image_size(data) or (640, 360)
            obj.update(width=width, height=height, duration=1)
        if kind in ("audio", "voice"):
            obj["duration"] = 1
        if kind != "voice" and file_name:
            obj["file_name"] = file_name
        obj["mime_type"] = mime_type
        return obj, stored.file_id

    def _input_file(self, call: Call, name: str) -> tuple[bytes, str | None, str | None]:
        """Resolve a file parameter: multipart part, ``attach://part`` or known file_id."""
        if name in call.files:
            info = call.file_info.get(name, {})
            return call.files[name], info.get("filename"), info.get("content_type")
        return self._resolve_file_ref(call, call.params.get(name), name)

    def _resolve_file_ref(self, call: Call, ref: Any, name: str) -> tuple[bytes, str | None, str | None]:
        if isinstance(ref, str) and ref:
            if ref.startswith("attach://"):
                part = ref[len("attach://") :]
                if part not in call.files:
                    raise _bad(f"file {part} not found in the request")
                info = call.file_info.get(part, {})
                return call.files[part], info.get("filename"), info.get("content_type")
            stored = self._files.get(ref)
            if stored is not None:
                return stored.data, stored.file_name, stored.mime_type
            raise _bad("wrong file identifier/HTTP URL specified")
        raise _bad(f"there is no {name} in the request")

    def _resolve_chat(self, params: dict[str, Any], key: str = "chat_id") -> int:
        value = params.get(key)
        if value is None or value == "" or isinstance(value, bool):
            raise _bad(f"{key} is empty")
        if isinstance(value, int):
            chat_id = value
        else:
            text = str(value).strip()
            try:
                chat_id = int(text)
            except ValueError:
                username = text.lstrip("@").lower()
                for cid, chat in self._chats.items():
                    if str(chat.get("username", "")).lower() == username:
                        chat_id = cid
                        break
                else:
                    raise _bad("chat not found") from None
        if chat_id in self.blocked and key == "chat_id":
            raise BotAPIError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _chat_object(self, chat_id: int) -> dict[str, Any]:
        chat = self._chats.get(chat_id)
        if chat is not None:
            return dict(chat)
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": f"User {chat_id}"}
        chat_type = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "type": chat_type, "title": f"Chat {chat_id}"}

    @staticmethod
    def _check_reply_markup(markup: Any) -> dict[str, Any] | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad('field "inline_keyboard" must be an Array of Arrays')
            for row in rows:
                for button in row:
                    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                        raise _bad("can't parse inline keyboard button: Text must be a String")
                    if not any(k in button for k in _INLINE_BUTTON_ACTIONS):
                        raise _bad(
                            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                        )
                    if "callback_data" in button:
                        data = button["callback_data"]
                        if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
                            raise _bad("BUTTON_DATA_INVALID")
                    if "url" in button:
                        url = str(button["url"])
                        if not url.startswith(("http://", "https://", "tg://")):
                            raise _bad(f"inline keyboard button URL '{url}' is invalid: Unsupported URL protocol")
        elif "keyboard" in markup:
            if not isinstance(markup["keyboard"], list):
                raise _bad('field "keyboard" must be an Array')
        elif not any(k in markup for k in ("remove_keyboard", "force_reply")):
            raise _bad("can't parse reply keyboard markup JSON object")
        return markup

    @staticmethod
    def _check_text(text: Any, parse_mode: Any, *, caption: bool = False) -> tuple[str, str]:
        """Validate ``text``; returns (text as sent, rendered plain text)."""
        text = "" if text is None else str(text)
        plain = render_text(text, parse_mode if isinstance(parse_mode, str) else None)
        if caption:
            if utf16_len(plain) > 1024:
                raise _bad("message caption is too long")
        else:
            if not plain.strip():
                raise _bad("message text is empty")
            if utf16_len(plain) > 4096:
                raise _bad("message is too long")
        return text, plain

    @staticmethod
    def _strip_reply(raw: dict[str, Any]) -> dict[str, Any]:
        msg = copy.deepcopy(raw)
        msg.pop("reply_to_message", None)
        return msg

    def _reply_to(self, chat_id: int, params: dict[str, Any]) -> dict[str, Any] | None:
        reply = params.get("reply_parameters")
        mid: Any = None
        allow_missing = bool(params.get("allow_sending_without_reply"))
        if isinstance(reply, dict):
            mid = reply.get("message_id")
            allow_missing = allow_missing or bool(reply.get("allow_sending_without_reply"))
            if reply.get("chat_id") not in (None, chat_id):
                return None
        elif params.get("reply_to_message_id") is not None:
            mid = params.get("reply_to_message_id")
        if mid is None:
            return None
        key = (chat_id, int(mid))
        if key not in self._messages or key in self._deleted:
            if allow_missing:
                return None
            raise _bad("message to be replied not found")
        return self._messages[key]

    def _new_bot_message(
        self,
        call: Call,
        chat_id: int,
        content: dict[str, Any],
        *,
        text: str | None,
        plain_text: str | None,
        parse_mode: str | None = None,
        reply_markup: dict[str, Any] | None = None,
        files: list[bytes] | None = None,
        file_ids: list[str] | None = None,
        media_group_id: str | None = None,
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        raw: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "from": {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": BOT_FIRST_NAME,
                "username": BOT_USERNAME,
            },
            "chat": self._chat_object(chat_id),
            "date": int(time.time()),
            **content,
        }
        if media_group_id:
            raw["media_group_id"] = media_group_id
        if reply_to is not None:
            raw["reply_to_message"] = self._strip_reply(reply_to)
        if reply_markup and "inline_keyboard" in reply_markup:
            raw["reply_markup"] = reply_markup
        sent = SentMessage(
            chat_id=chat_id,
            message_id=raw["message_id"],
            method=call.method,
            text=text,
            reply_markup=reply_markup,
            files=list(files or []),
            parse_mode=parse_mode,
            plain_text=plain_text,
            file_ids=list(file_ids or []),
            media_group_id=media_group_id,
            reply_to_message_id=reply_to["message_id"] if reply_to else None,
            raw=raw,
        )
        self._messages[(chat_id, sent.message_id)] = raw
        self._sent.setdefault(chat_id, []).append(sent)
        self._sent_index[(chat_id, sent.message_id)] = sent
        return raw

    def _file_ids_of(self, raw: dict[str, Any]) -> list[str]:
        for kind in _MEDIA_FIELDS:
            value = raw.get(kind)
            if isinstance(value, list) and value:
                return [value[-1]["file_id"]]
            if isinstance(value, dict) and "file_id" in value:
                return [value["file_id"]]
        return []

    def _edit_target(self, call: Call) -> SentMessage | None:
        """The bot message addressed by chat_id + message_id (None for inline messages)."""
        params = call.params
        if params.get("inline_message_id"):
            return None
        chat_id = self._resolve_chat(params)
        if params.get("message_id") in (None, ""):
            raise _bad("message identifier is not specified")
        key = (chat_id, int(params["message_id"]))
        sent = self._sent_index.get(key)
        if sent is None or sent.deleted:
            if key in self._messages and key not in self._deleted:
                raise _bad("message can't be edited")
            raise _bad("message to edit not found")
        return sent

    def _record_edit(self, call: Call, sent: SentMessage) -> dict[str, Any]:
        sent.raw["edit_date"] = int(time.time())
        sent.edits.append({"method": call.method, "params": call.params})
        return sent.raw

    def _set_markup(self, sent: SentMessage, markup: dict[str, Any] | None) -> None:
        sent.reply_markup = markup
        if markup and "inline_keyboard" in markup:
            sent.raw["reply_markup"] = markup
        else:
            sent.raw.pop("reply_markup", None)

    # ------------------------------------------------------------------ Bot API methods

    def _builtin_methods(self) -> dict[str, Callable[[Call], Any]]:
        methods: dict[str, Callable[[Call], Any]] = {
            "getMe": lambda call: dict(self.bot_user),
            "getUpdates": self._m_get_updates,
            "getWebhookInfo": lambda call: {
                "url": "",
                "has_custom_certificate": False,
                "pending_update_count": len(self.pending_updates),
            },
            "setMyCommands": self._m_set_my_commands,
            "deleteMyCommands": self._m_delete_my_commands,
            "getMyCommands": lambda call: list(self.commands),
            "answerCallbackQuery": self._m_answer_callback_query,
            "sendMessage": self._m_send_message,
            "sendMediaGroup": self._m_send_media_group,
            "sendContact": self._m_send_contact,
            "editMessageText": self._m_edit_message_text,
            "editMessageCaption": self._m_edit_message_caption,
            "editMessageReplyMarkup": self._m_edit_message_reply_markup,
            "editMessageMedia": self._m_edit_message_media,
            "deleteMessage": self._m_delete_message,
            "deleteMessages": self._m_delete_messages,
            "copyMessage": self._m_copy_message,
            "forwardMessage": self._m_forward_message,
            "getFile": self._m_get_file,
        }
        for name in _TRUE_METHODS:
            methods[name] = lambda call: True
        for name, kind, _folder in _MEDIA_SEND_METHODS:
            methods[name] = lambda call, kind=kind: self._m_send_media(call, kind)
        return methods

    async def _m_get_updates(self, call: Call) -> list[dict[str, Any]]:
        params = call.params
        offset = int(params.get("offset") or 0)
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = max(0.0, min(float(params.get("timeout") or 0), self.max_poll_timeout))
        allowed = params.get("allowed_updates")
        allowed_set = set(allowed) if isinstance(allowed, list) and allowed else None

        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if allowed_set is not None:
                dropped = [u for u in self._updates if not (set(u) - {"update_id"}) & allowed_set]
                if dropped:
                    self._updates = [u for u in self._updates if u not in dropped]
                    self._delivered_update_id = max(self._delivered_update_id, max(u["update_id"] for u in dropped))
                    self._notify()
            batch = self._updates[:limit]
            remaining = deadline - loop.time()
            if batch or self._closing or remaining <= 0:
                break
            event = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
        if batch:
            self._delivered_update_id = max(self._delivered_update_id, batch[-1]["update_id"])
        return batch

    def _m_set_my_commands(self, call: Call) -> bool:
        commands = call.params.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        self.commands = commands
        return True

    def _m_delete_my_commands(self, call: Call) -> bool:
        self.commands = []
        return True

    def _m_answer_callback_query(self, call: Call) -> bool:
        query_id = str(call.params.get("callback_query_id") or "")
        if not query_id:
            raise _bad("query_id is empty")
        if query_id in self._answered_callbacks:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        self._answered_callbacks[query_id] = call.params
        return True

    def _m_send_message(self, call: Call) -> dict[str, Any]:
        params = call.params
        chat_id = self._resolve_chat(params)
        parse_mode = params.get("parse_mode")
        text, plain = self._check_text(params.get("text"), parse_mode)
        markup = self._check_reply_markup(params.get("reply_markup"))
        content: dict[str, Any] = {"text": plain}
        if isinstance(params.get("entities"), list):
            content["entities"] = params["entities"]
        return self._new_bot_message(
            call,
            chat_id,
            content,
            text=text,
            plain_text=plain,
            parse_mode=parse_mode,
            reply_markup=markup,
            reply_to=self._reply_to(chat_id, params),
        )

    def _m_send_contact(self, call: Call) -> dict[str, Any]:
        params = call.params
        chat_id = self._resolve_chat(params)
        contact = {
            k: params[k] for k in ("phone_number", "first_name", "last_name", "vcard") if params.get(k) is not None
        }
        contact["phone_number"] = str(contact.get("phone_number", ""))
        return self._new_bot_message(
            call,
            chat_id,
            {"contact": contact},
            text=None,
            plain_text=None,
            reply_markup=self._check_reply_markup(params.get("reply_markup")),
            reply_to=self._reply_to(chat_id, params),
        )

    def _m_send_media(self, call: Call, kind: str) -> dict[str, Any]:
        params = call.params
        chat_id = self._resolve_chat(params)
        data, file_name, mime_type = self._input_file(call, kind)
        markup = self._check_reply_markup(params.get("reply_markup"))
        value, file_id = self._media_object(kind, data, file_name, mime_type)
        content: dict[str, Any] = {kind: value}
        text = plain = None
        parse_mode = params.get("parse_mode")
        if kind != "sticker" and params.get("caption") not in (None, ""):
            text, plain = self._check_text(params["caption"], parse_mode, caption=True)
            content["caption"] = plain
            if isinstance(params.get("caption_entities"), list):
                content["caption_entities"] = params["caption_entities"]
        if kind == "sticker" and params.get("emoji"):
            value["emoji"] = params["emoji"]
        return self._new_bot_message(
            call,
            chat_id,
            content,
            text=text,
            plain_text=plain,
            parse_mode=parse_mode,
            reply_markup=markup,
            files=[data],
            file_ids=[file_id],
            reply_to=self._reply_to(chat_id, params),
        )

    def _m_send_media_group(self, call: Call) -> list[dict[str, Any]]:
        params = call.params
        chat_id = self._resolve_chat(params)
        media = params.get("media")
        if not isinstance(media, list):
            raise _bad("can't parse media JSON object")
        if not 2 <= len(media) <= 10:
            raise _bad("wrong number of media in the album: must be between 2 and 10")
        types = {item.get("type") for item in media if isinstance(item, dict)}
        if len(types) > 1 and types & {"document", "audio"}:
            raise _bad(f"{sorted(types & {'document', 'audio'})[0]} can't be mixed with other media types")
        resolved = []
        for item in media:
            if not isinstance(item, dict) or item.get("type") not in ("photo", "video", "document", "audio"):
                raise _bad("can't parse InputMedia: unsupported media type")
            data, file_name, mime_type = self._resolve_file_ref(call, item.get("media"), "media")
            text = plain = None
            if item.get("caption") not in (None, ""):
                text, plain = self._check_text(item["caption"], item.get("parse_mode"), caption=True)
            resolved.append((item, data, file_name, mime_type, text, plain))
        reply_to = self._reply_to(chat_id, params)
        group_id = str(13_000_000_000_000_000 + next(self._media_group_counter))
        results = []
        for item, data, file_name, mime_type, text, plain in resolved:
            kind = item["type"]
            value, file_id = self._media_object(kind, data, file_name, mime_type)
            content: dict[str, Any] = {kind: value}
            if plain is not None:
                content["caption"] = plain
            results.append(
                self._new_bot_message(
                    call,
                    chat_id,
                    content,
                    text=text,
                    plain_text=plain,
                    parse_mode=item.get("parse_mode"),
                    files=[data],
                    file_ids=[file_id],
                    media_group_id=group_id,
                    reply_to=reply_to,
                )
            )
        return results

    def _m_edit_message_text(self, call: Call) -> dict[str, Any] | bool:
        params = call.params
        sent = self._edit_target(call)
        parse_mode = params.get("parse_mode")
        text, plain = self._check_text(params.get("text"), parse_mode)
        markup = self._check_reply_markup(params.get("reply_markup"))
        if sent is None:
            return True
        if "text" not in sent.raw:
            raise _bad("there is no text in the message to edit")
        if sent.raw["text"] == plain and sent.reply_markup == markup:
            raise _bad(_NOT_MODIFIED)
        sent.text, sent.plain_text, sent.parse_mode = text, plain, parse_mode
        sent.raw["text"] = plain
        if isinstance(params.get("entities"), list):
            sent.raw["entities"] = params["entities"]
        else:
            sent.raw.pop("entities", None)
        self._set_markup(sent, markup)
        return self._record_edit(call, sent)

    def _m_edit_message_caption(self, call: Call) -> dict[str, Any] | bool:
        params = call.params
        sent = self._edit_target(call)
        parse_mode = params.get("parse_mode")
        text, plain = self._check_text(params.get("caption"), parse_mode, caption=True)
        markup = self._check_reply_markup(params.get("reply_markup"))
        if sent is None:
            return True
        if not any(k in sent.raw for k in _MEDIA_FIELDS):
            raise _bad("there is no caption in the message to edit")
        if sent.raw.get("caption", "") == plain and sent.reply_markup == markup:
            raise _bad(_NOT_MODIFIED)
        sent.text = text or None
        sent.plain_text = plain or None
        sent.parse_mode = parse_mode
        if plain:
            sent.raw["caption"] = plain
        else:
            sent.raw.pop("caption", None)
        self._set_markup(sent, markup)
        return self._record_edit(call, sent)

    def _m_edit_message_reply_markup(self, call: Call) -> dict[str, Any] | bool:
        sent = self._edit_target(call)
        markup = self._check_reply_markup(call.params.get("reply_markup"))
        if sent is None:
            return True
        if sent.reply_markup == markup:
            raise _bad(_NOT_MODIFIED)
        self._set_markup(sent, markup)
        return self._record_edit(call, sent)

    def _m_edit_message_media(self, call: Call) -> dict[str, Any] | bool:
        params = call.params
        sent = self._edit_target(call)
        media = params.get("media")
        if not isinstance(media, dict) or media.get("type") not in (
            "photo",
            "video",
            "document",
            "audio",
            "animation",
        ):
            raise _bad("can't parse InputMedia JSON object")
        data, file_name, mime_type = self._resolve_file_ref(call, media.get("media"), "media")
        markup = self._check_reply_markup(params.get("reply_markup"))
        text = plain = None
        if media.get("caption") not in (None, ""):
            text, plain = self._check_text(media["caption"], media.get("parse_mode"), caption=True)
        if sent is None:
            return True
        if not any(k in sent.raw for k in _MEDIA_FIELDS):
            raise _bad("there is no media in the message to edit")
        for key in (*_MEDIA_FIELDS, "caption", "caption_entities"):
            sent.raw.pop(key, None)
        value, file_id = self._media_object(media["type"], data, file_name, mime_type)
        sent.raw[media["type"]] = value
        if plain is not None:
            sent.raw["caption"] = plain
        sent.text, sent.plain_text, sent.parse_mode = text, plain, media.get("parse_mode")
        sent.files, sent.file_ids = [data], [file_id]
        self._set_markup(sent, markup)
        return self._record_edit(call, sent)

    def _delete(self, chat_id: int, message_id: int) -> bool:
        key = (chat_id, message_id)
        if key not in self._messages or key in self._deleted:
            return False
        self._deleted.add(key)
        sent = self._sent_index.get(key)
        if sent is not None:
            sent.deleted = True
        return True

    def _m_delete_message(self, call: Call) -> bool:
        chat_id = self._resolve_chat(call.params)
        if call.params.get("message_id") in (None, ""):
            raise _bad("message identifier is not specified")
        if not self._delete(chat_id, int(call.params["message_id"])):
            raise _bad("message to delete not found")
        return True

    def _m_delete_messages(self, call: Call) -> bool:
        chat_id = self._resolve_chat(call.params)
        ids = call.params.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise _bad("message_ids must be a non-empty array of at most 100 identifiers")
        for message_id in ids:
            self._delete(chat_id, int(message_id))
        return True

    def _source_message(self, call: Call) -> dict[str, Any]:
        from_chat = self._resolve_chat(call.params, "from_chat_id")
        key = (from_chat, int(call.params.get("message_id") or 0))
        if key not in self._messages or key in self._deleted:
            raise _bad("message to copy not found")
        return self._messages[key]

    def _copy_content(self, source: dict[str, Any]) -> dict[str, Any]:
        skip = {
            "message_id",
            "from",
            "chat",
            "date",
            "edit_date",
            "reply_to_message",
            "reply_markup",
            "forward_origin",
            "media_group_id",
        }
        return {k: copy.deepcopy(v) for k, v in source.items() if k not in skip}

    def _m_copy_message(self, call: Call) -> dict[str, Any]:
        params = call.params
        chat_id = self._resolve_chat(params)
        source = self._source_message(call)
        content = self._copy_content(source)
        parse_mode = params.get("parse_mode")
        text = content.get("text", content.get("caption"))
        plain = text
        if "caption" in params and any(k in content for k in _MEDIA_FIELDS):
            text, plain = self._check_text(params.get("caption"), parse_mode, caption=True)
            content.pop("caption_entities", None)
            if plain:
                content["caption"] = plain
            else:
                content.pop("caption", None)
        file_ids = self._file_ids_of(content)
        raw = self._new_bot_message(
            call,
            chat_id,
            content,
            text=text,
            plain_text=plain,
            parse_mode=parse_mode,
            reply_markup=self._check_reply_markup(params.get("reply_markup")),
            files=[self._files[f].data for f in file_ids if f in self._files],
            file_ids=file_ids,
            reply_to=self._reply_to(chat_id, params),
        )
        return {"message_id": raw["message_id"]}

    def _m_forward_message(self, call: Call) -> dict[str, Any]:
        chat_id = self._resolve_chat(call.params)
        source = self._source_message(call)
        content = self._copy_content(source)
        content["forward_origin"] = {
            "type": "user",
            "sender_user": copy.deepcopy(source.get("from")),
            "date": source.get("date"),
        }
        text = content.get("text", content.get("caption"))
        file_ids = self._file_ids_of(content)
        return self._new_bot_message(
            call,
            chat_id,
            content,
            text=text,
            plain_text=text,
            files=[self._files[f].data for f in file_ids if f in self._files],
            file_ids=file_ids,
        )

    def _m_get_file(self, call: Call) -> dict[str, Any]:
        stored = self._files.get(str(call.params.get("file_id") or ""))
        if stored is None:
            raise _bad("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }
