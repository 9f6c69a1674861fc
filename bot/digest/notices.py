"""Messages staff get at once, outside the daily digest: urgent reports, and reporters' answers to staff
questions. Each is recorded per staff chat as a delivered part, so a retry never posts it twice there."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Bot
from telegram.error import TelegramError

from storage.repository import Repository, StoredTip
from storage.staff_records import StaffRecords, StoredExchange

from ..flows.catalog import FlowCatalog
from ..i18n import gettext_for
from ..render import format_answer, question_title, split_message
from .delivery import send_reliably
from .send import albums, send_album

log = logging.getLogger(__name__)
ALERT = "alert"


@dataclass(frozen=True)
class Notifier:
    bot: Bot
    repository: Repository
    records: StaffRecords
    flows: FlowCatalog
    default_language: str
    pause: float = 1.0

    async def send_pending(self, chat_ids: list[int]) -> None:
        """Post every urgent alert and reporter answer that some staff chat has not accepted yet."""
        if not chat_ids:
            return
        for tip in await self.repository.urgent_unalerted():
            if await self._post(chat_ids, tip.id, ALERT, lambda lang, tip=tip: urgent_alert(tip, self.flows, lang)):
                await self.repository.mark_alerted(tip.id)
        for answer in await self.records.undelivered_answers():
            part = f"answer:{answer.number}"
            if await self._post(chat_ids, answer.tip_id, part, lambda lang, a=answer: reporter_answer(a, lang), answer):
                await self.records.mark_delivered(answer.id)

    async def _post(self, chat_ids, tip_id, part, text_for, answer: StoredExchange | None = None) -> bool:
        everywhere = True
        for chat_id in chat_ids:
            if part in (await self.repository.delivered_parts(chat_id, [tip_id])).get(tip_id, set()):
                continue
            lang = await self.records.staff_language(chat_id) or self.default_language
            try:
                for text in split_message(text_for(lang)):
                    await send_reliably(lambda c=chat_id, t=text: self.bot.send_message(c, t), pause=self.pause)
                if answer is not None:
                    files = [(tip_id, n, file) for n, file in enumerate(answer.files, start=1)]
                    for album in albums(files):
                        await send_album(self.bot, chat_id, album, self.pause)
            except TelegramError as error:
                log.warning("a staff notice was not delivered (%s); it is tried again later", type(error).__name__)
                everywhere = False
                continue
            await self.repository.record_parts(chat_id, [(tip_id, part)], [])
        return everywhere


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
