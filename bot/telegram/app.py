"""Building the python-telegram-bot Application: handlers, rate limits, scheduled jobs, errors."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import time, timedelta

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes

from storage.database import database_unavailable

from ..config import Settings
from ..digest.jobs import digest_missed, run_digest, run_retention, send_notices
from ..i18n import N_, gettext_for, match_language
from ..runtime import Runtime
from ..screens import fallback_language
from . import admin, reporter, staff
from .fairness import FairUpdateProcessor
from .intake import DurableQueue
from .profile import publish_profile
from .ratelimit import SharedRateLimiter
from .runtime_access import KEY, attach, runtime_in, runtime_of

log = logging.getLogger(__name__)
Job = Callable[[ContextTypes.DEFAULT_TYPE], Awaitable[None]]
RETENTION_TIME = time(3, 30)
DIGEST_RETRY = timedelta(minutes=2)
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
CONCURRENT_UPDATES = 32
PER_CHAT = 1
"""Updates of one chat run one at a time, in order; the others of that chat wait without taking a slot."""
COUNTERS_EVERY = timedelta(minutes=1)
TAKE_OVER_EVERY = timedelta(seconds=15)
"""How often updates left by an instance that is gone are looked for (several instances on PostgreSQL)."""
SHARE_EVERY = timedelta(seconds=20)
"""How often the instances running are counted, to share Telegram's limits among them."""
OUTAGE_RETRY = timedelta(minutes=1)
"""When the digest, the catch-up at start or retention met a database outage, they are tried again this much
later."""
UNAVAILABLE = N_(
    "Sorry, I cannot save anything right now. Please give your last answer again in a minute: everything you "
    "answered before is kept."
)
"""To a reporter when the database is down or does not answer: in the language Telegram reports, as the one
they chose is stored in the database."""
STAFF_UNAVAILABLE = N_("The database is not answering right now. Please try again in a minute.")


def build_application(settings: Settings, runtime: Runtime | None = None) -> Application:
    """With `runtime` given it is used as is (tests); otherwise it is opened at start and closed at the end."""
    if settings.token is None:
        raise ValueError("TIPBOT_TOKEN is not set")
    builder = (
        Application.builder()
        .token(settings.token.get_secret_value())
        .base_url(settings.api_base_url)
        .base_file_url(settings.api_file_url)
        .rate_limiter(SharedRateLimiter())
        .update_queue(DurableQueue())
        .concurrent_updates(FairUpdateProcessor(CONCURRENT_UPDATES, per_chat=PER_CHAT))
    )
    if runtime is None:
        builder = builder.post_init(_open_runtime(settings)).post_shutdown(_close_runtime)
    application = builder.build()
    if runtime is not None:
        attach(application, runtime)
        schedule_jobs(application, settings)
        open_intake(application, runtime)
    staff.register(application)  # staff and admin handlers come first (their own group): see authorisation.py
    admin.register(application)
    reporter.register(application)
    application.add_error_handler(on_error)
    return application


def _open_runtime(settings: Settings):
    async def post_init(application: Application) -> None:
        runtime = await Runtime.open(settings)
        attach(application, runtime)
        schedule_jobs(application, settings)
        open_intake(application, runtime)
        await replay_intake(application)
        await publish_profile(application.bot, settings.discreet)

    return post_init


def open_intake(application: Application, runtime: Runtime) -> None:
    """From now on every update is recorded until handled (bot/telegram/intake.py)."""
    queue = application.update_queue
    assert isinstance(queue, DurableQueue) and isinstance(application.update_processor, FairUpdateProcessor)
    queue.inbox, queue.scrub = runtime.inbox, runtime.scrubber.after_ending
    application.update_processor.handled = queue.handled


async def replay_intake(application: Application) -> None:
    """At start before new updates, the ones a crash left unhandled; later, those of an instance that is gone."""
    queue = application.update_queue
    assert isinstance(queue, DurableQueue)
    left = await queue.replay(application.bot)
    if left:
        log.info("handling %d update(s) left unhandled by an instance that stopped", left)


async def _close_runtime(application: Application) -> None:
    if KEY in application.bot_data:  # not there when the start failed before it was opened
        if isinstance(application.update_queue, DurableQueue):
            await application.update_queue.forgotten()
        await runtime_in(application).close()


def schedule_jobs(application: Application, settings: Settings) -> None:
    """The daily digest, a catch-up digest if one was missed while the bot was down, retention at night,
    hourly draft expiry, rate counters deleted every minute once their window has passed, and with several
    instances, taking over the updates of one that is gone and sharing Telegram's limits. Every instance has
    every job; the ones that must run once take a lock in the database (storage/coordination.py)."""
    queue = application.job_queue
    assert queue is not None, "python-telegram-bot must be installed with the job-queue extra"
    queue.run_daily(_digest_job, time=settings.digest_time.replace(tzinfo=settings.tz), name="digest")
    queue.run_once(_catch_up_job, when=timedelta(seconds=2), name="catch-up")
    queue.run_daily(_retention_job, time=RETENTION_TIME.replace(tzinfo=settings.tz), name="retention")
    queue.run_repeating(_expire_drafts_job, interval=timedelta(hours=1), first=timedelta(seconds=5), name="drafts")
    queue.run_repeating(_expire_counters_job, interval=COUNTERS_EVERY, first=timedelta(seconds=7), name="counters")
    if runtime_in(application).coordination.shared:
        queue.run_repeating(_take_over_job, interval=TAKE_OVER_EVERY, first=TAKE_OVER_EVERY, name="take-over")
        queue.run_repeating(_share_limits_job, interval=SHARE_EVERY, first=timedelta(seconds=1), name="share-limits")
    reporter.schedule_clearing(application)


