"""Building the python-telegram-bot Application: handlers, rate limits, scheduled jobs, errors."""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram import Bot, BotCommand, BotCommandScopeAllPrivateChats, Update
from telegram.ext import AIORateLimiter, Application, ContextTypes

from ..config import Settings
from ..conversation import REPORTER_COMMANDS
from ..i18n import LANGUAGES, gettext_for, match_language
from ..runtime import Runtime
from . import reporter, staff
from .runtime_access import attach, runtime_in, runtime_of

log = logging.getLogger(__name__)
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]


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
        .concurrent_updates(32)
    )
    if runtime is None:
        builder = builder.post_init(_open_runtime(settings)).post_shutdown(_close_runtime)
    application = builder.build()
    if runtime is not None:
        attach(application, runtime)
        schedule_jobs(application, settings)
    staff.register(application)
    reporter.register(application)
    application.add_error_handler(on_error)
    return application


def _open_runtime(settings: Settings):
    async def post_init(application: Application) -> None:
        attach(application, await Runtime.open(settings))
        schedule_jobs(application, settings)
        await publish_commands(application.bot)

    return post_init


async def publish_commands(bot: Bot) -> None:
    """The command menu in each language; Russian for Telegram apps set to any other language."""
    for lang in (None, *LANGUAGES):
        _ = gettext_for(lang or "ru")
        commands = [BotCommand(name, _(description)) for name, description in REPORTER_COMMANDS]
        await bot.set_my_commands(commands, scope=BotCommandScopeAllPrivateChats(), language_code=lang)


async def _close_runtime(application: Application) -> None:
    await runtime_in(application).close()


def schedule_jobs(application: Application, settings: Settings) -> None:
    queue = application.job_queue
    assert queue is not None, "python-telegram-bot must be installed with the job-queue extra"
    at = settings.digest_time.replace(tzinfo=settings.tz)
    queue.run_daily(_digest_job, time=at, name="digest")
    queue.run_repeating(_expire_drafts_job, interval=timedelta(hours=1), first=timedelta(seconds=5), name="drafts")


async def _digest_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    await staff.run_digest(context.application, runtime_of(context))


async def _expire_drafts_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    removed = await runtime_of(context).expire_drafts()
    if removed:
        log.info("expired %d unfinished draft(s)", removed)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure without the update: it holds the reporter's identifiers and words."""
    error = context.error
    log.error("handling an update failed: %s", type(error).__name__, exc_info=error)
    if isinstance(update, Update) and update.effective_chat and update.effective_chat.type == "private":
        user = update.effective_user
        _ = gettext_for(match_language(user.language_code if user else None) or "ru")
        await context.bot.send_message(
            update.effective_chat.id, _("Sorry, something went wrong. Please try again in a moment.")
        )
