"""Logging that cannot leak who a reporter is.

Every log record is redacted when it is created (a record factory), so no handler, ours or one added
later, ever sees a token, a Telegram id, a username, a name, a phone number, a key or hash, or the values a
failed database statement carried. python-telegram-bot's DEBUG records are whole update payloads: the
`telegram` loggers never go below INFO.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable
from typing import TextIO

_LONG_NUMBER = re.compile(r"(?<![\w.])[-+]?\d{6,}(?![\w.])")
_USERNAME = re.compile(r"(?<!\w)@[A-Za-z][A-Za-z0-9_]{3,}")
_BOT_TOKEN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
_SQL_PARAMETERS = re.compile(r"\[parameters: [^\n]*")
"""SQLAlchemy's error text lists the statement's values on one line (engines also hide them: hide_parameters)."""
_DATABASE_ECHO = re.compile(r"(DETAIL:|invalid input for query argument \$\d+:)[^\n]*")
"""PostgreSQL's detail line repeats a row's values ("Key (key)=(...) already exists", "Failing row contains"),
and asyncpg quotes a value it could not send."""
_HEX = re.compile(r"(?<![0-9A-Za-z])[0-9A-Fa-f]{32,}(?![0-9A-Za-z])")
"""HMAC chat keys, hashes, tip ids and other hex keys: 32 characters or more."""
_BASE64URL = re.compile(r"(?<![\w-])(?=[\w-]*\d)(?=[\w-]*[a-z])(?=[\w-]*[A-Z])[\w-]{32,}(?![\w-])", re.ASCII)
"""Random secrets (token_urlsafe and the like): 32+ characters mixing digits, lower and upper case, which
names in code and paths of snake_case words do not."""
_PERSONAL_FIELD = re.compile(
    r"""(['"]?(?:first_name|last_name|username|phone_number|title|text|caption)['"]?\s*[:=]\s*)(['"]).*?(?<!\\)\2"""
)
QUIET_LOGGERS = (
    "httpx",
    "httpcore",
    "apscheduler",
    "telegram.ext.Updater",
    "aiosqlite",
    "asyncio",
    "alembic",
    "pikepdf",
)


class Redactor:
    """Masks bot tokens, long numbers (chat, user and message ids, phones), @usernames, the values of
    personal fields, long hex and random-looking strings, and the values database errors repeat."""

    def __init__(self, secrets: tuple[str, ...] = ()):
        self._secrets = tuple(secret for secret in secrets if secret)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[secret]")
        text = _BOT_TOKEN.sub("[token]", text)
        text = _SQL_PARAMETERS.sub("[parameters hidden]", text)
        text = _DATABASE_ECHO.sub(r"\1 [redacted]", text)
        text = _PERSONAL_FIELD.sub(r"\1\2[redacted]\2", text)
        text = _HEX.sub("[hex]", text)
        text = _BASE64URL.sub("[secret]", text)
        text = _LONG_NUMBER.sub("[number]", text)
        return _USERNAME.sub("@[user]", text)


def install_redaction(redact: Redactor) -> None:
    """Redact every record at creation: message, arguments and traceback become one masked text."""
    original = _ORIGINAL_FACTORY

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = original(*args, **kwargs)
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = redact(message), None
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return record

    logging.setLogRecordFactory(factory)


_ORIGINAL_FACTORY: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()


def configure_logging(level: str = "INFO", secrets: tuple[str, ...] = (), stream: TextIO | None = None) -> None:
    install_redaction(Redactor(secrets))
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("telegram").setLevel(max(logging.INFO, logging.getLevelName(level)))
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
