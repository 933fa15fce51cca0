"""发布队列: the items by status (tabs with counts), searched and filtered, paginated, with a
badge per channel from their deliveries; and the month calendar of what is scheduled and what
went out."""

from __future__ import annotations

import calendar as cal
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web
from tortoise.expressions import Q, Subquery
from tortoise.functions import Count
from tortoise.queryset import QuerySet

from bot.models import (
    DELIVERY_STATUS_LABELS,
    KIND_LABELS,
    STATUS_LABELS,
    Delivery,
    DeliveryAction,
    DeliveryStatus,
    Item,
    ItemStatus,
    Kind,
)
from bot.reports.labels import channel_label
from bot.web.console.core import PREFIX, Ctx, Pager, Route

SEARCH_MAX = 100
CALENDAR_MAX = 500  # entries in one month's grid


@dataclass(frozen=True)
class Badge:
    channel: str
    label: str
    status: str
    status_label: str


async def badges_for(ctx: Ctx, items: list[Item]) -> dict[int, list[Badge]]:
    """Each item's publish deliveries of its current version, one badge per channel."""
    if not items:
        return {}
    versions = {i.id: i.version for i in items}
    rows = await Delivery.filter(
        item_id__in=list(versions), action=DeliveryAction.PUBLISH.value
    ).order_by("channel")
    out: dict[int, list[Badge]] = defaultdict(list)
    for d in rows:
        if versions.get(d.item_id) != d.item_version:
            continue
        label = DELIVERY_STATUS_LABELS.get(DeliveryStatus(d.status), d.status)
        out[d.item_id].append(Badge(d.channel, channel_label(d.channel), d.status, label))
    return out


def _param(ctx: Ctx, name: str, limit: int = 64) -> str:
    return ctx.request.query.get(name, "").strip()[:limit]


def filtered(ctx: Ctx) -> tuple[QuerySet[Item], dict[str, str]]:
    """The items matching the search and filters (all statuses) and the filters as given."""
    f = {
        "q": _param(ctx, "q", SEARCH_MAX),
        "kind": _param(ctx, "kind"),
        "column": _param(ctx, "column"),
        "office": _param(ctx, "office", 128),
        "channel": _param(ctx, "channel"),
    }
    qs = Item.all()
    if f["q"]:
        qs = qs.filter(Q(title__icontains=f["q"]) | Q(doc_number__icontains=f["q"]))
    if f["kind"] in Kind._value2member_map_:
        qs = qs.filter(kind=f["kind"])
    else:
        f["kind"] = ""
    if f["column"]:
        qs = qs.filter(column=f["column"])
    if f["office"]:
        qs = qs.filter(office__icontains=f["office"])
    if f["channel"]:
        on_channel = Delivery.filter(channel=f["channel"]).values("item_id")
        qs = qs.filter(id__in=Subquery(on_channel))
    return qs, f


async def queue(ctx: Ctx) -> web.StreamResponse:
    qs, filters = filtered(ctx)
    status = _param(ctx, "status")
    if status not in ItemStatus._value2member_map_:
        status = ""
    rows = await qs.annotate(n=Count("id")).group_by("status").values("status", "n")
    counts = {r["status"]: int(r["n"]) for r in rows}
    tabs = [("", "全部", sum(counts.values()))] + [
        (s.value, label, counts.get(s.value, 0)) for s, label in STATUS_LABELS.items()
    ]
    listed = qs.filter(status=status) if status else qs
    total = counts.get(status, 0) if status else sum(counts.values())
    pager = Pager.from_request(ctx.request, ctx.state.cfg.page_size, total)
    items = await listed.order_by("-updated_at", "-id").offset(pager.offset).limit(pager.size)
    return await ctx.render(
        "console/queue.html",
        items=items,
        badges=await badges_for(ctx, items),
        tabs=tabs,
        status=status,
        filters=filters,
        tab_query={k: v for k, v in filters.items() if v},
        pager=pager,
        kinds=KIND_LABELS,
        status_labels=STATUS_LABELS,
        columns=ctx.config.columns,
        channels=[(n, channel_label(n)) for n in ctx.config.channels.enabled_names()],
    )


def _month(raw: str, today: date) -> date:
    try:
        year, month = (int(p) for p in raw.split("-", 1))
        return date(year, month, 1) if 2000 <= year <= 2100 else today.replace(day=1)
    except ValueError:
        return today.replace(day=1)


async def calendar_page(ctx: Ctx) -> web.StreamResponse:
    tz = ctx.state.tz
    today = datetime.now(tz).date()
    first = _month(_param(ctx, "month", 7), today)
    nxt = (first + timedelta(days=32)).replace(day=1)
    prev = (first - timedelta(days=1)).replace(day=1)
    start = datetime(first.year, first.month, 1, tzinfo=tz).astimezone(UTC)
    end = datetime(nxt.year, nxt.month, 1, tzinfo=tz).astimezone(UTC)
    items = (
        await Item.filter(
            Q(publish_at__gte=start, publish_at__lt=end)
            | Q(published_at__gte=start, published_at__lt=end)
        )
        .exclude(status=ItemStatus.RETRACTED.value)
        .order_by("publish_at", "published_at", "id")
        .limit(CALENDAR_MAX)
    )
    by_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        when = item.published_at or item.publish_at
        if item.publish_at is not None and start <= item.publish_at < end:
            when = item.publish_at
        if when is None:
            continue
        local = when.astimezone(tz)
        by_day[local.date()].append(
            {
                "item": item,
                "time": local.strftime("%H:%M"),
                "label": STATUS_LABELS[ItemStatus(item.status)],
            }
        )
    weeks = cal.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    return await ctx.render(
        "console/calendar.html",
        first=first,
        prev=prev.strftime("%Y-%m"),
        next=nxt.strftime("%Y-%m"),
        weeks=weeks,
        by_day=by_day,
        today=today,
        count=len(items),
        capped=len(items) >= CALENDAR_MAX,
    )


ROUTES = [
    Route("GET", f"{PREFIX}/", queue),
    Route("GET", f"{PREFIX}/calendar", calendar_page),
]
