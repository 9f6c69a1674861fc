"""What one chat may send: reports a day, messages to staff and files an hour, megabytes per report, receipt-code
tries an hour (DESIGN.md threat 4: one person must not flood the staff or the bot's storage).

Counts live in storage under the purpose and an HMAC of the chat's key made with a key of their own, so a counter
leads neither to the chat nor to its draft. A window begins at the hour of its first count; rows are deleted once
their window has passed (`expire_counters`).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from storage.staff_records import StaffRecords

from .i18n import N_, gettext_for

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
KB_PER_MB = 1024


@dataclass(frozen=True)
class Kind:
    """One thing counted: its key prefix in storage and how long one window lasts."""

    prefix: str
    window: timedelta


GUESSES = Kind("guess:", HOUR)
REPORTS = Kind("report:", DAY)
ANSWERS = Kind("answer:", HOUR)
FILES = Kind("file:", HOUR)
REPORT_KB = Kind("kb:", DAY)
"""Kilobytes of files in the report being written: its first file starts the count again."""
KINDS = (GUESSES, REPORTS, ANSWERS, FILES, REPORT_KB)
REACHED = {
    REPORTS: N_(
        "One chat can send at most {limit} reports a day. Your report is kept, not sent: you can send it in {wait}."
    ),
    ANSWERS: N_(
        "One chat can send staff at most {limit} messages an hour. This message was not sent: please send it "
        "again in {wait}."
    ),
    FILES: N_(
        "One chat can send at most {limit} files an hour. This file was not taken: please send it again in "
        "{wait}. Everything you sent before is kept."
    ),
    REPORT_KB: N_(
        "A report can have at most {limit} MB of files in all, and this file would pass that. It was not added; "
        "the files you added before are kept."
    ),
}
"""What the reporter reads when a limit is reached (receipt-code tries have their own line in follow_up)."""


@dataclass(frozen=True)
class Reached:
    """A limit stopped something: the limit, and how long until the window ends."""

    most: int
    wait: timedelta


@dataclass(frozen=True)
class Limits:
    """The numbers from the settings, and the key that names the counters."""

    reports_per_day: int = 5
    answers_per_hour: int = 20
    files_per_hour: int = 30
    report_mb: int = 50
    guesses_per_hour: int = 5
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    """Derived from the secret key at run time, so counts survive a restart."""

    def most(self, kind: Kind) -> int:
        return {
            GUESSES: self.guesses_per_hour,
            REPORTS: self.reports_per_day,
            ANSWERS: self.answers_per_hour,
            FILES: self.files_per_hour,
            REPORT_KB: self.report_mb * KB_PER_MB,
        }[kind]

    def name(self, kind: Kind, chat_key: str) -> str:
        digest = hmac.new(self.key, (kind.prefix + chat_key).encode(), hashlib.sha256).hexdigest()
        return (kind.prefix + digest)[:64]

    async def take(
        self, records: StaffRecords, kind: Kind, chat_key: str, now: datetime, amount: int = 1, restart: bool = False
    ) -> Reached | None:
        """Count `amount` of `kind` for the chat; None if that was allowed, else the limit it would pass."""
        most, name = self.most(kind), self.name(kind, chat_key)
        if await records.count(name, now, kind.window, most, amount, restart):
            return None
        local = now.replace(tzinfo=None)
        since = await records.counted_since(name) or local
        return Reached(most, max(since + kind.window - local, timedelta(0)))


def kilobytes(data: bytes) -> int:
    return math.ceil(len(data) / 1024)


async def expire_counters(records: StaffRecords, now: datetime) -> int:
    """Delete the counters whose window has passed."""
    return await records.delete_counters({kind.prefix: now - kind.window for kind in KINDS})


def wait_text(wait: timedelta, lang: str) -> str:
    _ = gettext_for(lang)
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    if minutes < 60:
        return _("{minutes} min").format(minutes=minutes)
    return _("{hours} h {minutes} min").format(hours=minutes // 60, minutes=minutes % 60)


def reached_text(kind: Kind, reached: Reached, lang: str) -> str:
    """What the reporter reads: the limit, when they can go on, and that nothing sent before is lost."""
    limit = reached.most // KB_PER_MB if kind is REPORT_KB else reached.most
    return gettext_for(lang)(REACHED[kind]).format(limit=limit, wait=wait_text(reached.wait, lang))
