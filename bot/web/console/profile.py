"""个人设置: a person's own settings besides the password; for now where 预览到手机 reaches them
(their WeChat openid under the account, or their 微信号; bot/wechat/preview.py)."""

from __future__ import annotations

from aiohttp import web

from bot.errors import Refusal
from bot.web.console.core import ALL_STAFF, PREFIX, Ctx, Route
from bot.wechat import preview

PROFILE_PAGE = f"{PREFIX}/profile"


async def _form(ctx: Ctx, error: str = "", status: int = 200, **typed: str) -> web.Response:
    return await ctx.render(
        "console/profile.html",
        http_status=status,
        error=error,
        openid=typed.get("openid", ctx.user.wechat_openid),
        wxname=typed.get("wxname", ctx.user.wechat_id),
        max_length=preview.OPENID_MAX,
    )


async def show(ctx: Ctx) -> web.StreamResponse:
    return await _form(ctx)


async def save(ctx: Ctx) -> web.StreamResponse:
    form = await ctx.form()
    openid, wxname = (str(form.get(n, ""))[:200] for n in ("openid", "wxname"))
    try:
        await preview.set_recipient(ctx.user, ctx.actor, openid, wxname)
    except Refusal as exc:
        return await _form(ctx, str(exc), exc.status_code, openid=openid, wxname=wxname)
    await ctx.flash("ok", "个人设置已保存。")
    raise web.HTTPSeeOther(PROFILE_PAGE)


# Staff only: the WeChat id is for 预览到手机; an auditor reads the audit log and nothing else.
ROUTES = [Route("GET", PROFILE_PAGE, show, ALL_STAFF), Route("POST", PROFILE_PAGE, save, ALL_STAFF)]
