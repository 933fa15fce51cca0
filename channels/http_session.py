"""The one aiohttp ClientSession a remote channel (or its API client) opens in start() and
closes in close(): one session per channel for all its deliveries, never one per request."""

from __future__ import annotations

import aiohttp


class SessionOwner:
    """Mixin: the owner sets `self.timeout` in its __init__; start() opens the session."""

    timeout: aiohttp.ClientTimeout
    _session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError(f"{type(self).__name__}.start() was not called")
        return self._session
