"""The shared WeChat access token: read from a store every process sees, refreshed ahead of
expiry by one caller at a time (an asyncio.Lock in a process, the store's lock across
processes), and replaced once when WeChat says it is invalid.

The store is a small protocol (bot/outbox/channel_state.py implements it on ChannelState); the
token comes from cgi-bin/stable_token, whose normal mode does not invalidate the token another
process holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

TOKEN_KEY = "wechat.token"


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
    ) -> None:
        self.store = store
        self.fetch = fetch
        self.owner = owner
        self.margin = timedelta(seconds=margin_seconds)
        self.lock_seconds = lock_seconds
        self.key = key
        self._lock = asyncio.Lock()
        self.fetches = 0  # how many times this process asked WeChat (for logs and tests)

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

    async def replace(self, bad: str) -> str:
        """WeChat refused `bad`: a new token, unless another caller has already replaced it."""
        async with self._lock:
            return await self._refresh(force=True, bad=bad)

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
                    value, expires_in = await self.fetch(force)
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
