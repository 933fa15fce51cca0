"""Console login: argon2 password checks, the per-process login throttle, and the session
that names the logged-in user (with idle and absolute expiry).

The session lives in an encrypted cookie (aiohttp-session with Fernet). Every request loads
the user again, so a disabled account or a changed password ends its sessions at once: the
session carries a fingerprint of the password hash it was opened with.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web
from aiohttp_session import Session, get_session, new_session
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from bot.actors import Actor
from bot.config import ConsoleConfig
from bot.models import User

UID = "uid"
LOGIN_AT = "login_at"
SEEN = "seen"
FINGERPRINT = "pw"
CSRF = "csrf"
# Rewrite the cookie for the idle clock at most this often (seconds), not on every request.
SEEN_GRANULARITY = 60
# Failure records kept before old ones are pruned (bounds the throttle's memory).
MAX_TRACKED = 10_000

_hasher = PasswordHasher()


def verify_password(password_hash: str, password: str) -> bool:
    """True when the password matches the stored argon2 hash; never raises on a bad hash."""
    if not password_hash or not password:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def fingerprint(password_hash: str) -> str:
    """A short digest of the password hash: a password reset changes it, ending old sessions."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:24]


@dataclass
class LoginThrottle:
    """Failed logins per username and per client address in a sliding window; a key with too
    many failures is locked for a while. Kept in this process's memory only."""

    max_per_user: int
    max_per_ip: int
    window: float  # seconds
    lockout: float  # seconds
    _fails: dict[str, deque[float]] = field(default_factory=dict)
    _locked_until: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: ConsoleConfig) -> LoginThrottle:
        return cls(
            cfg.login_max_failures,
            cfg.login_max_failures_per_ip,
            cfg.login_window_minutes * 60.0,
            cfg.login_lockout_minutes * 60.0,
        )

    @staticmethod
    def keys(username: str, ip: str) -> tuple[str, str]:
        return f"user:{username.strip().lower()}", f"ip:{ip}"

    def locked_for(self, username: str, ip: str, now: float | None = None) -> float:
        """Seconds until both keys may try again (0 when neither is locked)."""
        now = time.monotonic() if now is None else now
        return max(
            (self._locked_until.get(k, 0.0) - now for k in self.keys(username, ip)), default=0
        )

    def fail(self, username: str, ip: str, now: float | None = None) -> bool:
        """Record a failure; True when it locks the username or the address."""
        now = time.monotonic() if now is None else now
        if len(self._fails) > MAX_TRACKED:
            self._prune(now)
        locked = False
        for key, limit in zip(
            self.keys(username, ip), (self.max_per_user, self.max_per_ip), strict=True
        ):
            times = self._fails.setdefault(key, deque())
            times.append(now)
            while times and times[0] < now - self.window:
                times.popleft()
            if len(times) >= limit:
                self._locked_until[key] = now + self.lockout
                times.clear()
                locked = True
        return locked

    def succeed(self, username: str) -> None:
        self._fails.pop(self.keys(username, "")[0], None)

    def _prune(self, now: float) -> None:
        for key in [k for k, t in self._fails.items() if not t or t[-1] < now - self.window]:
            del self._fails[key]
        for key in [k for k, until in self._locked_until.items() if until < now]:
            del self._locked_until[key]


@dataclass
class Passwords:
    """Checks passwords off the event loop (argon2 is deliberately slow); an unknown username
    costs the same as a wrong password, so timing does not tell which usernames exist."""

    _dummy: str = ""

    async def check(self, user: User | None, password: str) -> bool:
        if user is None or not user.password_hash:
            if not self._dummy:
                self._dummy = await asyncio.to_thread(_hasher.hash, secrets.token_hex(16))
            await asyncio.to_thread(verify_password, self._dummy, password or "x")
            return False
        return await asyncio.to_thread(verify_password, user.password_hash, password)


async def start_session(request: web.Request, user: User) -> Session:
    """A fresh session for a user who just logged in (a new CSRF token with it)."""
    session = await new_session(request)
    now = int(time.time())
    session[UID] = user.id
    session[LOGIN_AT] = now
    session[SEEN] = now
    session[FINGERPRINT] = fingerprint(user.password_hash)
    session[CSRF] = secrets.token_urlsafe(32)
    return session


async def end_session(request: web.Request) -> None:
    session = await get_session(request)
    session.invalidate()


async def session_user(request: web.Request, cfg: ConsoleConfig) -> User | None:
    """The logged-in, active user of this request, or None (the session is then cleared)."""
    session = await get_session(request)
    uid = session.get(UID)
    if uid is None:
        return None
    now = int(time.time())
    login_at = int(session.get(LOGIN_AT, 0))
    seen = int(session.get(SEEN, 0))
    expired = now - login_at > cfg.absolute_hours * 3600 or now - seen > cfg.idle_minutes * 60
    user = None if expired else await User.filter(id=int(uid)).first()
    if (
        user is None
        or not user.active
        or session.get(FINGERPRINT) != fingerprint(user.password_hash)
    ):
        session.invalidate()
        return None
    if now - seen >= SEEN_GRANULARITY:
        session[SEEN] = now
    return user


def actor_of(user: User) -> Actor:
    return Actor.of_user(user)


async def csrf_token(request: web.Request) -> str:
    """This session's CSRF token, made on first use (the login form needs one too)."""
    session = await get_session(request)
    token = session.get(CSRF)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[CSRF] = token
    return token


@dataclass
class ConsoleState:
    cfg: ConsoleConfig
    env: jinja2.Environment
    throttle: LoginThrottle
    passwords: Passwords
    tz: ZoneInfo
