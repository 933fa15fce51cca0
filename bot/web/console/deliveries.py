"""投递: every delivery with its channel, status (Chinese labels), attempts, next attempt and
last error; filters and pagination; dead ones stand out; retry and cancel buttons."""

from __future__ import annotations

from aiohttp import web

from bot.errors import Refusal
from bot.models import (
    DELIVERY_ACTION_LABELS,
    DELIVERY_STATUS_LABELS,
    Delivery,
    DeliveryStatus,
    Item,
    Role,
)
from bot.outbox import ops as delivery_ops
from bot.reports.labels import channel_label
from bot.web.console.core import PREFIX, Ctx, Pager, Route, safe_next
from bot.web.keys import WAKEUP

REVIEWER = (Role.REVIEWER,)
PROBLEMS = ("dead", "unconfirmed", "missed")


async def deliveries(ctx: Ctx) -> web.StreamResponse:
    q = ctx.request.query
    status = q.get("status", "")
    channel = q.get("channel", "")[:32]
    qs = Delivery.all()
    if status == "problem":
        qs = qs.filter(status__in=PROBLEMS)
    elif status in DeliveryStatus._value2member_map_:
        qs = qs.filter(status=status)
    else:
        status = ""
    if channel:
        qs = qs.filter(channel=channel)
    problems = await Delivery.filter(status__in=PROBLEMS).count()
    pager = Pager.from_request(ctx.request, ctx.state.cfg.page_size, await qs.count())
    rows = await qs.order_by("-id").offset(pager.offset).limit(pager.size)
    items = {i.id: i for i in await Item.filter(id__in={d.item_id for d in rows})}
    names = sorted({*ctx.config.channels.enabled_names(), *(d.channel for d in rows)})
    return await ctx.render(
        "console/deliveries.html",
        rows=rows,
        items=items,
        show_item=True,
        pager=pager,
        status=status,
        channel=channel,
        problems=problems,
        channels=[(n, channel_label(n)) for n in names],
        channel_label=channel_label,
        delivery_labels=DELIVERY_STATUS_LABELS,
        action_labels=DELIVERY_ACTION_LABELS,
    )


async def _act(ctx: Ctx, retry: bool) -> web.StreamResponse:
    delivery_id = ctx.int_param("id")
    form = await ctx.form()
    back = form.get("next")
    try:
        d = (
            await delivery_ops.retry(delivery_id, ctx.actor)
            if retry
            else await delivery_ops.cancel(delivery_id, ctx.actor)
        )
    except Refusal as exc:
        await ctx.flash("error", str(exc))
        raise ctx.redirect(safe_next(back if isinstance(back, str) else None)) from exc
    if retry:
        ctx.request.app[WAKEUP].notify()
    await ctx.flash("ok", f"投递 #{d.id} 已{'重新排入发送队列' if retry else '取消'}。")
    target = back if isinstance(back, str) and back else f"{PREFIX}/items/{d.item_id}"
    raise ctx.redirect(safe_next(target))


async def retry(ctx: Ctx) -> web.StreamResponse:
    return await _act(ctx, retry=True)


async def cancel(ctx: Ctx) -> web.StreamResponse:
    return await _act(ctx, retry=False)


ROUTES = [
    Route("GET", f"{PREFIX}/deliveries", deliveries),
    Route("POST", f"{PREFIX}/deliveries/{{id}}/retry", retry, REVIEWER),
    Route("POST", f"{PREFIX}/deliveries/{{id}}/cancel", cancel, REVIEWER),
]
