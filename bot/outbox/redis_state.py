"""State every process shares through Redis when [redis] is configured: the WeChat access token
with its refresh lock (channels.wechat.token.TokenStore) and each channel's rate limit
(channels.pacing.RateLimiter), one limit for the whole deployment instead of one per process.

Each operation is one round trip, atomic on the server (a Lua script): the rate limit is a
GCRA reservation on Redis's own clock, so processes on different hosts agree on it without
agreeing on the time. A Redis that cannot be reached raises RedisStateError, a TransientError:
the delivery that needed it is retried later like any passing failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.config import Config, RedisConfig
from channels.base import TransientError
from channels.wechat.token import StoredToken

T = TypeVar("T")

# Reserve the next turn: the caller waits the answer (microseconds), then calls.
# ARGV: emission interval (µs), tolerance (µs: (burst - 1) × interval).
_RESERVE = """
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local wait = tat - tolerance - now
if wait < 0 then wait = 0 end
local nxt = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', nxt), 'PX',
           math.floor((nxt - now) / 1000) + 1000)
return math.floor(wait)
"""

# Take the lock unless another owner holds it (ours: extended). ARGV: owner, milliseconds.
_LOCK = """
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if current then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

# Release the lock only if it is still ours.
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Store the token (kept a minute past its expiry) and release our lock, in one step.
# KEYS: token hash, lock. ARGV: value, expires_at (epoch s), keep (ms), owner.
_WRITE = """
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'expires_at', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if redis.call('GET', KEYS[2]) == ARGV[4] then redis.call('DEL', KEYS[2]) end
return 1
"""


class RedisStateError(TransientError):
    """Redis did not answer (or refused): the shared token or rate limit is unavailable now."""


def connect(cfg: RedisConfig, password: str | None = None) -> aioredis.Redis:
    """A client for [redis] url (connections are opened on first use, closed by aclose())."""
    return aioredis.Redis.from_url(
        cfg.url,
        password=password or None,
        socket_timeout=cfg.timeout_seconds,
        socket_connect_timeout=cfg.timeout_seconds,
        decode_responses=True,
    )


def client_for(config: Config) -> aioredis.Redis | None:
    """The Redis client the configuration asks for, or None when [redis] url is empty."""
    cfg = config.redis
    if not cfg.enabled:
        return None
    return connect(cfg, config.secret(cfg.password_env) if cfg.password_env else None)


async def _guard(what: str, call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except RedisError as exc:
        raise RedisStateError(f"共享状态服务（Redis）暂时不可用（{what}）：{exc}") from exc


class RedisTokenStore:
    """channels.wechat.token.TokenStore in Redis: a hash with the token and its expiry, and a
    lock key that expires by itself if its holder dies while refreshing."""

    def __init__(self, client: aioredis.Redis, prefix: str = "gongkai:") -> None:
        self.client = client
        self.prefix = prefix
        self._lock = client.register_script(_LOCK)
        self._unlock = client.register_script(_UNLOCK)
        self._write = client.register_script(_WRITE)

    def _keys(self, key: str) -> tuple[str, str]:
        # One hash tag, so both keys live on the same node of a Redis Cluster.
        return f"{self.prefix}{{{key}}}:token", f"{self.prefix}{{{key}}}:lock"

    async def read(self, key: str) -> StoredToken | None:
        token_key, _ = self._keys(key)
        got: list[Any] = await _guard(
            "读取 access_token", lambda: self.client.hmget(token_key, ["value", "expires_at"])
        )
        value, expires = got
        if not value or not expires:
            return None
        return StoredToken(str(value), datetime.fromtimestamp(float(expires), UTC))

    async def try_lock(self, key: str, owner: str, seconds: float) -> bool:
        _, lock_key = self._keys(key)
        taken = await _guard(
            "加锁", lambda: self._lock(keys=[lock_key], args=[owner, _ms(seconds)])
        )
        return bool(int(taken))

    async def write(self, key: str, token: StoredToken, owner: str) -> None:
        token_key, lock_key = self._keys(key)
        keep = _ms((token.expires_at - datetime.now(UTC)).total_seconds() + 60)
        expires = f"{token.expires_at.timestamp():.3f}"
        await _guard(
            "保存 access_token",
            lambda: self._write(
                keys=[token_key, lock_key], args=[token.value, expires, keep, owner]
            ),
        )

    async def unlock(self, key: str, owner: str) -> None:
        _, lock_key = self._keys(key)
        await _guard("解锁", lambda: self._unlock(keys=[lock_key], args=[owner]))

    async def aclose(self) -> None:
        await self.client.aclose()


class RedisRateLimiter:
    """channels.pacing.RateLimiter shared by every process using the same Redis key: `rate`
    calls a second in total, bursts of up to `burst` (default: one second's worth, like
    TokenBucket). A caller reserves its turn in one round trip and sleeps until it comes;
    a turn reserved and then abandoned (a cancelled delivery) is simply not used."""

    def __init__(
        self,
        client: aioredis.Redis,
        name: str,
        rate: float,
        burst: float | None = None,
        prefix: str = "gongkai:",
    ) -> None:
        self.client = client
        self.key = f"{prefix}rate:{name}"
        self.rate = rate
        capacity = burst if burst is not None else max(1.0, rate)
        self.interval_us = 1_000_000 / rate
        self.tolerance_us = max(0.0, capacity - 1) * self.interval_us
        self._reserve = client.register_script(_RESERVE)

    async def reserve(self) -> float:
        """Take the next turn; the seconds until it comes (0: now)."""
        args = [f"{self.interval_us:.3f}", f"{self.tolerance_us:.3f}"]
        wait = await _guard("限流", lambda: self._reserve(keys=[self.key], args=args))
        return int(wait) / 1_000_000

    async def acquire(self) -> None:
        wait = await self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)

    async def aclose(self) -> None:
        # Closing the client's pool is harmless to others sharing it: it reconnects on use.
        await self.client.aclose()


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
