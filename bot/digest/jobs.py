"""What the scheduler (and /digest, and `tipbot digest --send`) runs: the digest, staff notices,
retention, and the check for a digest missed while the bot was down."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from telegram import Bot

from ..runtime import Runtime
from .notices import Notifier
from .retention import purge
from .send import Digester, DigestReport

DONE_KEY = "digest_done_on"
RETRY_PAUSE = 0.5
HANDLED_KEPT = timedelta(days=2)
"""How long staff updates already handled are remembered: Telegram gives up redelivering long before."""


def last_due(now: datetime, at: time) -> date:
    """The day of the most recent scheduled digest moment at or before `now` (both in the bot's zone)."""
    return now.date() if now.time() >= at else now.date() - timedelta(days=1)


def is_missed(now: datetime, at: time, done_on: date | None) -> bool:
    return done_on is not None and done_on < last_due(now, at)


def notifier(runtime: Runtime, bot: Bot) -> Notifier:
    settings = runtime.settings
    return Notifier(bot, runtime.repository, runtime.records, runtime.flows, settings.staff_language, RETRY_PAUSE)


async def send_notices(runtime: Runtime, bot: Bot) -> None:
    """Urgent alerts and reporters' answers not yet posted. Runs one at a time across every instance, each run
    recording what Telegram accepted before the next reads what is left, so none is posted twice."""
    async with runtime.coordination.serial("notices"):
        await runtime.flow_admin.refresh(force=True)  # a report may be on a version published elsewhere just now
        await notifier(runtime, bot).send_pending(await runtime.staff_chat_ids())


async def run_digest(runtime: Runtime, bot: Bot, scheduled: bool = False) -> DigestReport:
    """The digest of everything not yet digested. Runs one at a time across every instance: asked for while a
    run is under way, it waits for that run and then finds nothing left to send. A `scheduled` run (every
    instance has the daily job) is skipped when another instance has sent today's digest already."""
    async with runtime.coordination.serial("digest"):
        if scheduled and not await _due(runtime):
            return DigestReport()
        return await _digest(runtime, bot)


async def _due(runtime: Runtime) -> bool:
    """Whether the most recent scheduled digest moment has not been covered by a complete run yet."""
    stored = await runtime.records.state(DONE_KEY)
    done_on = date.fromisoformat(stored) if stored else date.min
    return done_on < last_due(runtime.now(), runtime.settings.digest_time)


async def _digest(runtime: Runtime, bot: Bot) -> DigestReport:
    settings = runtime.settings
    await send_notices(runtime, bot)  # which also brings the questionnaires up to date
    digester = Digester(
        bot,
        runtime.repository,
        runtime.records,
        runtime.flows,
        settings.staff_language,
        settings.retention_days,
        RETRY_PAUSE,
    )
    today = runtime.today()
    report = await digester.send(await runtime.staff_chat_ids(), today)
    if not report.failed_chats:  # the scheduled moments this run covers
        await runtime.records.set_state(DONE_KEY, last_due(runtime.now(), settings.digest_time).isoformat())
    return report


async def digest_missed(runtime: Runtime) -> bool:
    """True when a scheduled digest passed while the bot was down. The first start ever misses nothing."""
    now = datetime.now(runtime.settings.tz)
    at = runtime.settings.digest_time
    async with runtime.coordination.serial("digest"):
        stored = await runtime.records.state(DONE_KEY)
        if stored is None:
            await runtime.records.set_state(DONE_KEY, last_due(now, at).isoformat())
            return False
    return is_missed(now, at, date.fromisoformat(stored))


async def run_retention(runtime: Runtime) -> int:
    """Once across instances (they all have the nightly job; the second finds nothing left to delete)."""
    async with runtime.coordination.serial("retention"):
        await runtime.expire_drafts()
        await runtime.records.forget_handled(runtime.today() - HANDLED_KEPT)
        return await purge(runtime.repository, runtime.today(), runtime.settings.retention_days)
