"""The login throttle: failed logins slow down further tries per account and per client
address, with counters every web process shares (the database, or Redis when configured).

There is no hard lock that a stranger could set off against staff. Each key has some free
failures; after them every failure doubles the wait before the key may try again (capped), and
the console answers a try that comes too early with 429 and Retry-After — never a sleep in the
handler. An attempt is counted when it is claimed, before the password is checked, so a burst
of simultaneous tries gets no more checks than the free ones; a success takes it back. A
browser where the account logged in before carries a signed device mark: its tries count
against that device only (neither the account nor the address), so failures from elsewhere —
another visitor, or a whole office behind one NAT address — cannot keep a reviewer out of their
own browser. An admin can clear an account's count.

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
from datetime import datetime, timedelta
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot.errors import Unavailable
from bot.models import LoginThrottle
from bot.timeutil import aware


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
class Count:
    """One key's count after an attempt was claimed."""

    key: str
    failures: int  # attempts in the window that did not succeed (this one included)
    wait: float  # seconds the key must wait from now on, should this attempt fail
    # This attempt is the one that first made the key wait in its window (audited as a lock)
    started: bool = False


@dataclass(frozen=True)
class Attempt:
    """The answer to "may this login be tried now?": when allowed, every key has counted it
    (claimed before the password is checked, so a burst of simultaneous tries cannot all pass
    the check); when not, nothing was counted and `wait` says for how long."""

    allowed: bool
    wait: float
    counts: tuple[Count, ...] = ()


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
    async def attempt(self, keys: list[tuple[str, Rule]], now: datetime) -> Attempt:
        """Check and count an attempt on every key at once: refused (nothing counted) while
        any key waits, else counted on each."""
        ...

    async def succeeded(self, clear: str, refund: list[tuple[str, Rule]]) -> None:
        """The attempt succeeded: forget `clear`'s count, take the attempt back from each of
        `refund` (its wait goes if the count falls below the free failures)."""
        ...

    async def wait(self, keys: list[str], now: datetime) -> float:
        """Seconds until every key may try again (0: now)."""
        ...

    async def clear(self, key: str) -> bool:
        """Forget a key's count (an admin's unlock)."""
        ...


class DbThrottle:
    """Counters in gk_login_throttle: an attempt reads and writes its keys' rows in one
    transaction (locked on PostgreSQL, in key order; SQLite's write lock serialises writers)."""

    async def wait(self, keys: list[str], now: datetime) -> float:
        rows = await LoginThrottle.filter(key__in=keys, blocked_until__gt=now)
        return max(
            ((aware(r.blocked_until) - now).total_seconds() for r in rows if r.blocked_until),
            default=0.0,
        )

    async def attempt(self, keys: list[tuple[str, Rule]], now: datetime) -> Attempt:
        for _ in range(3):  # two processes creating the same key's row: the loser retries
            try:
                return await self._attempt(keys, now)
            except IntegrityError:
                continue
        return await self._attempt(keys, now)

    async def _attempt(self, keys: list[tuple[str, Rule]], now: datetime) -> Attempt:
        ordered = sorted(keys, key=lambda pair: pair[0])
        async with in_transaction() as conn:
            rows = {
                row.key: row
                for row in await LoginThrottle.filter(key__in=[k for k, _ in ordered])
                .using_db(conn)
                .select_for_update()
                .order_by("key")
            }
            waits = [
                (aware(r.blocked_until) - now).total_seconds()
                for r in rows.values()
                if r.blocked_until is not None and aware(r.blocked_until) > now
            ]
            if waits:
                return Attempt(False, max(waits))
            counts = []
            for key, rule in ordered:
                row = rows.get(key)
                fresh = row is None or now - aware(row.last_at) > timedelta(seconds=rule.window)
                failures = 1 if fresh or row is None else row.failures + 1
                wait = rule.delay(failures)
                values = {
                    "failures": failures,
                    "last_at": now,
                    "blocked_until": now + timedelta(seconds=wait) if wait else None,
                }
                if row is None:
                    await LoginThrottle.create(using_db=conn, key=key, first_at=now, **values)
                else:
                    if fresh:
                        values["first_at"] = now
                    await LoginThrottle.filter(key=key).using_db(conn).update(**values)
                counts.append(Count(key, failures, wait, wait > 0 and failures == rule.free))
        return Attempt(True, max(c.wait for c in counts), tuple(counts))

    async def succeeded(self, clear: str, refund: list[tuple[str, Rule]]) -> None:
        async with in_transaction() as conn:
            await LoginThrottle.filter(key=clear).using_db(conn).delete()
            for key, rule in refund:
                row = await LoginThrottle.filter(key=key).using_db(conn).select_for_update().first()
                if row is None:
                    continue
                failures = max(0, row.failures - 1)
                changes: dict[str, object] = {"failures": failures}
                if failures < rule.free:
                    changes["blocked_until"] = None
                await LoginThrottle.filter(key=key).using_db(conn).update(**changes)

    async def clear(self, key: str) -> bool:
        return bool(await LoginThrottle.filter(key=key).delete())


