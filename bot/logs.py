"""Logging that cannot leak who a reporter is: identifiers and the token are masked in every record."""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

_LONG_NUMBER = re.compile(r"(?<![\w.])-?\d{6,}(?![\w.])")
_USERNAME = re.compile(r"(?<!\w)@[A-Za-z][A-Za-z0-9_]{3,}")
_BOT_TOKEN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
_PERSONAL_FIELD = re.compile(
    r"""(['"]?(?:first_name|last_name|username|phone_number|title|text|caption)['"]?\s*[:=]\s*)(['"]).*?(?<!\\)\2"""
)


class RedactingFilter(logging.Filter):
    """Masks bot tokens, long numbers (chat, user and message ids, phones), @usernames and the values
    of personal fields; drops python-telegram-bot's DEBUG records, which are whole update payloads."""

    def __init__(self, secrets: tuple[str, ...] = ()):
        super().__init__()
        self._secrets = tuple(secret for secret in secrets if secret)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[secret]")
        text = _BOT_TOKEN.sub("[token]", text)
        text = _PERSONAL_FIELD.sub(r"\1\2[redacted]\2", text)
        text = _LONG_NUMBER.sub("[number]", text)
        return _USERNAME.sub("@[user]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("telegram") and record.levelno < logging.INFO:
            return False
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = self.redact(message), None
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def configure_logging(level: str = "INFO", secrets: tuple[str, ...] = (), stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in (
        "httpx",
        "httpcore",
        "apscheduler",
        "telegram.ext.Updater",
        "aiosqlite",
        "asyncio",
        "alembic",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
