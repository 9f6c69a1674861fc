"""Building the python-telegram-bot Application: handlers, rate limits, scheduled jobs, errors."""

from __future__ import annotations

import logging
from datetime import time, timedelta

from telegram import Update
from telegram.ext import AIORateLimiter, Application, ApplicationHandlerStop, ContextTypes

from ..config import Settings
from ..digest.jobs import digest_missed, run_digest, run_retention, send_notices
from ..i18n import gettext_for, match_language
from ..runtime import Runtime
from . import admin, reporter, staff
from .fairness import FairUpdateProcessor
from .profile import publish_profile
from .runtime_access import KEY, attach, runtime_in, runtime_of

log = logging.getLogger(__name__)
RETENTION_TIME = time(3, 30)
DIGEST_RETRY = timedelta(minutes=2)
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
CONCURRENT_UPDATES = 32
PER_CHAT = 1
"""Updates of one chat run one at a time, in order; the others of that chat wait without taking a slot."""
COUNTERS_EVERY = timedelta(minutes=1)


def build_application(settings: Settings, runtime: Runtime | None = None) -> Application:
    """With `runtime` given it is used as is (tests); otherwise it is opened at start and closed at the end."""
    if settings.token is None:
        raise ValueError("TIPBOT_TOKEN is not set")
    builder = (
        Application.builder()
        .token(settings.token.get_secret_value())
        .base_url(settings.api_base_url)
        .base_file_url(settings.api_file_url)
        .rate_limiter(AIORateLimiter(max_retries=3))
        .concurrent_updates(FairUpdateProcessor(CONCURRENT_UPDATES, per_chat=PER_CHAT))
    )
    if runtime is None:
        builder = builder.post_init(_open_runtime(settings)).post_shutdown(_close_runtime)
    application = builder.build()
    if runtime is not None:
        attach(application, runtime)
        schedule_jobs(application, settings)
    staff.register(application)  # staff and admin handlers come first (their own group): see authorisation.py
    admin.register(application)
    reporter.register(application)
    application.add_error_handler(on_error)
    return application


def _open_runtime(settings: Settings):
    async def post_init(application: Application) -> None:
        attach(application, await Runtime.open(settings))
        schedule_jobs(application, settings)
        await publish_profile(application.bot, settings.discreet)

    return post_init


async def _close_runtime(application: Application) -> None:
    if KEY in application.bot_data:  # not there when the start failed before it was opened
        await runtime_in(application).close()


def schedule_jobs(application: Application, settings: Settings) -> None:
    """The daily digest, a catch-up digest if one was missed while the bot was down, retention at night,
    hourly draft expiry, and rate counters deleted every minute once their window has passed."""
    queue = application.job_queue
    assert queue is not None, "python-telegram-bot must be installed with the job-queue extra"
    queue.run_daily(_digest_job, time=settings.digest_time.replace(tzinfo=settings.tz), name="digest")
    queue.run_once(_catch_up_job, when=timedelta(seconds=2), name="catch-up")
    queue.run_daily(_retention_job, time=RETENTION_TIME.replace(tzinfo=settings.tz), name="retention")
    queue.run_repeating(_expire_drafts_job, interval=timedelta(hours=1), first=timedelta(seconds=5), name="drafts")
    queue.run_repeating(_expire_counters_job, interval=COUNTERS_EVERY, first=timedelta(seconds=7), name="counters")
    reporter.schedule_clearing(application)


async def _digest_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    report = await run_digest(runtime_of(context), context.bot)
    if report.failed_chats:
        log.warning("the digest did not reach every staff chat; trying again in %s", DIGEST_RETRY)
        assert context.job_queue is not None
        context.job_queue.run_once(_digest_job, when=DIGEST_RETRY, name="digest-retry")


async def _catch_up_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    runtime = runtime_of(context)
    await send_notices(runtime, context.bot)
    if await digest_missed(runtime):
        log.info("a digest was missed while the bot was down: sending it now")
        await _digest_job(context)


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


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure without the update: it holds the reporter's identifiers and words. The update goes no
    further: a staff or admin command that failed is not then handled again as a reporter's."""
    error = context.error
    log.error("handling an update failed: %s", type(error).__name__, exc_info=error)
    if isinstance(update, Update) and update.effective_chat and update.effective_chat.type == "private":
        user = update.effective_user
        _ = gettext_for(match_language(user.language_code if user else None) or "ru")
        await context.bot.send_message(
            update.effective_chat.id, _("Sorry, something went wrong. Please try again in a moment.")
        )
    raise ApplicationHandlerStop
