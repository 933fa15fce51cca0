"""Console login: argon2 password checks, the login throttle, and the session that names the
logged-in user.

The session is held on the server (bot/staff/sessions.py); the console's encrypted cookie
(aiohttp-session with Fernet) carries its random id, the CSRF token and flash messages. Every
request looks the session up and loads the user again, so logout, a revoked session, a
disabled account or a changed password end it at once in every web process; the cookie also
keeps a fingerprint of the password hash it was opened with, so a password changed by a
process that died before ending the sessions ends them too. Times come from the state's clock,
which tests set.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web
from aiohttp_session import Session, get_session, new_session

from bot.actors import Actor
from bot.config import ConsoleConfig
from bot.models import User
from bot.staff import passwords
from bot.staff.sessions import SessionInfo, SessionStore
from bot.staff.throttle import (
    DeviceMarks,
    Rule,
    ThrottleStore,
    account_key,
    address_key,
    device_key,
)

SID = "sid"
FINGERPRINT = "pw"
CSRF = "csrf"
# The request's session record, once looked up (see session_user).
_INFO = web.RequestKey("gongkai_session", SessionInfo)


def fingerprint(password_hash: str) -> str:
    """A short digest of the password hash: a password reset changes it, ending old sessions."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:24]


@dataclass
class Passwords:
    """Checks passwords off the event loop (argon2 is deliberately slow); an unknown username
    costs the same as a wrong password, so timing does not tell which usernames exist."""

    _dummy: str = ""

    async def check(self, user: User | None, password: str) -> bool:
        if user is None or not user.password_hash:
            if not self._dummy:
                self._dummy = await asyncio.to_thread(
                    passwords.hash_password, secrets.token_hex(16)
                )
            await asyncio.to_thread(passwords.verify, self._dummy, password or "x")
            return False
        return await asyncio.to_thread(passwords.verify, user.password_hash, password)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ConsoleState:
    cfg: ConsoleConfig
    env: jinja2.Environment
    passwords: Passwords
    tz: ZoneInfo
    sessions: SessionStore
    throttle: ThrottleStore
    devices: DeviceMarks
    trusted_proxies: tuple[str, ...] = ()
    # Every time the console acts on (session limits, the throttle); tests set it.
    clock: Callable[[], datetime] = field(default=_now)

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.cfg.idle_minutes)

    @property
    def account_rule(self) -> Rule:
        return self._rule(self.cfg.login_max_failures)

    @property
    def address_rule(self) -> Rule:
        return self._rule(self.cfg.login_max_failures_per_ip)

    def _rule(self, free: int) -> Rule:
        cfg = self.cfg
        return Rule(
            free,
            cfg.login_delay_seconds,
            cfg.login_max_delay_minutes * 60.0,
            cfg.login_window_minutes * 60.0,
        )


async def start_session(request: web.Request, state: ConsoleState, user: User, ip: str) -> Session:
    """A fresh session for a user who just logged in (a new CSRF token with it); the session
    the browser had before, if any, is ended."""
    old = (await get_session(request)).get(SID)
    if isinstance(old, str):
        await state.sessions.end(old)
    now = state.clock()
    sid = await state.sessions.create(
        user.id,
        now,
        now + timedelta(hours=state.cfg.absolute_hours),
        ip,
        request.headers.get("User-Agent", ""),
    )
    session = await new_session(request)
    session[SID] = sid
    session[FINGERPRINT] = fingerprint(user.password_hash)
    session[CSRF] = secrets.token_urlsafe(32)
    return session


async def end_session(request: web.Request, state: ConsoleState) -> None:
    """Log out: the server forgets the session, the browser's cookie is cleared."""
    session = await get_session(request)
    sid = session.get(SID)
    if isinstance(sid, str):
        await state.sessions.end(sid)
    session.invalidate()


async def session_user(request: web.Request, state: ConsoleState) -> User | None:
    """The logged-in, active user of this request, or None (the cookie is then cleared)."""
    session = await get_session(request)
    sid = session.get(SID)
    if not isinstance(sid, str):
        return None
    info = await state.sessions.get(sid, state.clock(), state.idle)
    user = await User.filter(id=info.user_id).first() if info is not None else None
    if (
        info is None
        or user is None
        or not user.active
        or session.get(FINGERPRINT) != fingerprint(user.password_hash)
    ):
        if info is not None:
            await state.sessions.end(sid)
        session.invalidate()
        return None
    request[_INFO] = info
    return user


def current_session(request: web.Request) -> str | None:
    """The digest naming this request's session (after session_user let it in)."""
    info = request.get(_INFO)
    return info.digest if isinstance(info, SessionInfo) else None


def actor_of(user: User, *, separate_duties: bool) -> Actor:
    """The logged-in user as an actor; `separate_duties` is `[staff] separate_duties`."""
    return Actor.of_user(user, separate_duties=separate_duties)


async def csrf_token(request: web.Request) -> str:
    """This session's CSRF token, made on first use (the login form needs one too)."""
    session = await get_session(request)
    token = session.get(CSRF)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[CSRF] = token
    return token


def throttle_keys(
    state: ConsoleState, username: str, ip: str, device: str | None
) -> list[tuple[str, Rule]]:
    """What a login (or a check of one's password) counts against: the browser's device mark
    alone when it has one for this account, else the account and the client address."""
    if device:
        return [(device_key(device), state.account_rule)]
    return [(account_key(username), state.account_rule), (address_key(ip), state.address_rule)]
