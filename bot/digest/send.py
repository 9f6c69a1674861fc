"""Sending the digest to every staff chat so that no tip is lost or repeated.

Each tip's entry is made of parts: its text (one or more chunks) and each of its files. Texts of several
tips share a message where they fit, files travel in albums. A part is recorded for a chat only after
Telegram accepted the message that carried it; a tip is delivered to a chat when all its parts are, and
digested when every staff chat has it. A run that breaks off (error, crash, kill) leaves a state from
which the next run sends exactly what is missing.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import date, timedelta

from telegram import Bot, InputFile, InputMediaAudio, InputMediaDocument, InputMediaPhoto, InputMediaVideo
from telegram.error import TelegramError

from storage.repository import Repository, StoredFile, StoredTip
from storage.staff_records import StaffRecords

from ..flows.catalog import FlowCatalog
from ..privacy.clean import EXTENSIONS
from ..render import MAX_MESSAGE
from .build import build_digest, no_new_tips
from .charts import render_chart
from .delivery import send_reliably
from .export import export_csv, export_xlsx
from .retention import NOTICE_DAYS, cutoff, retention_notice

log = logging.getLogger(__name__)
MEDIA_GROUP_LIMIT = 10
CHART_DAYS = 14


@dataclass
class DigestReport:
    delivered: dict[int, int] = field(default_factory=dict)
    failed_chats: list[int] = field(default_factory=list)
    digested: int = 0


@dataclass(frozen=True)
class Digester:
    """Everything a digest run needs; `pause` is the first wait before retrying a failed message."""

    bot: Bot
    repository: Repository
    records: StaffRecords
    flows: FlowCatalog
    default_language: str
    retention_days: int
    pause: float = 1.0

    async def send(self, chat_ids: list[int], today: date) -> DigestReport:
        report = DigestReport()
        expiring = await self.repository.expiring_on(
            cutoff(today, self.retention_days) + timedelta(days=NOTICE_DAYS - 1)
        )
        recent = await self.repository.tips_since(today - timedelta(days=CHART_DAYS - 1), files=False)
        for chat_id in chat_ids:
            try:
                report.delivered[chat_id] = await self._send_to_chat(chat_id, today, expiring, recent)
            except TelegramError as error:
                log.warning("digest to a staff chat stopped (%s); the rest is sent next time", type(error).__name__)
                report.failed_chats.append(chat_id)
        report.digested = await self.repository.mark_digested(chat_ids)
        log.info("digest: %d tip(s) completed for all staff chats", report.digested)
        return report

    async def _send_to_chat(self, chat_id: int, today: date, expiring: list[StoredTip], recent: list[StoredTip]) -> int:
        """`expiring` and `recent` (for the chart) are read once per run, for all chats."""
        lang = await self.records.staff_language(chat_id) or self.default_language
        tips = await self.repository.tips_pending_for(chat_id)
        notice = retention_notice(expiring, lang, self.retention_days)
        if not tips:
            await self._message(chat_id, no_new_tips(lang) + (f"\n\n{notice}" if notice else ""))
            return 0
        digest = await asyncio.to_thread(build_digest, tips, self.flows, lang, today)  # CPU: off the event loop
        await self._message(chat_id, digest.header + (f"\n\n{notice}" if notice else ""))
        chart = await asyncio.to_thread(render_chart, recent, self.flows, lang, today, CHART_DAYS)
        await send_reliably(
            lambda: self.bot.send_photo(chat_id, InputFile(chart, filename="chart.png")), pause=self.pause
        )
        done = await self.repository.delivered_parts(chat_id, [tip.id for tip in tips])
        required = {
            entry.tip_id: {f"text:{n}" for n in range(1, len(entry.texts) + 1)}
            | {f"file:{n}" for n in range(1, len(entry.files) + 1)}
            for entry in digest.entries
        }

        async def record(parts: list[tuple[str, str]]) -> None:
            for tip_id, part in parts:
                done.setdefault(tip_id, set()).add(part)
            complete = sorted({tip_id for tip_id, _ in parts if required[tip_id] <= done[tip_id]})
            await self.repository.record_parts(chat_id, parts, complete)

        texts = [
            (entry.tip_id, f"text:{n}", text)
            for entry in digest.entries
            for n, text in enumerate(entry.texts, start=1)
            if f"text:{n}" not in done.get(entry.tip_id, set())
        ]
        for message, parts in pack_texts(texts):
            await self._message(chat_id, message)
            await record(parts)
        files = [
            (entry.tip_id, n, file)
            for entry in digest.entries
            for n, file in enumerate(entry.files, start=1)
            if f"file:{n}" not in done.get(entry.tip_id, set())
        ]
        for album in albums(files):
            await self._album(chat_id, album)
            await record([(tip_id, f"file:{n}") for tip_id, n, _ in album])
        await self._exports(chat_id, tips, lang, today)
        return len(tips)

    async def _message(self, chat_id: int, text: str) -> None:
        await send_reliably(lambda: self.bot.send_message(chat_id, text), pause=self.pause)

    async def _album(self, chat_id: int, album: list[tuple[str, int, StoredFile]]) -> None:
        await send_album(self.bot, chat_id, album, self.pause)

    async def _exports(self, chat_id: int, tips: list[StoredTip], lang: str, today: date) -> None:
        name = f"tips-{today.isoformat()}"
        csv_data = await asyncio.to_thread(export_csv, tips, self.flows, lang)
        xlsx_data = await asyncio.to_thread(export_xlsx, tips, self.flows, lang)
        for data, extension in ((csv_data, "csv"), (xlsx_data, "xlsx")):
            await send_reliably(
                lambda data=data, extension=extension: self.bot.send_document(
                    chat_id, InputFile(data, filename=f"{name}.{extension}")
                ),
                pause=self.pause,
            )


def pack_texts(texts: list[tuple[str, str, str]], limit: int = MAX_MESSAGE) -> list[tuple[str, list[tuple[str, str]]]]:
    """Join consecutive tip texts into messages of at most `limit` characters, remembering which tip
    parts each message carries."""
    messages: list[tuple[str, list[tuple[str, str]]]] = []
    current, parts = "", []
    for tip_id, part, text in texts:
        joined = f"{current}\n\n{text}" if current else text
        if current and len(joined) > limit:
            messages.append((current, parts))
            current, parts = text, [(tip_id, part)]
        else:
            current, parts = joined, [*parts, (tip_id, part)]
    if current:
        messages.append((current, parts))
    return messages


def albums(files: list[tuple[str, int, StoredFile]]) -> list[list[tuple[str, int, StoredFile]]]:
    """Telegram albums may mix photos and videos; documents and audio only with their own kind; voice notes
    go one by one. At most 10 files each."""
    groups: dict[str, list[tuple[str, int, StoredFile]]] = {}
    for item in files:
        kind = item[2].kind
        groups.setdefault("visual" if kind in ("image", "video") else kind, []).append(item)
    result = []
    for group, items in groups.items():
        size = 1 if group == "voice" else MEDIA_GROUP_LIMIT
        result.extend(items[start : start + size] for start in range(0, len(items), size))
    return result


async def send_album(bot: Bot, chat_id: int, album: list[tuple[str, int, StoredFile]], pause: float) -> None:
    """One file with the method for its kind, or several as one album; captions name tip and number."""
    if len(album) == 1:
        tip_id, number, file = album[0]
        send = {
            "image": bot.send_photo,
            "video": bot.send_video,
            "audio": bot.send_audio,
            "voice": bot.send_voice,
        }.get(file.kind, bot.send_document)
        await send_reliably(
            lambda: send(chat_id, upload(tip_id, number, file), caption=caption(tip_id, number)), pause=pause
        )
        return
    kinds = {"image": InputMediaPhoto, "video": InputMediaVideo, "audio": InputMediaAudio}

    def media() -> list:
        return [
            kinds.get(file.kind, InputMediaDocument)(
                media=upload(tip_id, number, file), caption=caption(tip_id, number)
            )
            for tip_id, number, file in album
        ]

    await send_reliably(lambda: bot.send_media_group(chat_id, media=media()), pause=pause)


def caption(tip_id: str, number: int) -> str:
    return f"#{tip_id[:8]} · {number}"


def upload(tip_id: str, number: int, file: StoredFile) -> InputFile:
    """Files reach staff named after the tip, never after anything the reporter's device chose."""
    extension = EXTENSIONS.get(file.mime, "bin")
    return InputFile(file.data, filename=f"tip-{tip_id[:8]}-{number}.{extension}", attach=True)
