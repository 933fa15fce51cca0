"""The WeChat back-office actions of the console: 预览到手机 and 打开/关闭留言 from the item page,
精选 and 删除 of a WeChat comment (or of our reply to it) from the inbox. Each goes through
bot.wechat.preview or bot.wechat.comment_admin; a refusal is flashed in Chinese."""

from __future__ import annotations

from aiohttp import web

from bot.errors import Refusal
from bot.models import Role
from bot.web.console.core import PREFIX, Ctx, Route
from bot.wechat import comment_admin, preview


def _item(item_id: int) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"{PREFIX}/items/{item_id}")


async def _field(ctx: Ctx, name: str, limit: int = 2000) -> str:
    value = (await ctx.form()).get(name, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


async def send_preview(ctx: Ctx) -> web.StreamResponse:
    item_id = ctx.int_param("id")
    try:
        sent = await preview.preview_item(ctx.config, item_id, ctx.actor, ctx.user.username)
    except Refusal as exc:
        await ctx.flash("error", str(exc))
        raise _item(item_id) from exc
    await ctx.flash("ok", f"已将第 {sent.version} 版预览发送到您的微信，请在手机上查看。")
    raise _item(item_id)


async def set_comments(ctx: Ctx) -> web.StreamResponse:
    item_id = ctx.int_param("id")
    open_ = await _field(ctx, "open") == "1"
    verb = "打开" if open_ else "关闭"
    try:
        done = await comment_admin.set_item_comments(ctx.config, item_id, ctx.actor, open_)
    except Refusal as exc:
        await ctx.flash("error", str(exc))
        raise _item(item_id) from exc
    await ctx.flash("ok", f"已{verb}本稿在微信上的留言（{len(done)} 篇文章）。")
    raise _item(item_id)


async def comment_action(ctx: Ctx) -> web.StreamResponse:
    cid = ctx.int_param("id")
    action = await _field(ctx, "action", 32)
    reason = await _field(ctx, "reason")
    back = web.HTTPSeeOther(f"{PREFIX}/inbox/{cid}")
    try:
        await comment_admin.comment_action(ctx.config, cid, ctx.actor, action, reason)
    except Refusal as exc:
        await ctx.flash("error", str(exc))
        raise back from exc
    label = comment_admin.ACTION_LABELS[action]
    await ctx.flash("ok", f"已在微信{label}。")
    raise back


ROUTES = [
    Route(
        "POST", f"{PREFIX}/items/{{id}}/wechat/preview", send_preview, (Role.EDITOR, Role.REVIEWER)
    ),
    Route(
        "POST",
        f"{PREFIX}/items/{{id}}/wechat/comments",
        set_comments,
        (Role.MODERATOR, Role.REVIEWER),
    ),
    Route("POST", f"{PREFIX}/inbox/{{id}}/wechat", comment_action, (Role.MODERATOR,)),
]
