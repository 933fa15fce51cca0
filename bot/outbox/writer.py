"""Outcomes of deliveries written in batches: the dispatcher's workers hand each outcome to one
OutcomeWriter, which gathers those finishing within a few milliseconds into one Outbox.apply
(one transaction for many deliveries)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.outbox.store import LeaseLost, Outbox, Outcome

log = logging.getLogger(__name__)


class OutcomeWriter:
    """Gathers outcomes from many in-flight deliveries and writes them with Outbox.apply in
    batches: whatever arrived while the previous batch was being written goes in the next."""

    def __init__(self, outbox: Outbox, max_batch: int = 200, gather_seconds: float = 0.005) -> None:
        self.outbox = outbox
        self.max_batch = max_batch
        self.gather_seconds = gather_seconds
        self._queue: asyncio.Queue[tuple[Outcome, asyncio.Future[None]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-writer")

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def submit(self, outcome: Outcome) -> None:
        """Queue an outcome and wait until it is written; LeaseLost if it was not ours."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put((outcome, future))
        await asyncio.shield(future)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            # Let deliveries finishing at about the same time join this batch: a few
            # milliseconds of latency buy one transaction for many outcomes.
            deadline = asyncio.get_running_loop().time() + self.gather_seconds
            while len(batch) < self.max_batch:
                if self._queue.empty():
                    remaining = deadline - asyncio.get_running_loop().time()
                    if remaining <= 0:
                        break
                    try:
                        batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                    except TimeoutError:
                        break
                else:
                    batch.append(self._queue.get_nowait())
            try:
                lost = await self.outbox.apply([o for o, _ in batch])
            except Exception as exc:  # e.g. the database is briefly unavailable
                log.exception("writing %d delivery outcomes failed", len(batch))
                # The leases run out and other attempts take the deliveries over.
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for outcome, future in batch:
                    if future.done():
                        continue
                    if outcome.delivery.id in lost:
                        future.set_exception(LeaseLost(outcome.delivery.id))
                    else:
                        future.set_result(None)
            finally:
                for _ in batch:
                    self._queue.task_done()
