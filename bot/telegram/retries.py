"""Calls to Telegram on a reporter's behalf, tried again when Telegram or the network failed on the way.

A 5xx answer, a time-out or a dropped connection says nothing about the request itself, so it is sent again
after a short pause that doubles each time, a few times at most; a refusal (400 Bad Request, 403 Forbidden) is
final. A time-out may hide a message that did arrive: a reporter then sees a screen twice, which is better than
not at all. Flood limits (429) are waited out by the rate limiter before this is reached.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram.error import BadRequest, NetworkError

log = logging.getLogger(__name__)
ATTEMPTS = 4
FIRST_PAUSE = 0.5
"""Seconds before the second attempt; then 1 s and 2 s, so a reporter waits at most a few seconds."""
T = TypeVar("T")


async def retried(call: Callable[[], Awaitable[T]], what: str) -> T:
    """`call()`, tried up to ATTEMPTS times while the failure is Telegram's or the network's. `what` names the
    call in the log (never its contents)."""
    for attempt in range(1, ATTEMPTS):
        try:
            return await call()
        except BadRequest:
            raise
        except NetworkError as error:
            log.info("%s failed (%s); trying again (%d of %d)", what, type(error).__name__, attempt + 1, ATTEMPTS)
            await asyncio.sleep(FIRST_PAUSE * 2 ** (attempt - 1))
    return await call()
