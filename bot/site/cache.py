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
        self._building: dict[tuple[str, int], asyncio.Task[Built]] = {}
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
        task = self._building.get(slot)
        if task is None:
            # The build runs as a task of its own: a reader who leaves (its handler cancelled)
            # cancels neither the build nor the other readers waiting for it.
            task = asyncio.get_running_loop().create_task(self._build(key, slot, build))
            self._building[slot] = task
        return await asyncio.shield(task)

    async def _build(self, key: str, slot: tuple[str, int], build: Builder) -> Built:
        try:
            built, keep = await build()
        finally:
            self._building.pop(slot, None)
        self.builds += 1
        if keep and slot[1] == self.generation:
            self._put(key, built)
        return built

    async def aclose(self) -> None:
        """Stop the builds in progress (the app is stopping)."""
        tasks = list(self._building.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

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
            self.size -= _cost(old)
        if _cost(built) > self.max_bytes:
            return
        self._entries[key] = built
        self.size += _cost(built)
        while self.size > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self.size -= _cost(dropped)


def _cost(built: Built) -> int:
    """Memory a built page holds: its bodies, and about a kilobyte per coding for the key and
    the header dictionaries."""
    return built.size + 1024 * len(built.variants)
