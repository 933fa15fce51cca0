"""Waiting for something to happen in a test: poll a condition until it holds, with a deadline,
instead of sleeping a fixed time and hoping it has happened by then (too short on a loaded
machine, too long everywhere else)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

T = TypeVar("T")


async def wait_until(
    predicate: Callable[[], T | Awaitable[T]],
    seconds: float = 10.0,
    what: str = "the condition",
    interval: float = 0.02,
) -> T:
    """The predicate's first truthy answer (it may be a coroutine function); an AssertionError
    naming `what` if there is none within `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        await asyncio.sleep(interval)


async def sleep_until(moment: datetime) -> None:
    """Until `moment` (an aware datetime such as a delivery's next_attempt_at) has passed:
    exactly as long as the state says, not a guess."""
    delay = (moment - datetime.now(UTC)).total_seconds()
    if delay > 0:
        await asyncio.sleep(delay + 0.01)
