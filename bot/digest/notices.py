"""Messages staff get at once, outside the daily digest: urgent reports, and reporters' answers to staff
questions, each shown exactly once in every staff chat, whatever fails or is killed when.

Telegram has no idempotency key and a bot cannot read a chat's history, so a message Telegram accepted just
before a crash, whose record was never committed, would be posted again after the restart. So a notice message
goes out in two steps: a placeholder without content, whose message id is claimed in the database for the parts
it will show (storage/notice_claims.py); then the placeholder is edited into the notice, and its parts are
recorded delivered in that chat (deleting the claim) in one transaction. A claim left by a crash is finished by
editing its message again; Telegram answering "message is not modified" means the edit had been made. A crash
before the claim is stored leaves one placeholder with no content in one chat, never a second notice. Editing
is idempotent, so an edit retried after an answer lost on the network cannot show anything twice either.

Each message costs two calls and Telegram allows a group 20 a minute: when more than a few notices wait for a
chat they share messages, each still under its own heading. Files of reporters' answers go as albums after the
text, recorded once Telegram accepted them: a crash between the two posts such an album again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from itertools import groupby
from typing import NamedTuple

from telegram import Bot
from telegram.error import BadRequest, TelegramError

from storage.notice_claims import NoticeClaims
from storage.repository import Repository, StoredFile, StoredTip
from storage.staff_records import StaffRecords, StoredExchange

from ..flows.catalog import FlowCatalog
from ..i18n import gettext_for
from ..render import MAX_MESSAGE, format_answer, question_title, split_message
from .delivery import send_reliably
from .send import albums, send_album

log = logging.getLogger(__name__)
ALERT = "alert"
ALONE_UP_TO = 6
"""Notices go one per message while this many or fewer wait for a chat, counting the urgent reports alerted since
the last digest (12 calls, leaving room in a group's 20 a minute for what staff ask the bot); beyond that, in a
surge, the ones waiting together share messages, so that 50 take a few calls instead of five minutes."""
SEPARATOR = "\n\n"
NOT_MODIFIED = "message is not modified"
GONE = "message to edit not found"

Key = tuple[str, str]
"""A tip id and one of its parts ("alert", "answer:N")."""


class Piece(NamedTuple):
    """What one message shows of a part: all of it, or one of the messages a long one is split into."""

    key: Key
    number: int
    text: str
    whole: bool


@dataclass(frozen=True)
class Notice:
    """A tip's part to tell staff, written in a staff chat's language; an answer's files follow its text."""

    tip_id: str
    part: str
    write: Callable[[str], str]
    complete: Callable[[], Awaitable[None]]
    """Records that every staff chat has it."""
    files: list[StoredFile] = field(default_factory=list)
    files_part: str = ""

    @property
    def key(self) -> Key:
        return self.tip_id, self.part


@dataclass(frozen=True)
class Notifier:
    bot: Bot
    repository: Repository
    records: StaffRecords
    flows: FlowCatalog
    default_language: str
    pause: float = 1.0
    claims: NoticeClaims = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "claims", NoticeClaims.beside(self.repository))

    async def send_pending(self, chat_ids: list[int]) -> None:
        """Show every urgent alert and reporter's answer that some staff chat does not have yet. A chat that
        fails is left for the next run, which finishes what this one claimed there."""
        if not chat_ids:
            return
        notices = [self._alert(tip) for tip in sorted(await self.repository.urgent_unalerted(), key=lambda t: t.id)]
        notices += [self._answer(answer) for answer in await self.records.undelivered_answers()]
        if not notices:
            return
        await self.claims.keep_only(chat_ids)
        alerted = await self.claims.alerted_since_digest()
        outcomes = await asyncio.gather(
            *(self._send_to(chat_id, notices, alerted) for chat_id in chat_ids), return_exceptions=True
        )
        for outcome in outcomes:  # raised once every chat has stopped: no run leaves another sending behind it
            if isinstance(outcome, BaseException):
                raise outcome
        everywhere = [
            await self.repository.delivered_parts(chat_id, [n.tip_id for n in notices]) for chat_id in chat_ids
        ]
        for notice in notices:
            if all(_delivered(notice, done.get(notice.tip_id, set())) for done in everywhere):
                await notice.complete()

    async def _send_to(self, chat_id: int, notices: list[Notice], alerted: int) -> None:
        language = await self.records.staff_language(chat_id) or self.default_language
        try:
            await _ChatRun(self, chat_id, language).send(notices, alerted)
        except TelegramError as error:
            log.warning("a staff notice was not delivered (%s); it is tried again later", type(error).__name__)

    def _alert(self, tip: StoredTip) -> Notice:
        return Notice(
            tip.id,
            ALERT,
            lambda lang: urgent_alert(tip, self.flows, lang),
            lambda: self.repository.mark_alerted(tip.id),
        )

    def _answer(self, answer: StoredExchange) -> Notice:
        return Notice(
            answer.tip_id,
            f"answer:{answer.number}",
            lambda lang: reporter_answer(answer, lang),
            lambda: self.records.mark_delivered(answer.id),
            answer.files,
            f"attached:{answer.number}",
        )

    async def show(self, chat_id: int, message_id: int, text: str) -> bool:
        """Edit a claimed placeholder into its notice; False if the message is no longer in the chat."""
        try:
            await send_reliably(
                lambda: self.bot.edit_message_text(text, chat_id=chat_id, message_id=message_id), pause=self.pause
            )
        except BadRequest as error:
            if NOT_MODIFIED in error.message.lower():  # shown before a crash, or by the try whose answer was lost
                return True
            if GONE in error.message.lower():
                return False
            raise
        return True


