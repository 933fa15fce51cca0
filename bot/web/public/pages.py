"""The public website: Atom, RSS and JSON feeds (all items and one per column) and a page per
item, built from the feed channel's completed deliveries, with conditional GET on each.

An item is public while it is not retracted and some version of it has a done `feed` publish
delivery; it shows the highest such version. A retracted item that had been public answers 410.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from aiohttp import web
from tortoise.expressions import Q
from tortoise.functions import Max, Min

from bot.config import Config
from bot.items.render import Renderer
from bot.models import (
    KIND_LABELS,
    VALIDITY_LABELS,
    Delivery,
    DeliveryAction,
    DeliveryStatus,
    Item,
    ItemStatus,
    ItemVersion,
    Kind,
)
from bot.web.keys import CONFIG, RENDERER
from channels import feed as feeds

FEED_CHANNEL = "feed"
ALL = "all"
# Large enough for any real id, small enough never to overflow a 64-bit integer column.
ITEM_ID = re.compile(r"[0-9]{1,15}")

FORMATS: dict[str, tuple[Callable[[feeds.FeedMeta, list[feeds.FeedEntry]], bytes], str]] = {
    "atom": (feeds.atom, "application/atom+xml"),
    "rss": (feeds.rss, "application/rss+xml"),
    "json": (feeds.json_feed, "application/feed+json"),
}
HTML = "text/html"
# Clients may keep a copy but must ask again (cheaply, with the validators) before using it.
CACHE_CONTROL = "no-cache"


@dataclass(frozen=True)
class Publication:
    """What the feed channel completed for one item: its newest done version and when."""

    item_id: int
    version: int
    published: datetime  # first done feed delivery
    updated: datetime  # latest done feed delivery


def _done_feed_deliveries() -> Any:
    return Delivery.filter(
        channel=FEED_CHANNEL,
        action=DeliveryAction.PUBLISH.value,
        status=DeliveryStatus.DONE.value,
    )


async def publications(column: str | None, limit: int) -> list[Publication]:
    """The public items (of a column, or all), newest update first: one grouped query."""
    query = _done_feed_deliveries().exclude(item__status=ItemStatus.RETRACTED.value)
    if column is not None:
        query = query.filter(item__column=column)
    rows = (
        await query.annotate(
            first=Min("finished_at"), last=Max("finished_at"), top=Max("item_version")
        )
        .group_by("item_id")
        .order_by("-last", "-item_id")
        .limit(limit)
        .values("item_id", "first", "last", "top")
    )
    return [
        Publication(int(r["item_id"]), int(r["top"]), r["first"], r["last"])
        for r in rows
        if r["first"] is not None and r["last"] is not None
    ]


async def publication(item_id: int) -> Publication | None:
    """The publication of one item regardless of its status (None if the feed never had it)."""
    rows = (
        await _done_feed_deliveries()
        .filter(item_id=item_id)
        .annotate(first=Min("finished_at"), last=Max("finished_at"), top=Max("item_version"))
        .group_by("item_id")
        .values("first", "last", "top")
    )
    if not rows or rows[0]["first"] is None:
        return None
    row = rows[0]
    return Publication(item_id, int(row["top"]), row["first"], row["last"])


async def versions_for(pubs: list[Publication]) -> dict[tuple[int, int], ItemVersion]:
    """The published snapshots of several items in one query."""
    if not pubs:
        return {}
    wanted = Q(*(Q(item_id=p.item_id, version=p.version) for p in pubs), join_type=Q.OR)
    found = await ItemVersion.filter(wanted)
    return {(v.item_id, v.version): v for v in found}


async def last_retraction(column: str | None) -> datetime | None:
    """When an item last left this feed by retraction: a feed's Last-Modified must move then
    too, or a client asking only If-Modified-Since would keep the retracted entry."""
    query = _done_feed_deliveries().filter(
        item__status=ItemStatus.RETRACTED.value, item__retracted_at__isnull=False
    )
    if column is not None:
        query = query.filter(item__column=column)
    row = await query.order_by("-item__retracted_at").first().values("item__retracted_at")
    return row["item__retracted_at"] if row else None


# -- conditional GET -----------------------------------------------------------------------
def _http_date(value: datetime) -> str:
    return format_datetime(value.astimezone(UTC).replace(microsecond=0), usegmt=True)


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    strong = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == strong for tag in header.split(","))


def not_modified(request: web.Request, etag: str, last_modified: datetime | None) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present; else If-Modified-Since."""
    inm = request.headers.get("If-None-Match")
    if inm is not None:
        return _etag_matches(inm, etag)
    ims = request.headers.get("If-Modified-Since")
    if ims is None or last_modified is None:
        return False
    try:
        since = parsedate_to_datetime(ims)
    except (TypeError, ValueError):
        return False  # an unparsable date is ignored, as the RFC says
    if since.tzinfo is None:
        return False
    return last_modified.replace(microsecond=0) <= since


def validators(etag: str, last_modified: datetime | None) -> dict[str, str]:
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if last_modified is not None:
        headers["Last-Modified"] = _http_date(last_modified)
    return headers


def conditional(
    request: web.Request,
    body: bytes,
    content_type: str,
    etag: str,
    last_modified: datetime | None,
) -> web.Response:
    headers = validators(etag, last_modified)
    if not_modified(request, etag, last_modified):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type=content_type, charset="utf-8", headers=headers)


