"""The public website: Atom, RSS and JSON feeds (all items and one per column) and a page per
item, built from the feed channel's completed deliveries. Each is built once per site change
(keys "item:<id>" and "feed:<column>:<format>", bot/site/) and served from memory.

An item is public while it is not retracted and some version of it has a done `feed` publish
delivery; it shows the highest such version. A retracted item that had been public answers 410.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from aiohttp import web
from tortoise.expressions import Q

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
from bot.site.built import build
from bot.site.cache import Result
from bot.site.published import (
    FEED_CHANNEL,
    is_id,
    last_retraction,
    publication,
    publications,
    validity_marks,
    versions_for,
)
from bot.site.serve import PublicSite
from bot.web.keys import CONFIG, RENDERER, SITE
from bot.web.public.errors import guard
from bot.web.public.http import not_found, site_of
from channels import feed as feeds

ALL = "all"

FORMATS: dict[str, tuple[Callable[[feeds.FeedMeta, list[feeds.FeedEntry]], bytes], str]] = {
    "atom": (feeds.atom, "application/atom+xml; charset=utf-8"),
    "rss": (feeds.rss, "application/rss+xml; charset=utf-8"),
    "json": (feeds.json_feed, "application/feed+json; charset=utf-8"),
}


# -- feeds ---------------------------------------------------------------------------------
def feed_meta(config: Config, key: str, updated: datetime) -> feeds.FeedMeta | None:
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
        updated=updated,
    )


async def feed_entries(renderer: Renderer, column: str | None, limit: int) -> list[feeds.FeedEntry]:
    pubs = await publications(column, limit)
    snapshots = await versions_for(pubs)
    validity = await validity_marks([p.item_id for p in pubs])
    entries = []
    for pub in pubs:
        version = snapshots.get((pub.item_id, pub.version))
        if version is None:  # a done delivery always has its snapshot; never fail the feed
            continue
        content = renderer.render(version.snapshot, FEED_CHANNEL, version.approved_at)
        updated = pub.updated
        if pub.item_id in validity:  # a repealed or amended policy says so in every feed
            label, marked_at = validity[pub.item_id]
            if label:
                content = replace(content, title=f"{content.title}（{label}）")
            updated = max(updated, marked_at)
        entries.append(feeds.FeedEntry(content, pub.published, updated))
    return entries


async def companions(
    item_id: int, shown: dict[str, Any]
) -> tuple[list[dict[str, Any]], datetime | None]:
    """三同步: a policy's page links its published interpretations, an interpretation's page
    its policy, as the published versions say (a draft edit of either changes nothing public
    until it is published); each by its published title. Also when the list last changed (a
    companion published, or retracted)."""
    if shown["kind"] == Kind.POLICY.value:
        # Linked now, or being edited (its row may say otherwise than what was published).
        settled = [ItemStatus.PUBLISHED.value, ItemStatus.PARTLY_PUBLISHED.value]
        candidates = await Item.filter(
            Q(related_id=item_id) | ~Q(status__in=[*settled, ItemStatus.RETRACTED.value]),
            kind=Kind.INTERPRETATION.value,
        )
    elif shown.get("related_id"):
        candidates = await Item.filter(id=shown["related_id"])
    else:
        return [], None
    live = [c for c in candidates if c.status != ItemStatus.RETRACTED.value]
    pubs = [p for p in [await publication(c.id) for c in live] if p is not None]
    snapshots = await versions_for(pubs)
    out, times = [], []
    for pub in pubs:
        version = snapshots.get((pub.item_id, pub.version))
        if version is None:
            continue
        snap = version.snapshot
        if shown["kind"] == Kind.POLICY.value and snap.get("related_id") != item_id:
            continue  # linked only by a draft, not by what was published
        out.append(
            {"id": pub.item_id, "title": snap["title"], "kind": KIND_LABELS[Kind(snap["kind"])]}
        )
        times.append(pub.updated)
    # A companion retracted since leaves the page: that moves its Last-Modified too.
    gone = [c.retracted_at for c in candidates if c.retracted_at is not None]
    return out, max(times + gone, default=None)


def disclosure_meta(item: Item, snap: dict[str, Any], config: Config) -> dict[str, str]:
    """The 主动公开目录 metadata of the item page: the content fields as the published version
    has them (one published before they existed names no 发布机构: the configured one), the
    索引号 from the item (given at its first approval, never changed), and for a policy its
    有效性 as marked now."""
    policy = snap.get("kind") == Kind.POLICY.value
    return {
        "index_no": item.index_no or "",
        "topic": snap.get("topic") or "",
        "publisher": snap.get("publisher") or config.publisher(),
        "written_on": snap.get("written_on") or "",
        "validity": VALIDITY_LABELS.get(item.validity, "") if policy else "",
    }


class PublicPages:
    """The builders of the item pages and feeds (registered with the app's PublicSite)."""

    def __init__(self, site: PublicSite, renderer: Renderer) -> None:
        self.site = site
        self.renderer = renderer
        self.config = site.config
        site.register("item", self.item)
        site.register("feed", self.feed)

    async def feed(self, key: str) -> Result:
        _, name, fmt = key.split(":")
        if fmt not in FORMATS or (name != ALL and name not in self.config.columns):
            return self.site.page("public/not_found.html", 404), False
        column = None if name == ALL else name
        entries = await feed_entries(
            self.renderer, column, self.config.channels.feed.entries_per_feed
        )
        # The feed's last change: its newest entry, or an item leaving it; never earlier.
        last = self.site.later(
            max((e.updated for e in entries), default=None), await last_retraction(column)
        )
        assert last is not None  # the site epoch is set at start-up
        meta = feed_meta(self.config, name, last)
        assert meta is not None  # the column was checked above
        write, content_type = FORMATS[fmt]
        body = write(meta, entries)
        return build(body, content_type, last_modified=last, headers=self.site.headers), True

    async def item(self, key: str) -> Result:
        item = await Item.get_or_none(id=int(key.partition(":")[2]))
        pub = await publication(item.id) if item is not None else None
        if item is None or pub is None:  # never public: its existence is not disclosed either
            return self.site.page("public/not_found.html", 404), False
        if item.status == ItemStatus.RETRACTED.value:
            last = self.site.later(item.retracted_at)
            gone = {"retracted_at": item.retracted_at, "item_id": item.id}
            return self.site.page("public/gone.html", 410, last, **gone), True
        version = await ItemVersion.get_or_none(item_id=item.id, version=pub.version)
        if version is None:
            return self.site.page("public/not_found.html", 404), False
        snap = version.snapshot
        column = self.config.columns.get(snap.get("column", ""))
        linked, linked_at = await companions(item.id, snap)
        marked = (await validity_marks([item.id])).get(item.id)
        last = self.site.later(pub.updated, linked_at, marked[1] if marked else None)
        return self.site.page(
            "public/item.html",
            200,
            last,
            item=snap,
            body_html=self.renderer.body_html(
                snap.get("body", ""), self.renderer.item_url(item.id)
            ),
            kind_label=KIND_LABELS[Kind(snap["kind"])],
            column_key=snap.get("column", "") if column else "",
            column_label=column.name if column else snap.get("column", ""),
            published=pub.published,
            updated=pub.updated,
            url=self.renderer.item_url(item.id),
            validity_label=VALIDITY_LABELS.get(item.validity, "") if item.validity else "",
            meta=disclosure_meta(item, snap, self.config),
            companions=linked,
        ), True


async def feed(request: web.Request) -> web.StreamResponse:
    name, fmt = request.match_info["column"], request.match_info["format"]
    if fmt not in FORMATS or (name != ALL and name not in request.app[CONFIG].columns):
        return not_found(request)
    return await site_of(request).serve(request, f"feed:{name}:{fmt}")


async def item_page(request: web.Request) -> web.StreamResponse:
    raw = request.match_info["id"]
    if not is_id(raw):
        return not_found(request)
    return await site_of(request).serve(request, f"item:{int(raw)}")


def setup(app: web.Application) -> None:
    PublicPages(app[SITE], app[RENDERER])
    app.router.add_get(r"/feeds/{column}.{format}", guard(feed), name="public.feed")
    app.router.add_get("/items/{id}", guard(item_page), name="public.item")