def _delivered(notice: Notice, done: set[str]) -> bool:
    return notice.part in done and (not notice.files or notice.files_part in done)


class _ChatRun:
    """One staff chat's share of a run: first the messages a crash left claimed, then the notices not begun."""

    def __init__(self, notifier: Notifier, chat_id: int, language: str):
        self.notifier = notifier
        self.claims = notifier.claims
        self.chat_id = chat_id
        self.language = language
        self.waiting: dict[Key, Notice] = {}
        self.languages: dict[Key, str] = {}
        """The language of each part already begun (claimed), to finish it in."""
        self.written: dict[Key, list[str]] = {}
        self.shown: dict[Key, set[int]] = {}
        self.recorded: set[Key] = set()

    async def send(self, notices: list[Notice], alerted: int) -> None:
        """`alerted`: how many urgent reports have been alerted since the last digest."""
        done = await self.notifier.repository.delivered_parts(self.chat_id, [n.tip_id for n in notices])
        self.waiting = {n.key: n for n in notices if n.part not in done.get(n.tip_id, set())}
        await self._finish_claimed()
        rest = [
            Piece(key, number, text, len(self.pieces(key)) == 1)
            for key in self.waiting
            for number, text in enumerate(self.pieces(key), start=1)
            if number not in self.shown.get(key, set())
        ]
        for message in pack(rest, together=alerted + len({piece.key for piece in rest}) > ALONE_UP_TO):
            await self._post([(piece.key, piece.number) for piece in message])
        for notice in notices:
            text_done = notice.part in done.get(notice.tip_id, set()) or notice.key in self.recorded
            if notice.files and text_done and notice.files_part not in done.get(notice.tip_id, set()):
                await self._files(notice)

    def pieces(self, key: Key) -> list[str]:
        """The messages a part takes, in the language it was begun in or else the chat's."""
        if key not in self.written:
            self.written[key] = split_message(self.waiting[key].write(self.languages.get(key, self.language)))
        return self.written[key]

    async def _finish_claimed(self) -> None:
        claims = await self.claims.of_chat(self.chat_id)
        await self.claims.forget(self.chat_id, sorted({c.key for c in claims if c.key not in self.waiting}))
        live = [c for c in claims if c.key in self.waiting]
        self.languages.update((c.key, c.language) for c in live)
        for message_id, group in groupby(live, key=lambda c: c.message_id):
            items = [(c.key, c.piece) for c in group]
            if all(piece <= len(self.pieces(key)) for key, piece in items) and await self._show(message_id, items):
                continue
            await self.claims.release(self.chat_id, message_id)  # deleted in the chat: its parts go out again
            for key, _piece in items:
                self.languages.pop(key, None)
                self.written.pop(key, None)
        await self._record()

    async def _post(self, items: list[tuple[Key, int]]) -> None:
        bot, pause = self.notifier.bot, self.notifier.pause
        language = self.languages.get(items[0][0], self.language)
        text = placeholder_text(language, urgent=any(part == ALERT for (_tip, part), _piece in items))
        placeholder = await send_reliably(lambda: bot.send_message(self.chat_id, text), pause=pause)
        pieces = [(tip_id, part, piece) for (tip_id, part), piece in items]
        if not await self.claims.claim(self.chat_id, placeholder.message_id, language, pieces):
            log.info("another sender has taken these staff notices; dropping a placeholder")
            with contextlib.suppress(TelegramError):
                await bot.delete_message(self.chat_id, placeholder.message_id)
            return
        for key, _piece in items:
            self.languages.setdefault(key, language)
        if not await self._show(placeholder.message_id, items):
            await self.claims.release(self.chat_id, placeholder.message_id)
            return
        await self._record()

    async def _show(self, message_id: int, items: list[tuple[Key, int]]) -> bool:
        """Edit a message into the pieces it was claimed for, in the order of the notices (the same every run)."""
        order = {key: number for number, key in enumerate(self.waiting)}
        items = sorted(items, key=lambda item: (order[item[0]], item[1]))
        text = SEPARATOR.join(self.pieces(key)[piece - 1] for key, piece in items)
        if not await self.notifier.show(self.chat_id, message_id, text):
            return False
        for key, piece in items:
            self.shown.setdefault(key, set()).add(piece)
        return True

    async def _record(self) -> None:
        """Parts all of whose messages are shown become delivered in this chat, their claims gone."""
        complete = [
            key
            for key in self.waiting
            if key not in self.recorded and self.shown.get(key, set()) >= set(range(1, len(self.pieces(key)) + 1))
        ]
        await self.claims.deliver(self.chat_id, complete)
        self.recorded.update(complete)

    async def _files(self, notice: Notice) -> None:
        files = [(notice.tip_id, number, file) for number, file in enumerate(notice.files, start=1)]
        for album in albums(files):
            await send_album(self.notifier.bot, self.chat_id, album, self.notifier.pause)
        await self.notifier.repository.record_parts(self.chat_id, [(notice.tip_id, notice.files_part)], [])


