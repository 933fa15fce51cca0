"""Hand the followers' messages the WeChat callback stored to the inbox (triage runs there).

The callback request only stores the ChannelEvent row and answers; a MessageRelay takes the
rows on to the inbox, in one of two ways:

- beside the callback, in the same process (`gongkai run --role all`, the default): the
  request puts the row's id on a bounded in-memory queue and the relay's tasks take it within
  moments, waiting for a pause in the callback requests first (answering WeChat comes first);
  a recovery sweep takes the rows the queue could not (full, or a crash);
- in the worker processes, when `channels.wechat.callback.relay_in_workers` is set: the web
  processes then only store and answer (no triage at all, so their answers to WeChat stay
  cheap however busy the inbox is), and the worker holding the "wechat.relay" lease (one at a
  time; another takes over when it lapses) sweeps every unhandled row every
  `worker_poll_seconds`.

Nothing is lost either way: a row is unhandled until the inbox has the comment, and every start
takes what is unhandled. Two relays meeting on one row is harmless (the inbox deduplicates).

For a text message the auto-reply did not answer, the relay also queues the public search's top
three links as a customer-service message ([channels.wechat.callback] follow_up_links,
bot/wechat/follow_up.py); the reply sender sends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

from bot.config import Config, WechatCallbackConfig
from bot.models import ChannelEvent
from bot.outbox.channel_state import hold_lease, release_lease
from bot.outbox.claim import lease_owner
from bot.wechat.events import InboxPort, process_messages, unhandled_messages
from bot.wechat.follow_up import FollowUps

log = logging.getLogger(__name__)
STOP_GRACE_SECONDS = 5.0
RETRY_FIRST_SECONDS, RETRY_MAX_SECONDS = 30.0, 3600.0  # a failing row's waits
LEASE = "wechat.relay"  # the ChannelState row whose holder polls (relay_in_workers)


class MessageRelay:
    def __init__(
        self,
        config: Config,
        inbox: InboxPort,
        author_key: bytes,
        beside_callback: bool = True,
        quiet: asyncio.Event | None = None,
        owner: str = "",
    ) -> None:
        self.config = config
        self.inbox = inbox
        self.author_key = author_key
        # The search's links for a message the auto-reply did not answer (None: not sent)
        self.follow_ups = FollowUps.from_config(config)
        self.beside_callback = beside_callback
        self.owner = owner or lease_owner("relay")
        # Set while no callback request is in progress in this process (None: never waits)
        self.quiet = quiet
        self.queue: asyncio.Queue[int] = asyncio.Queue(self.settings.queue_size)
        self.tasks: list[asyncio.Task[None]] = []
        # Rows a task of this process is handling now (the queue and the sweep may meet)
        self.inflight: set[int] = set()
        self.overflowing = False  # the queue was full at the last message (warned once)
        # Rows whose step failed: (failures so far, monotonic time of the next try)
        self.failures: dict[int, tuple[int, float]] = {}

    @property
    def settings(self) -> WechatCallbackConfig:
        return self.config.channels.wechat.callback

    def enqueue(self, event_id: int) -> None:
        """A row the callback just stored (beside the callback only)."""
        try:
            self.queue.put_nowait(event_id)
            self.overflowing = False
        except asyncio.QueueFull:
            # The row is stored: the recovery sweep takes it; WeChat is not asked to retry.
            if not self.overflowing:
                log.warning("wechat callback queue full: messages left for the recovery sweep")
            self.overflowing = True

    async def yield_to_requests(self) -> None:
        """Wait until no callback request is in progress, at most defer_max_seconds: WeChat's
        5-second answer comes first, and in a burst the messages that queue up meanwhile go to
        the inbox together, far cheaper than one by one. Under sustained overload the inbox
        still gets a batch every defer_max_seconds (and the sweep takes what overflows)."""
        if self.quiet is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.quiet.wait(), self.settings.defer_max_seconds)

    async def wait_idle(self) -> None:
        """Until every queued message has been through the background step."""
        await self.queue.join()

    async def handle(
        self, event_ids: list[int], rows: Sequence[ChannelEvent] | None = None
    ) -> None:
        """The background step for these rows (those not handled yet), in one batch; if the
        batch fails, one by one, so one bad message does not hold back the others. A row
        that failed waits before its next try (RETRY_FIRST_SECONDS, doubling up to
        RETRY_MAX_SECONDS), so it neither floods the log nor slows every sweep.

        `rows`: the rows of event_ids as a sweep has just read them unhandled, so they are not
        read again (should another relay have handled one since, the inbox stores its comment
        once and its auto-reply note is written once)."""
        now = time.monotonic()
        ids = [
            i
            for i in event_ids
            if i not in self.inflight and self.failures.get(i, (0, 0.0))[1] <= now
        ]
        self.inflight.update(ids)
        try:
            if rows is None:
                # Unhandled only: a sweep (here or in another process) may have got there first.
                rows = await ChannelEvent.filter(id__in=ids, handled_at=None).order_by("id")
            else:
                taken = set(ids)
                rows = [row for row in rows if row.id in taken]
            try:
                await process_messages(rows, self.inbox, self.author_key, self.follow_ups)
            except Exception:
                if len(rows) == 1:
                    self._failed(rows[0].id)
                    raise
                for row in rows:
                    try:
                        await process_messages([row], self.inbox, self.author_key, self.follow_ups)
                    except Exception:
                        # Left unhandled in the database: a later sweep tries it again.
                        log.exception("wechat callback: event %s not handed to the inbox", row.id)
                        self._failed(row.id)
                    else:
                        self.failures.pop(row.id, None)
            else:
                for row in rows:
                    self.failures.pop(row.id, None)
        finally:
            self.inflight.difference_update(ids)

    def _failed(self, event_id: int) -> None:
        count = self.failures.get(event_id, (0, 0.0))[0] + 1
        wait = min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2 ** (count - 1))
        self.failures[event_id] = (count, time.monotonic() + wait)

    async def sweep(
        self, older_than: datetime | None, keep: Callable[[], Awaitable[bool]] | None = None
    ) -> int:
        """Hand unhandled message rows (stored at or before older_than; all when None) to
        the inbox now, oldest first; returns how many rows it took. A row that fails stays
        unhandled for the next sweep. `keep`, asked before each batch after the first: false
        stops the sweep (a worker that lost the relay lease to another)."""
        after, seen = 0, 0
        while rows := await unhandled_messages(older_than, self.settings.batch_size, after):
            if seen and keep is not None and not await keep():
                break
            await self.yield_to_requests()
            try:
                await self.handle([row.id for row in rows], rows)
            except Exception:
                log.exception("wechat callback: recovery sweep failed at event %s", rows[0].id)
            seen += len(rows)
            after = rows[-1].id
        return seen

    async def _work(self) -> None:
        batch = self.settings.batch_size
        while True:
            ids = [await self.queue.get()]
            await self.yield_to_requests()
            while len(ids) < batch and not self.queue.empty():
                ids.append(self.queue.get_nowait())
            try:
                await self.handle(ids)
            except Exception:
                log.exception("wechat callback: events %s not handed to the inbox", ids)
            finally:
                for _ in ids:
                    self.queue.task_done()

    async def _recover(self) -> None:
        """Beside the callback: the rows the queue could not take, every recover_interval."""
        cfg = self.settings
        while True:
            await asyncio.sleep(cfg.recover_interval_seconds)
            try:
                await self.sweep(datetime.now(UTC) - timedelta(seconds=cfg.recover_after_seconds))
            except Exception:
                log.exception("wechat callback: recovery sweep failed")

    async def _poll(self) -> None:
        """In a worker: every unhandled row every worker_poll_seconds, while this worker holds
        the relay lease (three polls long, at least 10 s). It is renewed at each poll, and
        every poll's time during a long sweep (a backlog of minutes after a burst): a lease
        lapsing mid-sweep let a second worker sweep the same rows from the start beside it."""
        poll = self.settings.worker_poll_seconds
        ttl = max(3 * poll, 10)
        renewed = 0.0

        async def keep() -> bool:
            """Hold the lease: taken or renewed once a poll's time has passed since the last."""
            nonlocal renewed
            if time.monotonic() - renewed < poll:
                return True
            renewed = time.monotonic()
            return await hold_lease(LEASE, self.owner, ttl)

        while True:
            renewed = 0.0  # each poll starts by taking or renewing it
            try:
                if await keep():
                    await self.sweep(None, keep)
            except Exception:
                log.exception("wechat relay: poll failed")
            await asyncio.sleep(poll)

    async def start(self) -> None:
        if not self.beside_callback:
            self.tasks = [asyncio.create_task(self._poll())]
            return
        # What an earlier life of this process (or a full queue) left unhandled goes first;
        # beyond the queue's size the periodic sweep takes it.
        for row in await unhandled_messages(None, self.settings.queue_size):
            self.enqueue(row.id)
        loops = [self._work() for _ in range(self.settings.workers)]
        loops.append(self._recover())
        self.tasks = [asyncio.create_task(loop) for loop in loops]

    async def stop(self) -> None:
        # Whatever is not handled stays unhandled in the database and the next start (here
        # or in another process) takes it: beside the callback the queue gets a short grace,
        # a worker's polling stops at once.
        if self.beside_callback:
            grace = min(self.config.dispatcher.shutdown_grace_seconds, STOP_GRACE_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.queue.join(), grace)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []
        if not self.beside_callback:  # another worker takes over at once
            with contextlib.suppress(Exception):
                await release_lease(LEASE, self.owner)
