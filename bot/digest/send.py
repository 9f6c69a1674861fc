"""Sending the digest to every staff chat. A tip is recorded as delivered to a chat only after Telegram
accepted all of its messages there, and marked digested once every staff chat has it; a failure leaves
the rest for the next run, which sends what is missing and nothing twice."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

from telegram import Bot, InputFile, InputMediaAudio, InputMediaDocument, InputMediaPhoto, InputMediaVideo
from telegram.error import TelegramError

from storage.repository import Repository, StoredFile

from ..flows.catalog import FlowCatalog
from ..privacy.clean import EXTENSIONS
from .build import DigestEntry, build_digest, no_new_tips

log = logging.getLogger(__name__)
MEDIA_GROUP_LIMIT = 10


@dataclass
class DigestReport:
    delivered: dict[int, int] = field(default_factory=dict)
    failed_chats: list[int] = field(default_factory=list)
    digested: int = 0


async def send_digest(
    bot: Bot, repository: Repository, flows: FlowCatalog, chat_ids: list[int], lang: str, today: date
) -> DigestReport:
    report = DigestReport()
    for chat_id in chat_ids:
        try:
            report.delivered[chat_id] = await _send_to_chat(bot, repository, flows, chat_id, lang, today)
        except TelegramError as error:
            log.warning("digest to a staff chat stopped (%s); the rest is sent next time", type(error).__name__)
            report.failed_chats.append(chat_id)
    report.digested = await repository.mark_digested(chat_ids)
    log.info("digest: %d tip(s) completed for all staff chats", report.digested)
    return report


async def _send_to_chat(
    bot: Bot, repository: Repository, flows: FlowCatalog, chat_id: int, lang: str, today: date
) -> int:
    tips = await repository.tips_pending_for(chat_id)
    if not tips:
        await bot.send_message(chat_id, no_new_tips(lang))
        return 0
    digest = build_digest(tips, flows, lang, today)
    await bot.send_message(chat_id, digest.header)
    for entry in digest.entries:
        await _send_entry(bot, chat_id, entry)
        await repository.record_delivery(entry.tip_id, chat_id)
    return len(digest.entries)


async def _send_entry(bot: Bot, chat_id: int, entry: DigestEntry) -> None:
    for text in entry.texts:
        await bot.send_message(chat_id, text)
    for album in _albums(entry.files):
        await _send_album(bot, chat_id, entry.tip_id[:8], album)


def _albums(files: list[StoredFile]) -> list[list[tuple[int, StoredFile]]]:
    """Telegram albums may mix photos and videos; documents and audio only with their own kind; voice
    notes go one by one. Each album holds at most 10 files."""
    groups: dict[str, list[tuple[int, StoredFile]]] = {}
    for number, file in enumerate(files, start=1):
        group = "visual" if file.kind in ("image", "video") else file.kind
        groups.setdefault(group, []).append((number, file))
    albums = []
    for group, items in groups.items():
        size = 1 if group == "voice" else MEDIA_GROUP_LIMIT
        albums.extend(items[start : start + size] for start in range(0, len(items), size))
    return albums


async def _send_album(bot: Bot, chat_id: int, short_id: str, album: list[tuple[int, StoredFile]]) -> None:
    if len(album) == 1:
        number, file = album[0]
        send = {
            "image": bot.send_photo,
            "video": bot.send_video,
            "audio": bot.send_audio,
            "voice": bot.send_voice,
        }.get(file.kind, bot.send_document)
        await send(chat_id, _upload(short_id, number, file), caption=f"#{short_id} · {number}")
        return
    media_types = {"image": InputMediaPhoto, "video": InputMediaVideo, "audio": InputMediaAudio}
    media = [
        media_types.get(file.kind, InputMediaDocument)(
            media=_upload(short_id, number, file), caption=f"#{short_id} · {number}"
        )
        for number, file in album
    ]
    await bot.send_media_group(chat_id, media=media)


def _upload(short_id: str, number: int, file: StoredFile) -> InputFile:
    """Files reach staff named after the tip, never after anything the reporter's device chose."""
    return InputFile(file.data, filename=f"tip-{short_id}-{number}.{EXTENSIONS.get(file.mime, 'bin')}", attach=True)
