"""Checking a report with its receipt code: finding the tip, limiting guesses, and what the reporter sees.

The bot never stores which chat sent which tip. While a reporter reads and answers staff messages, the tip
id is kept in the chat's stored session (encrypted, under the chat's HMAC key, like a draft), so whichever
instance receives the next update can continue. It is held only while the follow-up is open: at most
`LIFETIME`, and no longer than "Done", a command, erasing the chat or idle clearing; the row it was in is then
rewritten or deleted and scrubbed from the database's files (storage/scrub.py).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.repository import Repository
from storage.staff_records import StaffRecords, StoredExchange

from . import callbacks
from .i18n import N_, gettext_for
from .limits import GUESSES, Limits
from .privacy.receipts import hash_code, normalise
from .render import Button, Screen

LIFETIME = timedelta(minutes=30)
"""How long a checked report stays open for reading and answering; then the code is asked for again."""
HASHING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="receipt-hash")
"""scrypt runs here, one hash at a time: a flood of code guesses queues instead of taking every core.
Guessing is limited per chat only (10^16 codes, a few tries an hour: hopeless); a limit for all chats
together would let strangers lock every reporter out."""
CHECK, ANSWER, DONE = callbacks.CHECK, callbacks.FOLLOW_UP_ANSWER, callbacks.FOLLOW_UP_DONE
REPORTER_STATUS = {
    "new": N_("received, not reviewed yet"),
    "reviewing": N_("being reviewed by staff"),
    "verified": N_("verified by staff"),
    "closed": N_("closed"),
}


@dataclass(frozen=True)
class CodeCheck:
    tip_id: str | None = None
    problem: str | None = None
    """"format", "limit" or "unknown"."""


async def check_code(
    text: str,
    chat_key: str,
    repository: Repository,
    records: StaffRecords,
    salts: tuple[bytes, ...],
    now: datetime,
    limits: Limits,
) -> CodeCheck:
    """Every well-formed code counts as a try, counted before the costly hash."""
    code = normalise(text)
    if code is None:
        return CodeCheck(problem="format")
    if await limits.take(records, GUESSES, chat_key, now):
        return CodeCheck(problem="limit")
    hashes = [await hash_receipt(code, salt) for salt in salts]
    tip_id = await repository.tip_by_receipt(hashes)
    return CodeCheck(tip_id=tip_id) if tip_id else CodeCheck(problem="unknown")


async def hash_receipt(code: str, salt: bytes) -> str:
    return await asyncio.get_running_loop().run_in_executor(HASHING, hash_code, code, salt)


def ask_code_screen(lang: str) -> Screen:
    _ = gettext_for(lang)
    text = "\n\n".join(
        [
            _("Send the 16-digit receipt code of your report (spaces are fine)."),
            _(
                "With it you can read what staff wrote about your report (questions or an answer) and reply, "
                "from this or any other Telegram account."
            ),
        ]
    )
    return Screen(text)


def code_problem(problem: str, lang: str) -> str:
    _ = gettext_for(lang)
    return {
        "format": _("That is not a receipt code: it has 16 digits, like 1234 5678 9012 3456."),
        "limit": _("Too many tries. Please try again in an hour."),
        "unknown": _("No report was found with this code. Check the digits and try again."),
    }[problem]


def report_screen(status: str, exchanges: list[StoredExchange], lang: str) -> Screen:
    _ = gettext_for(lang)
    lines = [_("Your report: {status}.").format(status=_(REPORTER_STATUS[status]))]
    if exchanges:
        lines.append("")
        for exchange in exchanges:
            who = _("Staff") if exchange.sender == "staff" else _("You")
            text = exchange.text or _("(files)")
            lines.append(f"{who}, {exchange.created_on.strftime('%d.%m.%Y')}: {text}")
    else:
        lines.append(_("Staff have not written to you yet."))
    later = _("Staff may still write with questions or an answer: check again in 2–3 days with the same code.")
    lines.extend(["", later])
    buttons = ((Button(_("✍️ Answer"), ANSWER), Button(_("Done"), DONE)),)
    return Screen("\n".join(lines), buttons)


def answer_prompt(lang: str) -> Screen:
    _ = gettext_for(lang)
    text = _(
        "Write your answer or send files (photos, documents, voice messages, videos). "
        "Press “Done” when you have finished."
    )
    return Screen(text, ((Button(_("Done"), DONE),),))


def answer_sent(lang: str, files: bool) -> Screen:
    _ = gettext_for(lang)
    text = _("File sent to staff.") if files else _("Sent to staff.")
    return Screen(text + " " + _("You can send more, or press “Done”."), ((Button(_("Done"), DONE),),))
