"""Retention: tips older than TIPBOT_RETENTION_DAYS are deleted unless staff keep them, and staff are told
in the digest seven days before."""

from __future__ import annotations

from datetime import date, timedelta

from storage.repository import Repository, StoredTip

from ..i18n import gettext_for

NOTICE_DAYS = 7


def retention_notice(expiring: list[StoredTip], lang: str, retention_days: int) -> str:
    """The digest's line about tips that will be deleted in a week, with how to keep them."""
    if not expiring:
        return ""
    _ = gettext_for(lang)
    ids = ", ".join(tip.short_id for tip in expiring)
    return _(
        "⏳ In {days} days these reports reach the {retention}-day limit and will be deleted: {ids}. "
        "To keep one, send /keep followed by its number."
    ).format(days=NOTICE_DAYS, retention=retention_days, ids=ids)


def cutoff(today: date, retention_days: int) -> date:
    """Tips created before this day are past the retention period: a tip of day D goes on day D+days+1,
    and appears in the notice on day D+days-6."""
    return today - timedelta(days=retention_days)


async def purge(repository: Repository, today: date, retention_days: int) -> int:
    return await repository.purge(cutoff(today, retention_days))
