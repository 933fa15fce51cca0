"""The shared WeChat access token: read from a store every process sees, refreshed ahead of
expiry by one caller at a time (an asyncio.Lock in a process, the store's lock across
processes), and replaced once when WeChat says it is invalid.

The store is a small protocol (bot/outbox/channel_state.py implements it on ChannelState); the
token comes from cgi-bin/stable_token, whose normal mode does not invalidate the token another
process holds. A forced refresh (which does) is spaced at least 30 s apart.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from channels.base import RateLimited

log = logging.getLogger(__name__)
TOKEN_KEY = "wechat.token"
# docs/channels/wechat.md "Frequency rules" (S1 S3: stable_token force_refresh): 20 a day, at
# least 30 s apart ("否则不会刷新").
FORCE_REFRESH_SPACING = 30.0


class RefreshTooSoon(RateLimited):
    """WeChat refused the token and may not be asked for a forced refresh yet."""


@dataclass(frozen=True)
class StoredToken:
    value: str
    expires_at: datetime


class TokenStore(Protocol):
    async def read(self, key: str) -> StoredToken | None:
        """The stored token, or None."""

    async def try_lock(self, key: str, owner: str, seconds: float) -> bool:
        """Take the refresh lock for `seconds` unless someone else holds it."""

    async def write(self, key: str, token: StoredToken, owner: str) -> None:
        """Store a new token and release the lock."""

    async def unlock(self, key: str, owner: str) -> None:
        """Release the lock without a new token (the refresh failed)."""

    async def aclose(self) -> None:
        """Release what the store holds (connections); it may be used again after."""


# fetch(force_refresh) -> (access_token, expires_in seconds)
Fetch = Callable[[bool], Awaitable[tuple[str, int]]]


class TokenManager:
    def __init__(
        self,
        store: TokenStore,
        fetch: Fetch,
        owner: str,
        margin_seconds: float = 300,
        lock_seconds: float = 30,
        key: str = TOKEN_KEY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.fetch = fetch
        self.owner = owner
        self.margin = timedelta(seconds=margin_seconds)
        self.lock_seconds = lock_seconds
        self.key = key
        self._lock = asyncio.Lock()
        self.fetches = 0  # how many times this process asked WeChat (for logs and tests)
        self.clock = clock
        # When this manager last asked for a forced refresh. Per manager, so per process and
        # channel object: the TokenStore protocol has no field for it and processes do not share
        # it. What they do share keeps them from forcing twice for one refused token: a
        # replacement another process has stored is used, not replaced again (_settled).
        self._forced_at: float | None = None

    def _fresh(self, token: StoredToken | None) -> bool:
        return token is not None and token.expires_at - self.margin > datetime.now(UTC)

    @staticmethod
    def _usable(token: StoredToken | None) -> bool:
        return token is not None and token.expires_at > datetime.now(UTC)

    async def get(self) -> str:
        """A valid token, refreshed first if it is about to expire."""
        token = await self.store.read(self.key)
        if token is not None and self._fresh(token):
            return token.value
        async with self._lock:
            return await self._refresh(force=False, bad=None)

    async def replace(self, bad: str, force: bool = True) -> str:
        """WeChat refused `bad`: a new token, unless another caller has already replaced it.

        force=False asks stable_token in normal mode (enough for an expired token: it returns
        the live one [S1]). A forced refresh is made at most once per 30 s; within that time, or
        when WeChat refuses it, normal mode is asked, and if it returns `bad` again this raises
        RefreshTooSoon (RateLimited) with the seconds to wait."""
        async with self._lock:
            return await self._refresh(force=force, bad=bad)

    def _settled(self, token: StoredToken | None, bad: str | None) -> bool:
        """Whether `token` answers the caller: a replacement of `bad`, or (no bad token) one
        still fresh; and in either case not expired."""
        if token is None or not self._usable(token):
            return False
        return token.value != bad if bad is not None else self._fresh(token)

    async def _refresh(self, force: bool, bad: str | None) -> str:
        deadline = asyncio.get_running_loop().time() + self.lock_seconds * 2
        while True:
            token = await self.store.read(self.key)
            if self._settled(token, bad):
                assert token is not None
                return token.value
            if await self.store.try_lock(self.key, self.owner, self.lock_seconds):
                # Read again under the lock: another process may have written a new token and
                # let go of the lock between our read and our lock (fetching then would spend
                # a second call of the daily quota, or force-replace the token it just wrote).
                try:
                    token = await self.store.read(self.key)
                    if self._settled(token, bad):
                        assert token is not None
                        await self.store.unlock(self.key, self.owner)
                        return token.value
                    value, expires_in = await self._fetch(force, bad)
                except BaseException:
                    await self.store.unlock(self.key, self.owner)
                    raise
                self.fetches += 1
                fresh = StoredToken(value, datetime.now(UTC) + timedelta(seconds=expires_in))
                await self.store.write(self.key, fresh, self.owner)
                return value
            # Another process is refreshing: keep using a still-valid token, or wait for it.
            if bad is None and token is not None and self._usable(token):
                return token.value
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("another process held the token lock too long")
            await asyncio.sleep(0.1)

    async def _fetch(self, force: bool, bad: str | None) -> tuple[str, int]:
        if not force:
            return await self.fetch(False)
        wait = FORCE_REFRESH_SPACING
        if self._forced_at is not None:
            wait = self._forced_at + FORCE_REFRESH_SPACING - self.clock()
        if self._forced_at is None or wait <= 0:
            self._forced_at = self.clock()
            try:
                return await self.fetch(True)
            except RateLimited as exc:  # 45011 within 30 s of another's, 45009 after 20 a day
                log.warning("wechat stable_token: forced refresh refused: %s", exc)
                wait = exc.retry_after or FORCE_REFRESH_SPACING
        # Normal mode: the live token, a new one if the refused one was replaced or expired.
        value, expires_in = await self.fetch(False)
        if value == bad:
            raise RefreshTooSoon(
                "微信拒绝了当前 access_token，而强制刷新每 30 秒至多一次、每天至多 20 次，"
                f"约 {math.ceil(wait)} 秒后重试。",
                wait,
            )
        return value, expires_in
