"""The built pages and feeds of one web process: a bounded, least-recently-used map from a
page's key (e.g. "item:12", "feed:all:atom") to its Built response.

Why memory: a request must be answered without touching the database, and reading bytes from
a table or a file costs a query or a system call per request; a page is a few to a few hundred
kilobytes, so the hot set of even a busy site fits in the bound (config [web.public]
cache_bytes), and what falls out is rebuilt on its next request. Every process builds its own
copy: the bytes are deterministic, so every process serves the same bytes and ETags.

A key is built once per generation: concurrent requests for a key being built wait for that
one build. invalidate() starts a new generation (the site changed): later requests build
afresh, and a build that started before it is handed to its waiters but not kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from bot.site.built import Built

log = logging.getLogger(__name__)

# What a builder returns: the response, and whether it may be kept (a 404 for an id that
# does not exist is not kept: anyone can ask for any number of them).
Result = tuple[Built, bool]
Builder = Callable[[], Awaitable[Result]]


class SiteCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.generation = 0
        self.size = 0
        self._entries: OrderedDict[str, Built] = OrderedDict()
        self._building: dict[tuple[str, int], asyncio.Future[Built]] = {}
        self.builds = 0  # counters for /metrics and tests
        self.hits = 0

    def __len__(self) -> int:
        return len(self._entries)

    def peek(self, key: str) -> Built | None:
        return self._entries.get(key)

    def hit(self, key: str) -> Built | None:
        """The built page for key if it is held (a request's whole work on the hot path)."""
        built = self._entries.get(key)
        if built is not None:
            self._entries.move_to_end(key)
            self.hits += 1
        return built

    async def get(self, key: str, build: Builder) -> Built:
        built = self.hit(key)
        if built is not None:
            return built
        slot = (key, self.generation)
        pending = self._building.get(slot)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Built] = asyncio.get_running_loop().create_future()
        self._building[slot] = future
        try:
            built, keep = await build()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else must log it
            raise
        finally:
            self._building.pop(slot, None)
        self.builds += 1
        future.set_result(built)
        if keep and slot[1] == self.generation:
            self._put(key, built)
        return built

    def invalidate(self) -> list[str]:
        """Drop every built page (the site changed); the keys that were held, most recently
        used last, so that the caller may build the hot ones again ahead of requests."""
        keys = list(self._entries)
        self.generation += 1
        self._entries.clear()
        self.size = 0
        return keys

    def _put(self, key: str, built: Built) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self.size -= old.size
        if built.size > self.max_bytes:
            return
        self._entries[key] = built
        self.size += built.size
        while self.size > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self.size -= dropped.size
