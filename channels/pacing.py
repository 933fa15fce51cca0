"""Pacing: rate limits so each channel keeps to its own rate.

RateLimiter is what the dispatcher asks of a limit: wait for a turn, and let go of what it
holds. TokenBucket keeps the state in this process (the default, and what a channel uses to
pace its own polls and replies); bot/outbox/redis_state.py's RedisRateLimiter shares one limit
among every process (when [redis] is configured).
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class RateLimiter(Protocol):
    async def acquire(self) -> None:
        """Wait until one more call is allowed."""

    async def aclose(self) -> None:
        """Release what the limiter holds (connections); it may be used again after."""


class TokenBucket:
    """A token bucket in this process: `rate` calls a second, bursts of up to `burst`."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)

    async def aclose(self) -> None:
        return None  # nothing held outside this object