# KEYS: the keys' hashes. ARGV: now (epoch s), then per key: window, free, base, cap (s).
# Refused while any key waits: {0, wait}. Else each key counted: {1, f1, w1, f2, w2, ...}
# (waits as strings: Lua numbers would be cut to integers).
_ATTEMPT = """
local now = tonumber(ARGV[1])
local longest = 0
for i, key in ipairs(KEYS) do
  local until_ = tonumber(redis.call('HGET', key, 'blocked_until') or '0')
  if until_ - now > longest then longest = until_ - now end
end
if longest > 0 then return {0, string.format('%.6f', longest)} end
local out = {1}
for i, key in ipairs(KEYS) do
  local base_ = 1 + (i - 1) * 4
  local window = tonumber(ARGV[base_ + 1])
  local free = tonumber(ARGV[base_ + 2])
  local base = tonumber(ARGV[base_ + 3])
  local cap = tonumber(ARGV[base_ + 4])
  local got = redis.call('HMGET', key, 'failures', 'last_at')
  local failures = 1
  if got[1] and got[2] and now - tonumber(got[2]) <= window then
    failures = tonumber(got[1]) + 1
  end
  local wait = 0
  if failures >= free then
    wait = math.min(cap, base * 2 ^ math.min(failures - free, 32))
  end
  redis.call('HSET', key, 'failures', failures, 'last_at', ARGV[1],
             'blocked_until', string.format('%.6f', now + wait))
  redis.call('EXPIRE', key, math.ceil(window + cap) + 60)
  table.insert(out, failures)
  table.insert(out, string.format('%.6f', wait))
end
return out
"""

# KEYS[1]: the key to clear; KEYS[2..]: keys to refund. ARGV: each refunded key's free count.
_SUCCEEDED = """
redis.call('DEL', KEYS[1])
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local failures = redis.call('HINCRBY', KEYS[i], 'failures', -1)
    if failures < 0 then redis.call('HSET', KEYS[i], 'failures', 0) end
    if failures < tonumber(ARGV[i - 1]) then redis.call('HSET', KEYS[i], 'blocked_until', '0') end
  end
end
return 1
"""


class RedisThrottle:
    """Counters in Redis: one hash per key; an attempt is one script over all its keys (atomic
    on the server), and a hash expires by itself once its window and longest wait are over."""

    def __init__(self, client: aioredis.Redis, prefix: str = "gongkai:") -> None:
        self.client = client
        self.prefix = prefix
        self._attempt = client.register_script(_ATTEMPT)
        self._succeeded = client.register_script(_SUCCEEDED)

    def _key(self, key: str) -> str:
        return f"{self.prefix}login-throttle:{key}"

    async def _call(self, coro: Any) -> Any:
        try:
            return await coro
        except RedisError as exc:
            raise ThrottleStoreError(f"登录限速服务（Redis）暂时不可用：{exc}") from exc

    async def wait(self, keys: list[str], now: datetime) -> float:
        async with self.client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hget(self._key(key), "blocked_until")
            values = await self._call(pipe.execute())
        stamp = now.timestamp()
        return max([0.0, *(float(v) - stamp for v in values if v)])

    async def attempt(self, keys: list[tuple[str, Rule]], now: datetime) -> Attempt:
        args: list[float] = [now.timestamp()]
        for _, rule in keys:
            args += [rule.window, rule.free, rule.base, rule.cap]
        got = await self._call(self._attempt(keys=[self._key(k) for k, _ in keys], args=args))
        if int(got[0]) == 0:
            return Attempt(False, float(got[1]))
        counts = tuple(
            Count(key, int(got[1 + 2 * i]), float(got[2 + 2 * i]))
            for i, (key, _) in enumerate(keys)
        )
        counts = tuple(
            Count(c.key, c.failures, c.wait, c.wait > 0 and c.failures == rule.free)
            for c, (_, rule) in zip(counts, keys, strict=True)
        )
        return Attempt(True, max(c.wait for c in counts), counts)

    async def succeeded(self, clear: str, refund: list[tuple[str, Rule]]) -> None:
        await self._call(
            self._succeeded(
                keys=[self._key(clear), *[self._key(k) for k, _ in refund]],
                args=[rule.free for _, rule in refund],
            )
        )

    async def clear(self, key: str) -> bool:
        return bool(await self._call(self.client.delete(self._key(key))))


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
