"""修改密码: a user changes their own password (every role, the auditor's included). A user
whose password was set by someone else is sent here first (bot/web/console/core.py). The
change ends the user's other sessions; this one goes on."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp_session import get_session

from bot import users
from bot.errors import Refusal
from bot.staff.passwords import MAX_LENGTH as PASSWORD_MAX
from bot.staff.throttle import retry_after
from bot.web.clients import client_address
from bot.web.console.auth import FINGERPRINT, current_session, fingerprint, throttle_keys
from bot.web.console.core import PASSWORD_PAGE, Ctx, Route, safe_next


def _field(form: Any, name: str) -> str:
    value = form.get(name, "")
    return value[:PASSWORD_MAX] if isinstance(value, str) else ""


async def password_form(ctx: Ctx, error: str = "", status: int = 200) -> web.Response:
    policy = ctx.config.staff.password
    return await ctx.render(
        "console/password.html",
        http_status=status,
        error=error,
        policy=policy,
        forced=ctx.user.must_change_password,
        next=safe_next(ctx.request.query.get("next")),
    )


async def show(ctx: Ctx) -> web.StreamResponse:
    return await password_form(ctx)


async def change(ctx: Ctx) -> web.StreamResponse:
    form = await ctx.form()
    old, new, again = (_field(form, n) for n in ("old", "new", "again"))
    target = safe_next(_field(form, "next"))
    if new != again:
        return await password_form(ctx, "两次输入的新密码不一致。", 422)
    # Proving the old password is a login: counted and slowed down like one, so a session
    # left open cannot be used to guess the password and keep access after it ends.
    state = ctx.state
    keys = throttle_keys(
        state, ctx.user.username, client_address(ctx.request, state.trusted_proxies), None
    )
    attempt = await state.throttle.attempt(keys, state.clock())
    if not attempt.allowed:
        seconds = retry_after(attempt.wait)
        response = await password_form(ctx, f"尝试次数过多，请 {seconds} 秒后再试。", 429)
        response.headers["Retry-After"] = str(seconds)
        return response
    try:
        user = await users.change_own_password(
            ctx.user.username, old, new, ctx.config.staff.password
        )
    except users.WrongPassword as exc:
        response = await password_form(ctx, str(exc), exc.status_code)
        if attempt.wait > 0:
            response.headers["Retry-After"] = str(retry_after(attempt.wait))
        return response
    except Refusal as exc:  # the old password was right: the attempt is taken back
        await state.throttle.succeeded(keys[0][0], keys[1:])
        return await password_form(ctx, str(exc), exc.status_code)
    await state.throttle.succeeded(keys[0][0], keys[1:])
    ended = await ctx.state.sessions.end_user(user.id, keep=current_session(ctx.request))
    # The session goes on under the new password (its fingerprint follows the new hash).
    (await get_session(ctx.request))[FINGERPRINT] = fingerprint(user.password_hash)
    note = f"，已注销您在其他地方的 {ended} 个登录" if ended else ""
    await ctx.flash("ok", f"密码已修改{note}。")
    raise web.HTTPSeeOther(target)


ROUTES = [
    Route("GET", PASSWORD_PAGE, show, ()),
    Route("POST", PASSWORD_PAGE, change, ()),
]
