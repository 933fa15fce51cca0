"""What the item editor and the review page share: submitting an item, with the outcome of
pre-review told to the user."""

from __future__ import annotations

from bot.errors import Refusal
from bot.items import lifecycle
from bot.models import ItemStatus
from bot.web.console.core import Ctx
from bot.web.keys import LINKS


async def submit_flashed(ctx: Ctx, item_id: int) -> None:
    """Submit an item for review and tell the user, in a flash, what pre-review decided."""
    try:
        outcome = await lifecycle.submit(item_id, ctx.actor, ctx.config, ctx.request.app[LINKS])
    except Refusal as exc:
        await ctx.flash("error", str(exc))
        return
    if outcome.item.status == ItemStatus.RETURNED.value:
        await ctx.flash("error", f"预审未通过，已退文：{outcome.item.return_reason}")
    else:
        await ctx.flash("ok", "已提交，预审通过，等待审核。")
