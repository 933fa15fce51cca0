"""The login throttle: failed logins slow down further tries per account and per client
address, with counters every web process shares (the database, or Redis when configured).

There is no hard lock that a stranger could set off against staff. Each key has some free
failures; after them every failure doubles the wait before the key may try again (capped), and
the console answers a try that comes too early with 429 and Retry-After — never a sleep in the
handler. A browser where the account logged in before carries a signed device mark: its tries
count against that device, not against the account, so failures from elsewhere cannot keep a
reviewer out of their own browser. An admin can clear an account's counters.

The keys: "account:<username>", "device:<id>", "address:<ip>" (an IPv6 client by its /64).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot.errors import Unavailable
from bot.models import LoginThrottle


class ThrottleStoreError(Unavailable):
    """The throttle's store (Redis) did not answer."""


@dataclass(frozen=True)
class Rule:
    """How one kind of key slows down."""

    free: int  # failures before the first wait
    base: float  # seconds: the first wait; each further failure doubles it
    cap: float  # seconds: the longest wait
    window: float  # seconds without a failure after which the count starts again

    def delay(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return min(self.cap, self.base * 2.0 ** min(failures - self.free, 32))


@dataclass(frozen=True)
class Failure:
    key: str
    failures: int
    wait: float  # seconds before the key may try again (0: none)
    # This failure is the one that first made the key wait in its window (audited as a lock)
    started: bool = False


def account_key(username: str) -> str:
    return "account:" + username.strip().lower()[:64]


def device_key(device: str) -> str:
    return "device:" + device[:64]


def address_key(ip: str) -> str:
    """An IPv6 client is counted by its /64 (one host usually holds a whole /64)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "address:" + ip[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return "address:" + str(address.ipv4_mapped)
        return "address:" + str(ipaddress.ip_network(f"{address}/64", strict=False))
    return "address:" + str(address)


class ThrottleStore(Protocol):
    async def wait(self, keys: list[str], now: datetime) -> float:
        """Seconds until every key may try again (0: now)."""
        ...

    async def fail(self, key: str, rule: Rule, now: datetime) -> Failure:
        """Count a failure of `key`; returns its count and the wait it starts."""
        ...

    async def clear(self, key: str) -> bool:
        """Forget a key's failures (a successful login, an admin's unlock)."""
        ...


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class DbThrottle:
    """Counters in gk_login_throttle: a failure is read-modify-write of its row in a
    transaction (the row locked on PostgreSQL; SQLite's write lock serialises the writers)."""

    async def wait(self, keys: list[str], now: datetime) -> float:
        rows = await LoginThrottle.filter(key__in=keys, blocked_until__gt=now)
        return max(((_aware(r.blocked_until) - now).total_seconds() for r in rows), default=0.0)  # type: ignore[arg-type]

    async def fail(self, key: str, rule: Rule, now: datetime) -> Failure:
        for _ in range(3):  # two processes creating the same key's row: the loser retries
            try:
                return await self._fail(key, rule, now)
            except IntegrityError:
                continue
        return await self._fail(key, rule, now)

    async def _fail(self, key: str, rule: Rule, now: datetime) -> Failure:
        async with in_transaction() as conn:
            row = await LoginThrottle.filter(key=key).using_db(conn).select_for_update().first()
            if row is None or now - _aware(row.last_at) > timedelta(seconds=rule.window):
                failures, first_at = 1, now
            else:
                failures, first_at = row.failures + 1, _aware(row.first_at)
            wait = rule.delay(failures)
            blocked = now + timedelta(seconds=wait) if wait else None
            values = {
                "failures": failures,
                "first_at": first_at,
                "last_at": now,
                "blocked_until": blocked,
            }
            if row is None:
                await LoginThrottle.create(using_db=conn, key=key, **values)
            else:
                await LoginThrottle.filter(key=key).using_db(conn).update(**values)
        return Failure(key, failures, wait, wait > 0 and failures == rule.free)

    async def clear(self, key: str) -> bool:
        return bool(await LoginThrottle.filter(key=key).delete())


# KEYS[1]: the key's hash. ARGV: now (epoch s), window, free, base, cap (seconds).
# Returns {failures, wait} (wait as a string: Lua numbers would be cut to integers).
_FAIL = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local free = tonumber(ARGV[3])
local base = tonumber(ARGV[4])
local cap = tonumber(ARGV[5])
local got = redis.call('HMGET', KEYS[1], 'failures', 'last_at')
local failures = 1
if got[1] and got[2] and now - tonumber(got[2]) <= window then
  failures = tonumber(got[1]) + 1
end
local wait = 0
if failures >= free then
  wait = math.min(cap, base * 2 ^ math.min(failures - free, 32))
end
redis.call('HSET', KEYS[1], 'failures', failures, 'last_at', ARGV[1],
           'blocked_until', string.format('%.6f', now + wait))
redis.call('EXPIRE', KEYS[1], math.ceil(window + cap) + 60)
return {failures, string.format('%.6f', wait)}
"""


class RedisThrottle:
    """Counters in Redis: one hash per key, updated by one script (atomic on the server),
    expiring by itself once the window and the longest wait have passed."""

    def __init__(self, client: aioredis.Redis, prefix: str = "gongkai:") -> None:
        self.client = client
        self.prefix = prefix
        self._fail = client.register_script(_FAIL)

    def _key(self, key: str) -> str:
        return f"{self.prefix}login-throttle:{key}"

    async def wait(self, keys: list[str], now: datetime) -> float:
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hget(self._key(key), "blocked_until")
                values = await pipe.execute()
        except RedisError as exc:
            raise ThrottleStoreError(f"登录限速服务（Redis）暂时不可用：{exc}") from exc
        stamp = now.timestamp()
        return max((float(v) - stamp for v in values if v), default=0.0)

    async def fail(self, key: str, rule: Rule, now: datetime) -> Failure:
        args = [now.timestamp(), rule.window, rule.free, rule.base, rule.cap]
        try:
            failures, wait = await self._fail(keys=[self._key(key)], args=args)
        except RedisError as exc:
            raise ThrottleStoreError(f"登录限速服务（Redis）暂时不可用：{exc}") from exc
        return Failure(
            key, int(failures), float(wait), float(wait) > 0 and int(failures) == rule.free
        )

    async def clear(self, key: str) -> bool:
        try:
            return bool(await self.client.delete(self._key(key)))
        except RedisError as exc:
            raise ThrottleStoreError(f"登录限速服务（Redis）暂时不可用：{exc}") from exc


def store_for(redis_client: aioredis.Redis | None, prefix: str = "gongkai:") -> ThrottleStore:
    """Redis when [redis] is configured (its client given), else the database."""
    return RedisThrottle(redis_client, prefix) if redis_client is not None else DbThrottle()


def retry_after(seconds: float) -> int:
    """The Retry-After value for a wait: whole seconds, at least 1."""
    return max(1, math.ceil(seconds))


class DeviceMarks:
    """The signed mark of a browser where an account logged in: "<id>.<signature>", the
    signature over the id and the username under a key derived from the console's secret."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"gongkai-console-device\n" + secret.encode()).digest()

    def _sign(self, device: str, username: str) -> str:
        message = f"{device}\n{username.strip().lower()}".encode()
        mac = hmac.new(self._key, message, hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(mac).decode()

    def issue(self, username: str) -> str:
        device = secrets.token_urlsafe(12)
        return f"{device}.{self._sign(device, username)}"

    def device_for(self, mark: str, username: str) -> str | None:
        """The device id when `mark` was issued to `username`, else None."""
        device, _, signature = mark.partition(".")
        if not device or len(mark) > 128 or not username:
            return None
        if hmac.compare_digest(signature.encode(), self._sign(device, username).encode()):
            return device
        return None
