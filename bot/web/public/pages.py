"""The public website: Atom, RSS and JSON feeds (all items and one per column) and a page per
item, built from the feed channel's completed deliveries, with conditional GET on each.

An item is public while it is not retracted and some version of it has a done `feed` publish
delivery; it shows the highest such version. A retracted item that had been public answers 410.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.config import Config
from bot.items.render import Renderer
from bot.models import (
    KIND_LABELS,
    VALIDITY_LABELS,
    Item,
    ItemStatus,
    ItemVersion,
    Kind,
)
from bot.web.keys import CONFIG, RENDERER
from bot.web.public.http import (
    HTML,
    conditional,
    not_found,
    page,
)
from bot.web.public.published import (
    FEED_CHANNEL,
    ITEM_ID,
    last_retraction,
    publication,
    publications,
    versions_for,
)
from channels import feed as feeds

ALL = "all"

FORMATS: dict[str, tuple[Callable[[feeds.FeedMeta, list[feeds.FeedEntry]], bytes], str]] = {
    "atom": (feeds.atom, "application/atom+xml"),
    "rss": (feeds.rss, "application/rss+xml"),
    "json": (feeds.json_feed, "application/feed+json"),
}


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
        return page(
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
