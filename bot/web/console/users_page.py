"""人员管理 (admins only, every change audited): the staff accounts with their roles and state;
add an account (its first password shown once, to be changed at first login), change roles,
disable and enable, reset a password, clear a login throttle, and see and end a user's
sessions and API tokens. The CLI (`gongkai user …`, `gongkai token …`) does the same."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot import users
from bot.actors import Actor
from bot.models import ROLE_LABELS, SCOPE_LABELS, ApiToken, Role, Scope, User
from bot.staff import access
from bot.staff.throttle import account_key, retry_after
from bot.web.console.auth import current_session
from bot.web.console.core import PREFIX, Ctx, Route

ADMIN = (Role.ADMIN,)
PAGE = f"{PREFIX}/users"
ROLE_CHOICES = [(r.value, ROLE_LABELS[r]) for r in Role]
AUDITOR = Role.AUDITOR.value
# 三员分立: the console's admin neither makes nor unmakes an auditor, nor knows an auditor's
# password; the operator on the server does that with the command line.
AUDITOR_BY_CLI = (
    "三员分立：审计员账号只能由服务器上的命令行设置（gongkai user add / reset-password），"
    "管理员不能在工作台授予或取消审计员角色，也不能重设审计员的密码。"
)


def _auditor_change(ctx: Ctx, before: list[str], after: list[str]) -> bool:
    """Whether this change of roles makes or unmakes an auditor while duties are separate."""
    return ctx.config.staff.separate_duties and (AUDITOR in before) != (AUDITOR in after)


def _text(form: Any, name: str, limit: int = 128) -> str:
    value = form.get(name, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


async def _target(ctx: Ctx) -> User:
    user = await User.filter(id=ctx.int_param("user_id")).first()
    if user is None:
        raise web.HTTPNotFound()
    return user


async def _blocked(ctx: Ctx, user: User) -> int:
    """Seconds the account must still wait before its next login try (0: none)."""
    wait = await ctx.state.throttle.wait([account_key(user.username)], ctx.state.clock())
    return retry_after(wait) if wait > 0 else 0


async def list_page(ctx: Ctx, **extra: Any) -> web.Response:
    accounts = await users.list_users()
    context: dict[str, Any] = {
        "form": {"username": "", "display_name": "", "office": "", "roles": []},
        "error": "",
        "created": None,
        **extra,
    }
    return await ctx.render(
        "console/users.html",
        http_status=context.pop("http_status", 200),
        accounts=accounts,
        role_choices=ROLE_CHOICES,
        role_labels={r.value: ROLE_LABELS[r] for r in Role},
        blocked={u.id: await _blocked(ctx, u) for u in accounts},
        **context,
    )


async def list_users(ctx: Ctx) -> web.StreamResponse:
    return await list_page(ctx)


async def add(ctx: Ctx) -> web.StreamResponse:
    form = await ctx.form()
    # Not cut to length: add_user refuses a name that is too long rather than shortening it.
    username = _text(form, "username", 1000)
    display_name, office = _text(form, "display_name"), _text(form, "office")
    roles = [r for r in form.getall("roles", []) if isinstance(r, str)]
    values = {"username": username, "display_name": display_name, "office": office, "roles": roles}
    if _auditor_change(ctx, [], roles):
        return await list_page(ctx, form=values, error=AUDITOR_BY_CLI, http_status=403)
    policy = ctx.config.staff.password
    password = users.new_secret(policy, (username, display_name))
    try:
        user = await users.add_user(
            username,
            roles,
            password,
            ctx.actor.name,
            display_name,
            office,
            policy=policy,
            must_change=True,
            separate_duties=ctx.config.staff.separate_duties,
        )
    except users.UserError as exc:
        return await list_page(ctx, form=values, error=str(exc), http_status=exc.status_code)
    # Shown once, in this answer only (never in a redirect or a flash message).
    return await list_page(ctx, created={"user": user, "password": password})


async def detail(ctx: Ctx, **extra: Any) -> web.Response:
    user = await _target(ctx)
    state = ctx.state
    sessions = await state.sessions.list_user(user.id, state.clock(), state.idle)
    tokens: list[ApiToken] = await users.list_tokens(user.username)
    context: dict[str, Any] = {"error": "", "password": None, **extra}
    return await ctx.render(
        "console/user.html",
        http_status=context.pop("http_status", 200),
        account=user,
        role_choices=ROLE_CHOICES,
        role_labels={r.value: ROLE_LABELS[r] for r in Role},
        scope_labels={sc.value: SCOPE_LABELS[sc] for sc in Scope},
        sessions=sessions,
        current=current_session(ctx.request),
        tokens=tokens,
        blocked=await _blocked(ctx, user),
        self_page=user.id == ctx.user.id,
        **context,
    )


async def show(ctx: Ctx) -> web.StreamResponse:
    return await detail(ctx)


def _back(user: User) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"{PAGE}/{user.id}")


async def set_roles(ctx: Ctx) -> web.StreamResponse:
    user = await _target(ctx)
    form = await ctx.form()
    roles = [r for r in form.getall("roles", []) if isinstance(r, str)]
    if _auditor_change(ctx, list(user.roles), roles):
        return await detail(ctx, error=AUDITOR_BY_CLI, http_status=403)
    try:
        await users.set_roles(
            user.username,
            roles,
            ctx.actor.name,
            separate_duties=ctx.config.staff.separate_duties,
        )
    except users.UserError as exc:
        return await detail(ctx, error=str(exc), http_status=exc.status_code)
    await ctx.flash("ok", f"已更新 {user.username} 的角色。")
    raise _back(user)


async def disable(ctx: Ctx) -> web.StreamResponse:
    user = await _target(ctx)
    if user.id == ctx.user.id:
        return await detail(ctx, error="不能停用自己的账号。", http_status=422)
    try:
        await users.disable_user(user.username, ctx.actor.name)
    except users.UserError as exc:
        return await detail(ctx, error=str(exc), http_status=exc.status_code)
    ended = await access.end_sessions(ctx.state.sessions, user, ctx.actor.name, "disable")
    await ctx.flash("ok", f"已停用 {user.username}，注销其 {ended} 个登录；其 API 令牌随之失效。")
    raise _back(user)


async def enable(ctx: Ctx) -> web.StreamResponse:
    user = await _target(ctx)
    try:
        await users.enable_user(user.username, ctx.actor.name)
    except users.UserError as exc:
        return await detail(ctx, error=str(exc), http_status=exc.status_code)
    await ctx.flash("ok", f"已启用 {user.username}。")
    raise _back(user)


async def reset_password(ctx: Ctx) -> web.StreamResponse:
    user = await _target(ctx)
    if user.id == ctx.user.id:
        return await detail(ctx, error="请在“修改密码”中修改自己的密码。", http_status=422)
    if ctx.config.staff.separate_duties and Actor.of_user(user).has(Role.AUDITOR):
        return await detail(ctx, error=AUDITOR_BY_CLI, http_status=403)
    policy = ctx.config.staff.password
    password = users.new_secret(policy, (user.username, user.display_name))
    try:
        await users.reset_password(
            user.username, password, ctx.actor.name, policy=policy, must_change=True
        )
    except users.UserError as exc:
        return await detail(ctx, error=str(exc), http_status=exc.status_code)
    await access.end_sessions(ctx.state.sessions, user, ctx.actor.name, "reset_password")
    # Shown once, in this answer only.
    return await detail(ctx, password=password)


async def unlock(ctx: Ctx) -> web.StreamResponse:
    user = await _target(ctx)
    cleared = await access.unlock(ctx.state.throttle, user, ctx.actor.name)
    message = "已解除登录限制。" if cleared else "该账号没有登录限制，已记录本次操作。"
    await ctx.flash("ok", f"{user.username}：{message}")
    raise _back(user)


async def end_sessions(ctx: Ctx) -> web.StreamResponse:
    user = await _target(ctx)
    form = await ctx.form()
    which = _text(form, "session", 64)
    ended = await access.end_sessions(
        ctx.state.sessions, user, ctx.actor.name, "revoke", None if which == "all" else which
    )
    await ctx.flash("ok", f"已注销 {user.username} 的 {ended} 个登录。")
    raise _back(user)


async def revoke_token(ctx: Ctx) -> web.StreamResponse:
    user = await _target(ctx)
    token_id = ctx.int_param("token_id")
    if not await ApiToken.filter(id=token_id, user_id=user.id).exists():
        raise web.HTTPNotFound()
    try:
        token = await users.revoke_token(token_id, ctx.actor.name)
    except users.UserError as exc:
        return await detail(ctx, error=str(exc), http_status=exc.status_code)
    await ctx.flash("ok", f"已吊销令牌 {token.prefix}…（{token.name}）。")
    raise _back(user)


ROUTES = [
    Route("GET", PAGE, list_users, ADMIN),
    Route("POST", PAGE, add, ADMIN),
    Route("GET", PAGE + "/{user_id}", show, ADMIN),
    Route("POST", PAGE + "/{user_id}/roles", set_roles, ADMIN),
    Route("POST", PAGE + "/{user_id}/disable", disable, ADMIN),
    Route("POST", PAGE + "/{user_id}/enable", enable, ADMIN),
    Route("POST", PAGE + "/{user_id}/reset-password", reset_password, ADMIN),
    Route("POST", PAGE + "/{user_id}/unlock", unlock, ADMIN),
    Route("POST", PAGE + "/{user_id}/sessions", end_sessions, ADMIN),
    Route("POST", PAGE + "/{user_id}/tokens/{token_id}/revoke", revoke_token, ADMIN),
]
