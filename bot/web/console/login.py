"""The console's login and logout pages. Failed logins are throttled per username and per
client address (bot/web/console/auth.py); a successful login, a logout and a lockout are
written to the audit log."""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from tortoise.transactions import in_transaction

from bot import audit
from bot.models import User
from bot.web.console.auth import csrf_token, end_session, session_user, start_session
from bot.web.console.core import PREFIX, Ctx, Route, safe_next, with_headers
from bot.web.inputs import read_form
from bot.web.keys import CONFIG
from bot.web.keys import CONSOLE as CONSOLE

USERNAME_MAX = 64
PASSWORD_MAX = 1024  # argon2 hashes any length; a cap keeps a huge paste from costing CPU


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


async def login_form(request: web.Request) -> web.StreamResponse:
    if await session_user(request, request.app[CONSOLE].cfg) is not None:
        raise web.HTTPSeeOther(safe_next(request.query.get("next")))
    return await _page(request)


def _text(form: Any, name: str, limit: int) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


async def login(request: web.Request) -> web.StreamResponse:
    state = request.app[CONSOLE]
    form = await read_form(request)
    username = _text(form, "username", USERNAME_MAX).strip()
    password = _text(form, "password", PASSWORD_MAX)
    target = safe_next(_text(form, "next", 2000))
    ip = request.remote or "unknown"
    wait = state.throttle.locked_for(username, ip)
    if wait > 0:
        minutes = max(1, math.ceil(wait / 60))
        return await _page(
            request,
            429,
            error=f"登录失败次数过多，已暂时锁定，请约 {minutes} 分钟后再试。",
            username=username,
            next=target,
        )
    user = await User.filter(username=username).first() if username else None
    ok = await state.passwords.check(user, password)
    if not ok or user is None or not user.active:
        if state.throttle.fail(username, ip):
            async with in_transaction() as conn:
                await audit.record(
                    conn,
                    "system:console",
                    "console.login_locked",
                    "user",
                    username or "-",
                    {"ip": ip},
                )
        return await _page(
            request, 401, error="用户名或密码错误，或账号已停用。", username=username, next=target
        )
    state.throttle.succeed(username)
    await start_session(request, user)
    async with in_transaction() as conn:
        await audit.record(
            conn, f"user:{user.username}", "console.login", "user", user.id, {"ip": ip}
        )
    raise web.HTTPSeeOther(target)


async def logout(ctx: Ctx) -> web.StreamResponse:
    await end_session(ctx.request)
    async with in_transaction() as conn:
        await audit.record(conn, ctx.actor.name, "console.logout", "user", ctx.user.id, {})
    raise web.HTTPSeeOther(f"{PREFIX}/login")


# Login is open to anyone (no session yet); logging out is a console route like any other.
OPEN_ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", f"{PREFIX}/login", login_form),
    ("POST", f"{PREFIX}/login", login),
]
ROUTES = [Route("POST", f"{PREFIX}/logout", logout)]