# -- feeds ---------------------------------------------------------------------------------
def feed_meta(config: Config, key: str) -> feeds.FeedMeta | None:
    base = config.app.public_base_url
    title = config.channels.feed.title
    if key == ALL:
        subtitle = f"{config.app.name}：全部栏目"
    else:
        column = config.columns.get(key)
        if column is None:
            return None
        title = f"{title} · {column.name}"
        subtitle = f"{config.app.name}：{column.name}"
    return feeds.FeedMeta(
        title=title,
        subtitle=subtitle,
        self_url=f"{base}/feeds/{key}",
        site_url=f"{base}/",
        feed_id=f"{base}/feeds/{key}",
    )


async def feed_entries(renderer: Renderer, column: str | None, limit: int) -> list[feeds.FeedEntry]:
    pubs = await publications(column, limit)
    snapshots = await versions_for(pubs)
    validity = await marked_invalid([p.item_id for p in pubs])
    entries = []
    for pub in pubs:
        version = snapshots.get((pub.item_id, pub.version))
        if version is None:  # a done delivery always has its snapshot; never fail the feed
            continue
        content = renderer.render(version.snapshot, FEED_CHANNEL, version.approved_at)
        updated = pub.updated
        if pub.item_id in validity:  # a repealed or amended policy says so in every feed
            label, marked_at = validity[pub.item_id]
            content = replace(content, title=f"{content.title}（{label}）")
            updated = max(updated, marked_at)
        entries.append(feeds.FeedEntry(content, pub.published, updated))
    return entries


async def marked_invalid(item_ids: list[int]) -> dict[int, tuple[str, datetime]]:
    """Items marked amended, expired or repealed: their label and when it was marked."""
    if not item_ids:
        return {}
    rows = (
        await Item.filter(id__in=item_ids)
        .exclude(validity="")
        .values("id", "validity", "updated_at")
    )
    return {
        r["id"]: (VALIDITY_LABELS.get(r["validity"], r["validity"]), r["updated_at"]) for r in rows
    }


async def companions(item: Item) -> list[dict[str, Any]]:
    """三同步: a policy's page links its published interpretations, an interpretation's page
    its policy."""
    if item.kind == Kind.POLICY.value:
        candidates = await Item.filter(related_id=item.id, kind=Kind.INTERPRETATION.value)
    elif item.related_id:
        candidates = await Item.filter(id=item.related_id)
    else:
        return []
    out = []
    for other in candidates:
        if other.status != ItemStatus.RETRACTED.value and await publication(other.id):
            out.append(
                {"id": other.id, "title": other.title, "kind": KIND_LABELS[Kind(other.kind)]}
            )
    return out


async def feed(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    key, fmt = request.match_info["column"], request.match_info["format"]
    meta = feed_meta(config, key)
    if meta is None or fmt not in FORMATS:
        return not_found(request)
    column = None if key == ALL else key
    entries = await feed_entries(
        request.app[RENDERER], column, config.channels.feed.entries_per_feed
    )
    etag, last = feeds.validator(entries)
    retracted = await last_retraction(column)
    if retracted is not None and (last is None or retracted > last):
        last = retracted
        # The entries alone may repeat an earlier list (e.g. the retracted item was the only
        # one added since); the ETag must still differ from the one the client holds.
        etag = f'"{hashlib.sha256(f"{etag}:{retracted.isoformat()}".encode()).hexdigest()[:32]}"'
    build, content_type = FORMATS[fmt]
    return conditional(request, build(meta, entries), content_type, etag, last)


# -- pages ---------------------------------------------------------------------------------
def _page(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    html = request.app[RENDERER].page(template, **context)
    return web.Response(
        text=html,
        status=status,
        content_type=HTML,
        charset="utf-8",
        headers={"Cache-Control": CACHE_CONTROL},
    )


def not_found(request: web.Request) -> web.Response:
    return _page(request, "public/not_found.html", status=404)


async def item_page(request: web.Request) -> web.StreamResponse:
    raw = request.match_info["id"]
    if not ITEM_ID.fullmatch(raw):
        return not_found(request)
    item = await Item.get_or_none(id=int(raw))
    if item is None:
        return not_found(request)
    pub = await publication(item.id)
    if pub is None:
        return not_found(request)  # never public: its existence is not disclosed either
    if item.status == ItemStatus.RETRACTED.value:
        return _page(
            request, "public/gone.html", status=410, retracted_at=item.retracted_at, item_id=item.id
        )
    version = await ItemVersion.get_or_none(item_id=item.id, version=pub.version)
    if version is None:
        return not_found(request)
    renderer = request.app[RENDERER]
    config = request.app[CONFIG]
    snap = version.snapshot
    column = config.columns.get(snap.get("column", ""))
    html = renderer.page(
        "public/item.html",
        item=snap,
        body_html=renderer.body_html(snap.get("body", "")),
        kind_label=KIND_LABELS[Kind(snap["kind"])],
        column_key=snap.get("column", "") if column else "",
        column_label=column.name if column else snap.get("column", ""),
        published=pub.published,
        updated=pub.updated,
        url=renderer.item_url(item.id),
        validity_label=VALIDITY_LABELS.get(item.validity, "") if item.validity else "",
        companions=await companions(item),
    ).encode()
    # The ETag covers the bytes, so a template or configuration change is seen by clients too.
    etag = f'"{hashlib.sha256(html).hexdigest()[:32]}"'
    return conditional(request, html, HTML, etag, pub.updated)


def setup(app: web.Application) -> None:
    app.router.add_get(r"/feeds/{column}.{format}", feed, name="public.feed")
    app.router.add_get("/items/{id}", item_page, name="public.item")
