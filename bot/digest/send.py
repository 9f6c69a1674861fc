"""Sending the digest to every staff chat. A tip is recorded as delivered to a chat only after Telegram
accepted all of its messages there, and marked digested once every staff chat has it; a failure leaves
the rest for the next run, which sends what is missing and nothing twice."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

from telegram import Bot, InputMediaPhoto
from telegram.error import TelegramError

from storage.repository import Repository, StoredFile

from ..flows.catalog import FlowCatalog
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
    images = [file for file in entry.files if file.kind == "image"]
    for start in range(0, len(images), MEDIA_GROUP_LIMIT):
        await _send_images(bot, chat_id, entry.tip_id[:8], images[start : start + MEDIA_GROUP_LIMIT], start)


async def _send_images(bot: Bot, chat_id: int, short_id: str, images: list[StoredFile], offset: int) -> None:
    if len(images) == 1:
        await bot.send_photo(chat_id, photo=images[0].data, caption=f"#{short_id} · {offset + 1}")
        return
    media = [
        InputMediaPhoto(media=image.data, caption=f"#{short_id} · {offset + number}")
        for number, image in enumerate(images, start=1)
    ]
    await bot.send_media_group(chat_id, media=media)
