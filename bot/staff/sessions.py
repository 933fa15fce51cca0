"""Console sessions held on the server. The browser keeps a random session id (inside the
console's encrypted cookie); the server keeps the session under the SHA-256 digest of that id,
so a copy of the table or of Redis opens no session. Ending a session deletes it: logout,
disabling an account, a password change and an admin's "revoke" end it in every web process at
once, and a cookie saved before and replayed after opens nothing.

Two stores behind one interface: the database (gk_staff_session, the default) and Redis when
[redis] is configured. Both take the time from the caller (the console's clock), so tests set
it; the idle limit runs from the last request seen, the absolute limit from the login.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.errors import Unavailable
from bot.models import StaffSession
from bot.timeutil import aware

# A session's last-seen time is written at most this often (not on every request).
SEEN_GRANULARITY = timedelta(seconds=60)


class SessionStoreError(Unavailable):
    """The session store (Redis) did not answer: nobody can be let in until it does."""


@dataclass(frozen=True)
class SessionInfo:
    digest: str  # SHA-256 hex of the cookie's id: names the session on the admin page
    user_id: int
    created_at: datetime
    seen_at: datetime
    expires_at: datetime
    ip: str
    user_agent: str

    def live(self, now: datetime, idle: timedelta) -> bool:
        return now < self.expires_at and now - self.seen_at < idle


def digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def new_id() -> str:
    return secrets.token_urlsafe(32)


class SessionStore(Protocol):
    async def create(
        self, user_id: int, now: datetime, expires_at: datetime, ip: str, user_agent: str
    ) -> str:
        """Start a session; returns the id for the cookie (only its digest is kept)."""
        ...

    async def get(self, sid: str, now: datetime, idle: timedelta) -> SessionInfo | None:
        """The live session of this id (its last-seen time moved on), or None; an expired
        session is deleted."""
        ...

    async def end(self, sid: str) -> None: ...

    async def end_digest(self, user_id: int, session_digest: str) -> bool:
        """End one of a user's sessions by its digest (the admin page's "revoke")."""
        ...

    async def end_user(self, user_id: int, keep: str | None = None) -> int:
        """End every session of a user (but `keep`, a session's digest); returns how many
        ended."""
        ...

    async def list_user(self, user_id: int, now: datetime, idle: timedelta) -> list[SessionInfo]:
        """The user's live sessions, newest first."""
        ...


def _clip(value: str, limit: int) -> str:
    return value.encode("utf-8", "replace")[:limit].decode("utf-8", "ignore")


class DbSessions:
    """Sessions in gk_staff_session: one indexed read per console request, a write at most
    once a minute per session."""

    async def create(
        self, user_id: int, now: datetime, expires_at: datetime, ip: str, user_agent: str
    ) -> str:
        sid = new_id()
        # A user's expired sessions are cleared when they log in again.
        await StaffSession.filter(user_id=user_id, expires_at__lte=now).delete()
        await StaffSession.create(
            id=digest(sid),
            user_id=user_id,
            created_at=now,
            seen_at=now,
            expires_at=expires_at,
            ip=_clip(ip, 64),
            user_agent=_clip(user_agent, 255),
        )
        return sid

    async def get(self, sid: str, now: datetime, idle: timedelta) -> SessionInfo | None:
        key = digest(sid)
        row = await StaffSession.filter(id=key).first()
        if row is None:
            return None
        info = _info(row)
        if not info.live(now, idle):
            await StaffSession.filter(id=key).delete()
            return None
        if now - info.seen_at >= SEEN_GRANULARITY:
            await StaffSession.filter(id=key).update(seen_at=now)
        return info

    async def end(self, sid: str) -> None:
        await StaffSession.filter(id=digest(sid)).delete()

    async def end_digest(self, user_id: int, session_digest: str) -> bool:
        return bool(await StaffSession.filter(id=session_digest, user_id=user_id).delete())

    async def end_user(self, user_id: int, keep: str | None = None) -> int:
        query = StaffSession.filter(user_id=user_id)
        if keep is not None:
            query = query.exclude(id=keep)
        return int(await query.delete())

    async def list_user(self, user_id: int, now: datetime, idle: timedelta) -> list[SessionInfo]:
        rows = await StaffSession.filter(user_id=user_id).order_by("-created_at")
        return [info for info in map(_info, rows) if info.live(now, idle)]


def _info(row: StaffSession) -> SessionInfo:
    return SessionInfo(
        row.id,
        row.user_id,
        aware(row.created_at),
        aware(row.seen_at),
        aware(row.expires_at),
        row.ip,
        row.user_agent,
    )


class RedisSessions:
    """Sessions in Redis: a hash per session (expiring by itself at its absolute limit) and a
    set of each user's session digests, so that "end every session of this user" is one
    look-up. The idle limit is checked against the caller's clock, as in the database."""

    def __init__(self, client: aioredis.Redis, prefix: str = "gongkai:") -> None:
        self.client = client
        self.prefix = prefix

    def _session(self, key: str) -> str:
        return f"{self.prefix}staff-session:{key}"

    def _user(self, user_id: int) -> str:
        return f"{self.prefix}staff-sessions:{user_id}"

    async def _call(self, what: str, coro: Any) -> Any:
        try:
            return await coro
        except RedisError as exc:
            raise SessionStoreError(f"会话存储（Redis）暂时不可用（{what}）：{exc}") from exc

    async def create(
        self, user_id: int, now: datetime, expires_at: datetime, ip: str, user_agent: str
    ) -> str:
        sid = new_id()
        key = digest(sid)
        ttl = max(1, int((expires_at - now).total_seconds()))
        fields: dict[Any, Any] = {
            "user_id": str(user_id),
            "created_at": now.isoformat(),
            "seen_at": now.isoformat(),
            "expires_at": expires_at.isoformat(),
            "ip": _clip(ip, 64),
            "user_agent": _clip(user_agent, 255),
        }
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(self._session(key), mapping=fields)
            pipe.expire(self._session(key), ttl)
            pipe.sadd(self._user(user_id), key)
            await self._call("创建会话", pipe.execute())
        return sid

    async def _read(self, key: str) -> SessionInfo | None:
        data = await self._call("读取会话", self.client.hgetall(self._session(key)))
        if not data:
            return None
        return SessionInfo(
            key,
            int(data["user_id"]),
            datetime.fromisoformat(data["created_at"]),
            datetime.fromisoformat(data["seen_at"]),
            datetime.fromisoformat(data["expires_at"]),
            data.get("ip", ""),
            data.get("user_agent", ""),
        )

    async def get(self, sid: str, now: datetime, idle: timedelta) -> SessionInfo | None:
        key = digest(sid)
        info = await self._read(key)
        if info is None:
            return None
        if not info.live(now, idle):
            await self._drop(info.user_id, [key])
            return None
        if now - info.seen_at >= SEEN_GRANULARITY:
            await self._call(
                "更新会话", self.client.hset(self._session(key), "seen_at", now.isoformat())
            )
        return info

    async def _drop(self, user_id: int, keys: list[str]) -> int:
        if not keys:
            return 0
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(*[self._session(k) for k in keys])
            pipe.srem(self._user(user_id), *keys)
            deleted, _ = await self._call("结束会话", pipe.execute())
        return int(deleted)

    async def end(self, sid: str) -> None:
        key = digest(sid)
        info = await self._read(key)
        if info is not None:
            await self._drop(info.user_id, [key])

    async def end_digest(self, user_id: int, session_digest: str) -> bool:
        return bool(await self._drop(user_id, [session_digest]))

    async def end_user(self, user_id: int, keep: str | None = None) -> int:
        members = await self._call("读取会话", self.client.smembers(self._user(user_id)))
        return await self._drop(user_id, sorted(k for k in members if k != keep))

    async def list_user(self, user_id: int, now: datetime, idle: timedelta) -> list[SessionInfo]:
        members = await self._call("读取会话", self.client.smembers(self._user(user_id)))
        found: list[SessionInfo] = []
        gone: list[str] = []
        for key in sorted(members):
            info = await self._read(key)
            if info is not None and info.live(now, idle):
                found.append(info)
            else:
                gone.append(key)
        await self._drop(user_id, gone)
        return sorted(found, key=lambda s: s.created_at, reverse=True)


def store_for(redis_client: aioredis.Redis | None, prefix: str = "gongkai:") -> SessionStore:
    """Redis when [redis] is configured (its client given), else the database."""
    return RedisSessions(redis_client, prefix) if redis_client is not None else DbSessions()
