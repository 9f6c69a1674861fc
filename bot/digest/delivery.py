"""Sending one message to a staff chat, retrying what Telegram or the network refused for a moment.

Flood control (429) is already waited out by PTB's AIORateLimiter; what reaches here is a 429 it gave up
on, a 5xx, a timeout or a dropped connection. A request Telegram rejects as wrong (400, 403) is not
retried: it would fail the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

log = logging.getLogger(__name__)
T = TypeVar("T")


async def send_reliably(call: Callable[[], Awaitable[T]], attempts: int = 6, pause: float = 1.0) -> T:
    """`call()` until it succeeds, waiting longer after each transient failure; the last failure is raised."""
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except (BadRequest, Forbidden, InvalidToken):
            raise
        except RetryAfter as error:
            if attempt == attempts:
                raise
            await asyncio.sleep(_seconds(error.retry_after))
        except (TimedOut, NetworkError) as error:
            if attempt == attempts:
                raise
            log.info("sending failed (%s), trying again", type(error).__name__)
            await asyncio.sleep(pause * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def _seconds(retry_after) -> float:
    return retry_after.total_seconds() if hasattr(retry_after, "total_seconds") else float(retry_after)
