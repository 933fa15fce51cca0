"""The console's login and logout pages.

Failed logins slow down further tries (bot/staff/throttle.py): per account — or per browser
where the account logged in before (its signed device mark) — and per client address (behind a
trusted proxy, the visitor's). A try that comes too early is answered 429 with Retry-After.
Single failures are logged and counted (gongkai_console_logins); the failure that first makes
a key wait, a login and a logout are written to the audit log. A user whose password was set
by someone else is sent to change it first.
"""

from __future__ import annotations

import logging
import math
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.typedefs import Handler
from tortoise.transactions import in_transaction

from bot import audit
from bot.models import User
from bot.staff.passwords import MAX_LENGTH as PASSWORD_MAX
from bot.staff.throttle import (
    Attempt,
    Count,
    retry_after,
)
from bot.web.clients import client_address
from bot.web.console.auth import (
    actor_of,
    csrf_token,
    end_session,
    session_user,
    start_session,
    throttle_keys,
)
from bot.web.console.core import (
    HOME,
    PASSWORD_PAGE,
    PREFIX,
    Ctx,
    Route,
    landing,
    safe_next,
    with_headers,
)
from bot.web.inputs import read_form
from bot.web.keys import CONFIG, CONSOLE, METRICS

log = logging.getLogger(__name__)
USERNAME_MAX = 64
DEVICE_COOKIE = "gongkai_device"
DEVICE_MAX_AGE = 365 * 86400


async def _page(request: web.Request, status: int = 200, **context: Any) -> web.Response:
    state = request.app[CONSOLE]
    html = state.env.get_template("console/login.html").render(
        app_name=request.app[CONFIG].app.name,
        user=None,
        csrf=await csrf_token(request),
        flashes=[],
        path=request.path,
        next=safe_next(request.query.get("next") or context.pop("next", None)),
        **{"error": "", "username": "", **context},
    )
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    with_headers(response)
    return response


def _wait_text(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} 秒"
    return f"{math.ceil(seconds / 60)} 分钟"


async def login_form(request: web.Request) -> web.StreamResponse:
    if await session_user(request, request.app[CONSOLE]) is not None:
        raise web.HTTPSeeOther(safe_next(request.query.get("next")))
    return await _page(request)


def _text(form: Any, name: str, limit: int) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


def _count(request: web.Request, outcome: str) -> None:
    metrics = request.app.get(METRICS)
    if metrics is not None:
        metrics.console_logins.labels(outcome).inc()


async def _audit_waits(counts: tuple[Count, ...], username: str, ip: str) -> None:
    """The failure that first makes a key wait is audited (a lock, in the issue's words);
    the single failures before it are only logged, so strangers cannot fill the audit log
    or contend for its lock."""
    started = [c for c in counts if c.started]
    if not started:
        return
    async with in_transaction() as conn:
        for count in started:
            kind = count.key.partition(":")[0]
            await audit.record(
                conn,
                "system:console",
                "console.login_throttled",
                "user" if kind != "address" else "address",
                (username or "-") if kind != "address" else ip,
                {"key": kind, "ip": ip, "failures": count.failures, "wait": count.wait},
            )


async def too_early(request: web.Request, attempt: Attempt, **context: Any) -> web.Response:
    seconds = retry_after(attempt.wait)
    _count(request, "throttled")
    response = await _page(
        request, 429, error=f"登录尝试过于频繁，请 {_wait_text(seconds)}后再试。", **context
    )
    response.headers["Retry-After"] = str(seconds)
    return response


async def login(request: web.Request) -> web.StreamResponse:
    state = request.app[CONSOLE]
    form = await read_form(request)
    username = _text(form, "username", USERNAME_MAX).strip()
    password = _text(form, "password", PASSWORD_MAX)
    target = safe_next(_text(form, "next", 2000))
    ip = client_address(request, state.trusted_proxies) or "unknown"
    device = state.devices.device_for(request.cookies.get(DEVICE_COOKIE, ""), username)
    keys = throttle_keys(state, username, ip, device)
    # Claimed before the (slow) password check: a burst cannot all get past the count.
    attempt = await state.throttle.attempt(keys, state.clock())
    if not attempt.allowed:
        return await too_early(request, attempt, username=username, next=target)
    user = await User.filter(username=username).first() if username else None
    ok = await state.passwords.check(user, password)
    if not ok or user is None or not user.active:
        _count(request, "failed")
        log.warning(
            "console login failed for %r from %s (%s)",
            username[:64],
            ip,
            ", ".join(f"{c.key.partition(':')[0]} {c.failures}" for c in attempt.counts),
        )
        await _audit_waits(attempt.counts, username, ip)
        message = "用户名或密码错误，或账号已停用。"
        if attempt.wait > 0:
            message += f"请 {_wait_text(retry_after(attempt.wait))}后再试。"
        response = await _page(request, 401, error=message, username=username, next=target)
        if attempt.wait > 0:
            response.headers["Retry-After"] = str(retry_after(attempt.wait))
        return response
    await state.throttle.succeeded(keys[0][0], keys[1:])
    await start_session(request, state, user, ip)
    _count(request, "ok")
    async with in_transaction() as conn:
        await audit.record(
            conn, f"user:{user.username}", "console.login", "user", user.id, {"ip": ip}
        )
    if target == HOME:  # no page asked for: the role's own first page
        target = landing(actor_of(user, separate_duties=request.app[CONFIG].staff.separate_duties))
    if user.must_change_password:
        target = f"{PASSWORD_PAGE}?{urlencode({'next': target})}"
    redirect = web.HTTPSeeOther(target)
    if device is None:
        redirect.set_cookie(
            DEVICE_COOKIE,
            state.devices.issue(user.username),
            max_age=DEVICE_MAX_AGE,
            path=f"{PREFIX}/login",
            secure=state.cfg.secure_cookies,
            httponly=True,
            samesite="Lax",
        )
    raise redirect


async def logout(ctx: Ctx) -> web.StreamResponse:
    await end_session(ctx.request, ctx.state)
    async with in_transaction() as conn:
        await audit.record(conn, ctx.actor.name, "console.logout", "user", ctx.user.id, {})
    raise web.HTTPSeeOther(f"{PREFIX}/login")


# Login is open to anyone (no session yet); logging out is a console route like any other.
OPEN_ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", f"{PREFIX}/login", login_form),
    ("POST", f"{PREFIX}/login", login),
]
ROUTES = [Route("POST", f"{PREFIX}/logout", logout, ())]
