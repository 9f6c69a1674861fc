"""Telegram's flood limits shared by the instances running: each instance would otherwise allow itself the
whole 30 messages a second and 20 a minute per group, and together they would be throttled by Telegram."""

from __future__ import annotations

from aiolimiter import AsyncLimiter
from telegram import constants
from telegram.ext import AIORateLimiter

OVERALL = constants.FloodLimit.MESSAGES_PER_SECOND
PER_GROUP = constants.FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP
RETRIES = 3
"""A request Telegram answers with "retry after" is tried again this many times."""


class SharedRateLimiter(AIORateLimiter):
    """PTB's rate limiter, whose limits are Telegram's divided by the number of instances running now."""

    __slots__ = ("instances",)

    def __init__(self) -> None:
        super().__init__(OVERALL, 1, PER_GROUP, 60, max_retries=RETRIES)
        self.instances = 1

    def share(self, instances: int) -> None:
        """From now on, allow this instance its part of the limits. Requests already waiting keep their place."""
        instances = max(1, instances)
        if instances == self.instances:
            return
        self.instances = instances
        self._base_limiter = AsyncLimiter(max_rate=OVERALL / instances, time_period=1)
        self._group_max_rate = PER_GROUP / instances
        self._group_limiters.clear()

    @property
    def rate(self) -> float:
        """Messages a second this instance allows itself."""
        assert self._base_limiter is not None
        return self._base_limiter.max_rate
