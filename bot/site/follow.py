"""Keep a web process's built pages in step with the site version (bot/site/version.py).

On PostgreSQL a connection of its own LISTENs to gongkai_site: a notification (sent at the
commit of a change) makes the process read the version and, if it moved, drop its built pages.
When that connection is lost, the follower reconnects and drops everything (changes may have
been missed meanwhile). It also reads the version every `poll_seconds` as a safety net. On
SQLite (one machine, possibly several processes) the poll is the signal: a read of one row by
its key, off the request path.

After a change, the pages that were built are built again in the background, most recently
used first, so that the next readers of a hot page find it ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.site import version
from bot.site.cache import SiteCache

log = logging.getLogger(__name__)
REWARM = 200  # pages built again after a change, most recently used first
RETRY_SECONDS = 1.0  # at most this long between attempts while the database is away


class Follower:
    def __init__(
        self,
        cache: SiteCache,
        poll_seconds: float,
        listen_params: dict[str, Any] | None,
        rebuild: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.cache = cache
        self.poll_seconds = poll_seconds
        self.listen_params = listen_params  # asyncpg.connect() arguments; None: poll only
        self.rebuild = rebuild
        self.seen: int | None = None
        self.changed = asyncio.Event()  # set by a notification
        self.resyncs = 0  # full resynchronisations (start and every reconnect)
        self._warming: asyncio.Task[None] | None = None
        self._pending: list[str] = []

    async def run(self) -> None:
        """Follow until cancelled. A lost listener reconnects at once; a failure (the database
        away) is logged and retried within a second or the poll interval, whichever is
        shorter. Every start over is a full resynchronisation."""
        while True:
            try:
                if self.listen_params is None:
                    await self.resync()
                    await self._poll_forever()
                else:
                    await self._listen()  # returns when the connection is lost
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("following site changes failed (%s); starting over", exc)
                await self._check_quietly()  # the listener may be away while queries work
            await self._wait(min(self.poll_seconds, RETRY_SECONDS))

    async def resync(self) -> None:
        """Drop every built page and take the version now committed as seen."""
        self.seen = await version.current()
        self.resyncs += 1
        self._after_change(self.cache.invalidate())

    async def check(self) -> bool:
        """Read the version; drop the built pages if it moved. True if it did."""
        now = await version.current()
        if now == self.seen:
            return False
        self.seen = now
        self._after_change(self.cache.invalidate())
        return True

    async def _check_quietly(self) -> None:
        try:
            await self.check()
        except Exception as exc:  # the database is away too: keep serving what is built
            log.warning("reading the site version failed (%s)", exc)

    def _notified(self, *_: object) -> None:
        """A change was committed: what is built is stale from now on; check() reads the
        version after (the notification may arrive before the pool can answer)."""
        self._after_change(self.cache.invalidate())
        self.changed.set()

    async def _listen(self) -> None:
        import asyncpg

        assert self.listen_params is not None
        conn = await asyncpg.connect(**self.listen_params)
        lost = asyncio.Event()
        try:

            def on_lost(*_: object) -> None:
                log.warning("site change listener lost; reconnecting")
                lost.set()
                self.changed.set()  # wake the loop below

            conn.add_termination_listener(on_lost)
            await conn.add_listener(version.CHANNEL, self._notified)
            await self.resync()  # whatever changed before LISTEN took effect
            while not lost.is_set() and not conn.is_closed():
                await self._wait(self.poll_seconds)
                await self.check()
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    async def _poll_forever(self) -> None:
        while True:
            await self._wait(self.poll_seconds)
            await self.check()

    async def _wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.changed.wait(), seconds)
        self.changed.clear()

    def _after_change(self, keys: list[str]) -> None:
        """Build the pages that were held again, most recently used first. A warm-up already
        running takes the new list when it moves on (it is never cancelled: readers may be
        waiting for the page it is building)."""
        if self.rebuild is None or not keys:
            return
        self._pending = list(reversed(keys))[:REWARM]
        if self._warming is None or self._warming.done():
            self._warming = asyncio.create_task(self._warm())

    async def _warm(self) -> None:
        assert self.rebuild is not None
        while self._pending:
            key = self._pending.pop(0)
            try:
                await self.rebuild(key)
            except Exception:
                log.exception("building %s again after a site change failed", key)

    async def aclose(self) -> None:
        if self._warming is not None:
            self._warming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._warming