def pack(pieces: list[Piece], together: bool, limit: int = MAX_MESSAGE) -> list[list[Piece]]:
    """The messages to send: a piece of a part split over several messages goes alone; whole parts share a
    message while it stays within Telegram's limit, if `together`."""
    messages: list[list[Piece]] = []
    current: list[Piece] = []
    for piece in pieces:
        shares = together and piece.whole
        if current and (not shares or _length(SEPARATOR.join(p.text for p in [*current, piece])) > limit):
            messages.append(current)
            current = []
        current.append(piece)
        if not shares:
            messages.append(current)
            current = []
    if current:
        messages.append(current)
    return messages


def _length(text: str) -> int:
    """Telegram counts a text's length in UTF-16 code units (an emoji may take two)."""
    return len(text.encode("utf-16-le")) // 2


def placeholder_text(lang: str, urgent: bool = False) -> str:
    """What a staff chat sees for a moment before the notice itself, and what staff phones show in the
    notification (an edit does not notify): for an urgent alert, that it is one. A crash may leave it, followed
    by the notice in a message of its own."""
    _ = gettext_for(lang)
    return _("🔴 Urgent report: the details follow.") if urgent else _("⏳ A notice follows.")


def urgent_alert(tip: StoredTip, flows: FlowCatalog, lang: str) -> str:
    """The tip's id and only the answers that made it urgent."""
    _ = gettext_for(lang)
    lines = [_("🔴 Urgent report {id}").format(id=tip.short_id)]
    flow = flows.get(tip.flow_id, tip.flow_version)
    if flow is not None:
        for question in flow.questions:
            answer = tip.answers.get(question.id)
            if question.is_urgent(answer):
                lines.append(f"• {question_title(flow, question, lang)}: {format_answer(flow, question, answer, lang)}")
    lines.append(_("The full report comes with the next digest, or now with /tip {id}.").format(id=tip.short_id))
    return "\n".join(lines)


def reporter_answer(answer: StoredExchange, lang: str) -> str:
    _ = gettext_for(lang)
    heading = _("💬 The reporter of {id} answered:").format(id=answer.tip_id[:8])
    files = _("Files: {count}").format(count=len(answer.files)) if answer.files else ""
    return "\n\n".join(part for part in (heading, answer.text, files) if part)
