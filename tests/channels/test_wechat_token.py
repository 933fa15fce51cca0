"""channels/wechat/token.py: the refresh races between processes, interleaved by hand.

The store is an in-memory TokenStore shared by two managers (two "processes"); the Redis and
database stores are tested against real servers in tests/outbox/test_redis_state.py and
tests/channels/test_wechat_simulator.py, where the interleaving below happens only by chance.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from channels.wechat.token import TOKEN_KEY, StoredToken, TokenManager


class SharedStore:
    """A TokenStore in memory: one token and one lock, as Redis or the database hold them."""

    def __init__(self) -> None:
        self.token: StoredToken | None = None
        self.owner = ""

    async def read(self, key: str) -> StoredToken | None:
        return self.token

    async def try_lock(self, key: str, owner: str, seconds: float) -> bool:
        if self.owner not in ("", owner):
            return False
        self.owner = owner
        return True

    async def write(self, key: str, token: StoredToken, owner: str) -> None:
        self.token, self.owner = token, ""

    async def unlock(self, key: str, owner: str) -> None:
        if self.owner == owner:
            self.owner = ""

    async def aclose(self) -> None:
        return None


class PausedAfterRead:
    """The second process's view of the store: its read number `pause_at` answers, then that
    process stalls until `go` is set, as one does that the OS sets aside after a round trip."""

    def __init__(self, store: SharedStore, go: asyncio.Event, pause_at: int) -> None:
        self.store, self.go, self.pause_at, self.reads = store, go, pause_at, 0

    async def read(self, key: str) -> StoredToken | None:
        self.reads += 1
        token = await self.store.read(key)
        if self.reads == self.pause_at:
            await self.go.wait()
        return token

    def __getattr__(self, name: str) -> Any:  # try_lock, write, unlock, aclose: the shared store's
        return getattr(self.store, name)


class Wechat:
    """stable_token as a counter: each call issues the next token."""

    def __init__(self) -> None:
        self.calls: list[bool] = []

    async def fetch(self, force: bool) -> tuple[str, int]:
        self.calls.append(force)
        return f"token-{len(self.calls)}", 7200


async def test_token_written_between_another_process_read_and_lock_is_used_not_fetched() -> None:
    store, go, wechat = SharedStore(), asyncio.Event(), Wechat()
    first = TokenManager(store, wechat.fetch, "proc1")
    # get() looks once before taking its own lock, and again inside the refresh: the second
    # read is the one the lock decision follows.
    second = TokenManager(PausedAfterRead(store, go, pause_at=2), wechat.fetch, "proc2")
    # proc2 reads "no token" and stalls; proc1 fetches, writes and lets go of the lock.
    waiting = asyncio.create_task(second.get())
    await asyncio.sleep(0)
    assert await first.get() == "token-1"
    assert store.owner == ""
    go.set()  # proc2 goes on: the lock is free now, but the token is already there
    assert await waiting == "token-1"
    assert wechat.calls == [False]
    assert store.owner == ""  # the lock it took only to look again is released


async def test_replacement_written_between_another_process_read_and_lock_is_kept() -> None:
    store, go, wechat = SharedStore(), asyncio.Event(), Wechat()
    store.token = StoredToken("bad", datetime.now(UTC) + timedelta(hours=1))
    first = TokenManager(store, wechat.fetch, "proc1")
    second = TokenManager(PausedAfterRead(store, go, pause_at=1), wechat.fetch, "proc2")
    # Both were refused "bad" (40001); proc2 reads it, stalls; proc1 force-refreshes.
    waiting = asyncio.create_task(second.replace("bad"))
    await asyncio.sleep(0)
    assert await first.replace("bad") == "token-1"
    go.set()
    # A second force refresh would invalidate token-1, which proc1 is already using.
    assert await waiting == "token-1"
    assert wechat.calls == [True]
    assert store.token is not None and store.token.value == "token-1"


async def test_a_failed_fetch_releases_the_lock_for_the_next_caller() -> None:
    store = SharedStore()
    calls = 0

    async def flaky(force: bool) -> tuple[str, int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("WeChat unreachable")
        return "token-2", 7200

    manager = TokenManager(store, flaky, "proc1", key=TOKEN_KEY)
    try:
        await manager.get()
    except ConnectionError:
        pass
    else:
        raise AssertionError("the fetch error should reach the caller")
    assert store.owner == ""
    assert await manager.get() == "token-2"
