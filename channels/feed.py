"""The website feed channel: publishing puts an item version on the site's public page and in
its feeds (Atom 1.0 and RSS 2.0 with feedgen, JSON Feed 1.1 with json), one per column and one
for all. The feeds are built from the deliveries this channel completed. Replies to the
website's 留言 form are shown on its 查询码 page (send_reply)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from feedgen.feed import FeedGenerator

from channels.base import Channel, ChannelLimits, Content, Job, PermanentError, Published

# reply_ref["type"] of a comment written in the website form (bot/web/public/feedback.py)
REPLY_TYPE = "query_code"


class FeedChannel(Channel):
    name = "feed"
    label = "网站"

    def __init__(self, concurrency: int, rate_per_second: float) -> None:
        self.limits = ChannelLimits(
            concurrency=concurrency,
            rate_per_second=rate_per_second,
            title_max=500,
            summary_max=2000,
            can_retract=True,
            can_lookup=True,
        )

    async def publish(self, content: Content, job: Job) -> Published:
        # The page and feeds read the completed delivery itself, so finishing it is publishing.
        return Published(
            remote_id=f"item-{content.item_id}-v{content.version}", remote_url=content.url
        )

    async def retract(self, published: Published, job: Job) -> None:
        # The item's retracted status takes it out of the feeds; its page answers 410.
        return None

    async def lookup(self, job: Job) -> Published | None:
        return None  # nothing leaves the process before the delivery completes

    # The website answers the writers of its 留言 form on its own 查询码 page.
    can_reply = True

    async def send_reply(self, reply_ref: dict[str, Any], text: str, key: str) -> str:
        """Answer a website 留言: the writer reads the answer on the 查询码 status page
        (/feedback/status), which shows the comment's replies whose status is "sent".

        So, as with publishing, nothing leaves the process: the reply is delivered on this
        channel when the reply sender stores it as sent, which it does with the id returned
        here. The id is derived from `key` alone, so a retry of the same reply (after a crash
        between this call and that store) gets the same id and nothing is shown twice. A
        contact in reply_ref (phone or e-mail the writer left) is for staff who choose to
        call back; this channel never sends to it.
        """
        if reply_ref.get("type") != REPLY_TYPE:
            kind = reply_ref.get("type", "")
            message = f"网站渠道只能答复带查询码的网站留言（答复引用类型：「{kind}」）。"
            raise PermanentError(message)
        if not text.strip():
            raise PermanentError("答复内容为空，网站渠道不能发送空答复。")
        return f"web-{key}"


@dataclass(frozen=True)
class FeedMeta:
    title: str
    subtitle: str
    self_url: str  # URL of this feed document, without the format suffix
    site_url: str
    feed_id: str
    # The feed's last change: its newest entry's, or later (an item left it, or the
    # templates changed); an empty feed's too, so it never goes backwards.
    updated: datetime


@dataclass(frozen=True)
class FeedEntry:
    content: Content
    published: datetime
    updated: datetime


def _generator(meta: FeedMeta, entries: list[FeedEntry], ext: str) -> FeedGenerator:
    fg = FeedGenerator()
    fg.id(meta.feed_id)
    fg.title(meta.title)
    fg.subtitle(meta.subtitle or meta.title)
    # feedgen takes RSS's <link> from the last link added: the site, not this document.
    fg.link(href=f"{meta.self_url}.{ext}", rel="self")
    fg.link(href=meta.site_url, rel="alternate")
    fg.language("zh-CN")
    fg.updated(meta.updated)
    fg.lastBuildDate(meta.updated)  # feedgen's default is the time of building: other bytes
    fg.load_extension("dc")  # RSS has no author without an e-mail address: dc:creator
    # feedgen prepends entries; add oldest first so the newest comes first in the document.
    for e in reversed(entries):
        fe = fg.add_entry()
        fe.id(e.content.url)
        fe.guid(e.content.url, permalink=True)
        fe.title(e.content.title)
        fe.link(href=e.content.url)
        fe.published(e.published)
        fe.updated(e.updated)
        fe.summary(e.content.summary or e.content.title)
        fe.content(e.content.html, type="html")
        fe.category(term=e.content.kind, label=e.content.kind_label)
        if e.content.office:
            fe.author(name=e.content.office)
            fe.dc.dc_creator(e.content.office)
    return fg


def atom(meta: FeedMeta, entries: list[FeedEntry]) -> bytes:
    fg = _generator(meta, entries, "atom")
    # RFC 4287 §4.1.1: a feed needs an author unless every entry has one (an item without
    # an issuing office has none), so the feed always names the publisher.
    fg.author(name=meta.title)
    return fg.atom_str(pretty=True)


def rss(meta: FeedMeta, entries: list[FeedEntry]) -> bytes:
    fg = _generator(meta, entries, "rss")
    fg.description(meta.subtitle or meta.title)
    return fg.rss_str(pretty=True)


def json_feed(meta: FeedMeta, entries: list[FeedEntry]) -> bytes:
    doc: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": meta.title,
        "description": meta.subtitle or meta.title,
        "home_page_url": meta.site_url,
        "feed_url": f"{meta.self_url}.json",
        "language": "zh-CN",
        "items": [
            {
                "id": e.content.url,
                "url": e.content.url,
                "title": e.content.title,
                "summary": e.content.summary or e.content.title,
                "content_html": e.content.html,
                "date_published": e.published.astimezone(UTC).isoformat(),
                "date_modified": e.updated.astimezone(UTC).isoformat(),
                "tags": [e.content.kind_label],
                **({"authors": [{"name": e.content.office}]} if e.content.office else {}),
            }
            for e in entries
        ],
    }
    return json.dumps(doc, ensure_ascii=False, indent=1).encode()
