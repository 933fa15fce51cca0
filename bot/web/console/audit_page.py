"""审计日志: the hash-chained audit log told as sentences (audit_text.py: who by display
name, what in Chinese, the item by its title, the details in words), filtered by person, item,
action and date range (dates in the configured zone), paginated with the filters kept, with the
chain's verification status on top, and exported as CSV (audit_csv.py) with the same filters,
streamed in batches however long the log. For the auditor only (三员分立): an admin reads it
when also an auditor, or when `[staff] separate_duties = false` merges the duties."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from bot import audit
from bot.models import AuditEvent, Delivery, Item, Role, User
from bot.web.console import audit_csv
from bot.web.console.audit_actions import action_text, choices
from bot.web.console.audit_text import tell_all
from bot.web.console.core import ALL_STAFF, MODERATOR, PREFIX, Ctx, Pager, Route, with_headers
from bot.web.console.labels import SYSTEM_LABELS, Names, person

AUDITOR = (Role.AUDITOR,)
PAGE = f"{PREFIX}/audit"
CSV = f"{PREFIX}/audit.csv"
FILTERS = ("actor", "action", "item", "target", "since", "until")
CSV_BATCH = 500  # events read, told and written at a time: the export's memory is this many
ITEM_MATCHES = 200  # items whose title matches a search, at most


@dataclass
class Search:
    shown: dict[str, str]  # the filters as entered
    events: QuerySet[AuditEvent]
    errors: list[str]


def _date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


async def _actor(raw: str) -> str:
    """The actor as stored: the select gives it whole; a username typed alone is the user."""
    if ":" not in raw and await User.filter(username=raw).exists():
        return f"user:{raw}"
    return raw


async def _items(raw: str) -> list[int]:
    """The items a search names: a number (#12 or 12), else the titles containing it."""
    number = raw.removeprefix("#").strip()
    if number.isdigit() and len(number) < 10:
        return [int(number)]
    rows = await Item.filter(title__icontains=raw).order_by("-id").limit(ITEM_MATCHES)
    return [i.id for i in rows]


async def search(ctx: Ctx) -> Search:
    q = ctx.request.query
    f = {name: q.get(name, "").strip()[:128] for name in FILTERS}
    errors = []
    qs = AuditEvent.all()
    if f["actor"]:
        qs = qs.filter(actor=await _actor(f["actor"]))
    if f["action"]:
        qs = qs.filter(action=f["action"])
    if f["item"]:
        ids = await _items(f["item"])
        if not ids:
            errors.append(f"没有标题含「{f['item']}」的稿件。")
        keys = [str(i) for i in ids] or ["-"]
        deliveries = await Delivery.filter(item_id__in=ids or [0]).values_list("id", flat=True)
        # An item's story: its own events and those of its deliveries (as on its history page)
        about = Q(target_type="item", target_id__in=keys)
        if deliveries:
            about |= Q(target_type="delivery", target_id__in=[str(d) for d in deliveries])
        qs = qs.filter(about)
    if f["target"]:
        kind, sep, ident = f["target"].partition(":")
        qs = qs.filter(target_type=kind, target_id=ident) if sep else qs.filter(target_id=kind)
    tz = ctx.state.tz
    for name, op in (("since", "at__gte"), ("until", "at__lt")):
        day = _date(f[name])
        if f[name] and day is None:
            errors.append(f"日期「{f[name]}」格式不正确，应为 年-月-日。")
        elif day is not None:
            if name == "until":
                day += timedelta(days=1)  # the end date is included
            start = datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)
            qs = qs.filter(**{op: start})
    return Search(f, qs, errors)


def _linkable(ctx: Ctx) -> set[str]:
    """The targets this reader may open: an auditor alone reads names, without links."""
    kinds = set()
    if ctx.has(*ALL_STAFF):
        kinds.add("item")
    if ctx.has(*MODERATOR):
        kinds.add("comment")
    if ctx.has(Role.ADMIN):
        kinds.add("user")
    return kinds


async def _people(current: str) -> list[tuple[str, str]]:
    """The 操作人 choices: every account by name, then the parts of the system that act."""
    people = [(f"user:{u.username}", person(u)) for u in await User.all().order_by("username")]
    people += [(f"system:{key}", f"系统（{label}）") for key, label in SYSTEM_LABELS.items()]
    if current and current not in {value for value, _ in people}:
        names = await Names.load(actors=[current])
        people.insert(0, (current, names.actor(current)))
    return people


async def audit_log(ctx: Ctx) -> web.StreamResponse:
    found = await search(ctx)
    pager = Pager.from_request(ctx.request, ctx.state.cfg.page_size, await found.events.count())
    events = await found.events.order_by("-id").offset(pager.offset).limit(pager.size)
    actions = choices()
    current = found.shown["action"]
    if current and all(current != a for _, group in actions for a, _ in group):
        actions.insert(0, ("", [(current, action_text(current).label)]))
    actor = await _actor(found.shown["actor"]) if found.shown["actor"] else ""
    query = {k: v for k, v in found.shown.items() if v}
    return await ctx.render(
        "console/audit.html",
        told=await tell_all(events, ctx.state.tz, _linkable(ctx)),
        pager=pager,
        f=found.shown,
        actor=actor,
        people=await _people(actor),
        actions=actions,
        errors=found.errors,
        verify=await audit.verify(),
        export=f"{CSV}?{urlencode(query)}" if query else CSV,
    )


async def audit_export(ctx: Ctx) -> web.StreamResponse:
    """The filtered log as CSV, newest first, streamed a batch at a time."""
    found = await search(ctx)
    if found.errors:  # the page says what is wrong with the filters
        raise ctx.redirect(f"{PAGE}?{urlencode(ctx.request.query)}")
    stamp = datetime.now(ctx.state.tz).strftime("%Y%m%d-%H%M")
    filename = f"audit-{stamp}.csv"
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"; '
            f"filename*=UTF-8''{quote(f'审计日志-{stamp}.csv')}",
        }
    )
    with_headers(response)  # sent before the rows: the console's headers go now
    await response.prepare(ctx.request)
    await response.write(audit_csv.head())
    last: Any = None
    while True:
        batch_query = found.events if last is None else found.events.filter(id__lt=last)
        batch = await batch_query.order_by("-id").limit(CSV_BATCH)
        if not batch:
            break
        told = await tell_all(batch, ctx.state.tz)
        await response.write(audit_csv.encode(audit_csv.row(t) for t in told))
        if len(batch) < CSV_BATCH:
            break
        last = batch[-1].id
    await response.write_eof()
    return response


ROUTES = [
    Route("GET", PAGE, audit_log, AUDITOR),
    Route("GET", CSV, audit_export, AUDITOR),
]