def _again_after_outage(job: Job) -> Job:
    """A job that runs once, or once a day, is tried again in OUTAGE_RETRY when the database is unavailable,
    rather than a day later or never (the repeating ones just run at their next time)."""

    @functools.wraps(job)
    async def run(context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            await job(context)
        except Exception as error:
            if not database_unavailable(error):
                raise
            assert context.job_queue is not None and context.job is not None
            name, cause = context.job.name, type(error).__name__
            log.warning("scheduled job %s: the database is unavailable (%s); again in %s", name, cause, OUTAGE_RETRY)
            context.job_queue.run_once(run, when=OUTAGE_RETRY, name=name)

    return run


@_again_after_outage
async def _digest_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    report = await run_digest(runtime_of(context), context.bot, scheduled=True)
    if report.failed_chats:
        log.warning("the digest did not reach every staff chat; trying again in %s", DIGEST_RETRY)
        assert context.job_queue is not None
        context.job_queue.run_once(_digest_job, when=DIGEST_RETRY, name="digest-retry")


@_again_after_outage
async def _catch_up_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    runtime = runtime_of(context)
    await send_notices(runtime, context.bot)
    if await digest_missed(runtime):
        log.info("a digest was missed while the bot was down: sending it now")
        await _digest_job(context)


@_again_after_outage
async def _retention_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    removed = await run_retention(runtime_of(context))
    if removed:
        log.info("retention: deleted %d report(s)", removed)


async def _expire_drafts_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    removed = await runtime_of(context).expire_drafts()
    if removed:
        log.info("expired %d unfinished draft(s)", removed)


async def _expire_counters_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    await runtime_of(context).expire_counters()


async def _take_over_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    await replay_intake(context.application)


async def _share_limits_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    limiter = context.bot.rate_limiter
    if isinstance(limiter, SharedRateLimiter):
        limiter.share(await runtime_of(context).coordination.live_instances())


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure without the update: it holds the reporter's identifiers and words. The update goes no
    further: a staff or admin command that failed is not then handled again as a reporter's.

    A database outage is expected, not a bug: one warning line without a traceback, and whoever is waiting
    is told to try again in a minute (scheduled jobs run again at their next time, see _again_after_outage)."""
    error = context.error
    assert error is not None
    unavailable = database_unavailable(error)
    if not isinstance(update, Update):
        _log_background_failure(context, error, unavailable)
        return
    if unavailable:
        log.warning("handling an update failed: the database is unavailable (%s)", type(error).__name__)
        await _tell_unavailable(update, context)
    else:
        log.error("handling an update failed: %s", type(error).__name__, exc_info=error)
        if update.effective_chat and update.effective_chat.type == "private":
            user = update.effective_user
            _ = gettext_for(match_language(user.language_code if user else None) or "ru")
            await context.bot.send_message(
                update.effective_chat.id, _("Sorry, something went wrong. Please try again in a moment.")
            )
    raise ApplicationHandlerStop


def _log_background_failure(context: ContextTypes.DEFAULT_TYPE, error: Exception, unavailable: bool) -> None:
    what = f"scheduled job {context.job.name}" if context.job else "a background task"
    if unavailable:
        log.warning("%s failed: the database is unavailable (%s)", what, type(error).__name__)
    else:
        log.error("%s failed: %s", what, type(error).__name__, exc_info=error)


async def _tell_unavailable(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A reporter hears it in the language Telegram reports (the one they chose cannot be read now); a staff
    chat named in the settings in the staff language. Other groups hear nothing: whether one was made a staff
    chat with /staff is in the database, and a word in a stranger's group would tell it what the bot is for."""
    chat, user, query = update.effective_chat, update.effective_user, update.callback_query
    settings = runtime_of(context).settings
    text = None
    if chat is not None and chat.type == chat.PRIVATE:
        text = gettext_for(fallback_language(match_language(user.language_code if user else None)))(UNAVAILABLE)
    elif chat is not None and chat.id in settings.staff_chat_ids:
        text = gettext_for(settings.staff_language)(STAFF_UNAVAILABLE)
    try:
        if query is not None:
            await query.answer()
        if chat is not None and text is not None:
            await context.bot.send_message(chat.id, text)
    except TelegramError as sending:
        log.warning("could not say that the database is unavailable (%s)", type(sending).__name__)
