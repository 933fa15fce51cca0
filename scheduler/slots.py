"""Once-per-slot runs for the whole deployment: before a job runs for a time slot it inserts a
JobSlot row keyed by (job, slot); the unique constraint decides which process runs it, so
several processes (each with its own scheduler) never run it twice.

A run a shutdown has to cancel is marked interrupted. A process that dies after taking a slot
leaves that slot unrun; the jobs that use slots work
from the state of the data (what is overdue now), so the next slot catches up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from bot.models import JobSlot

log = logging.getLogger(__name__)


def slot_of(now: datetime, seconds: float) -> str:
    """The slot `now` falls in for a job run every `seconds`: the slot's start in UTC, counted
    from the Unix epoch, so every process computes the same slot."""
    step = max(1, int(seconds))
    start = int(now.timestamp()) // step * step
    return datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def run_once_per_slot(
    job: str,
    slot: str,
    owner: str,
    work: Callable[[], Awaitable[dict[str, Any]]],
) -> dict[str, Any] | None:
    """Run `work` if this process is the first to take (job, slot); None when another did."""
    try:
        row = await JobSlot.create(job=job, slot=slot, owner=owner, started_at=datetime.now(UTC))
    except IntegrityError:
        return None
    try:
        result = await work()
    except asyncio.CancelledError:
        # Stopped by a shutdown past its grace period: the row says so rather than looking
        # like a run still in progress. (The next slot catches up from the data.)
        await JobSlot.filter(id=row.id).update(
            finished_at=datetime.now(UTC), result={"interrupted": "shutdown"}
        )
        raise
    except Exception as exc:
        await JobSlot.filter(id=row.id).update(
            finished_at=datetime.now(UTC), result={"error": f"{type(exc).__name__}: {exc}"}
        )
        raise
    await JobSlot.filter(id=row.id).update(finished_at=datetime.now(UTC), result=result)
    return result
