"""The public Q&A page (网上咨询选登) of the website: the exchanges moderators selected with
bot/inbox/qa.py, newest first, by category, one page per entry, and an Atom feed of them.

Only what bot/inbox/qa.select stored is shown (its question and answer were scrubbed of personal
data there); a withdrawn entry's page answers 410. Each page is built once per site change
(keys "qa-list:<page>:<category>", "qa-entry:<id>", "qa-feed:"; bot/site/) and served from memory.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from urllib.parse import urlencode

from aiohttp import web
from feedgen.feed import FeedGenerator
from tortoise.functions import Max

from bot.inbox import qa
from bot.models import QaEntry
from bot.site.built import build
from bot.site.cache import Result
from bot.site.published import is_id
from bot.site.serve import PublicSite
from bot.web.inputs import text_problem
from bot.web.keys import SITE
from bot.web.public.errors import guard
from bot.web.public.http import not_found, site_of

_PAGE = re.compile(r"[0-9]{1,6}")
CATEGORY_MAX = 32
TITLE_CHARS = 40


def _title(question: str) -> str:
    line = " ".join(question.split())
    return line if len(line) <= TITLE_CHARS else line[:TITLE_CHARS] + "…"


async def _last_change() -> datetime | None:
    """When an entry was last selected or withdrawn: the Q&A pages' Last-Modified."""
    row = (
        await QaEntry.annotate(w=Max("withdrawn_at"), p=Max("published_at"))
        .first()
        .values("w", "p")
    )
    stamps = [t for t in (row or {}).values() if isinstance(t, datetime)]
    return max(stamps) if stamps else None


class QaPages:
    """The builders of the 选登 list, entry pages and feed (registered with the PublicSite)."""

    def __init__(self, site: PublicSite) -> None:
        self.site = site
        self.config = site.config
        site.register("qa-list", self.listing)
        site.register("qa-entry", self.entry)
        site.register("qa-feed", self.feed)

    async def listing(self, key: str) -> Result:
        _, raw_page, category = key.split(":", 2)
        page = int(raw_page)
        per_page = self.config.inbox.form.qa_per_page
        entries, total = await qa.published(page, per_page, category or None)
        pages = max(1, math.ceil(total / per_page))
        if page > pages:
            return self.site.page("public/not_found.html", 404), False
        categories = await qa.categories()

        def link(number: int) -> str:
            params = {"page": str(number)} if number > 1 else {}
            if category:
                params["category"] = category
            return "/qa" + (f"?{urlencode(params)}" if params else "")

        built = self.site.page(
            "public/qa_list.html",
            200,
            self.site.later(await _last_change()),
            entries=entries,
            total=total,
            page=page,
            pages=pages,
            category=category,
            categories=categories,
            self_url=link(page),
            nav="qa",
            prev_url=link(page - 1) if page > 1 else "",
            next_url=link(page + 1) if page < pages else "",
        )
        # Kept for the categories that exist: anyone may ask for any other text.
        return built, not category or category in categories

    async def entry(self, key: str) -> Result:
        entry = await qa.public_entry(int(key.partition(":")[2]))
        if entry is None:
            return self.site.page("public/not_found.html", 404), False
        if entry.withdrawn_at is not None:
            last = self.site.later(entry.withdrawn_at)
            return self.site.page("public/qa_gone.html", 410, last), True
        last = self.site.later(entry.published_at)
        return self.site.page(
            "public/qa_entry.html", 200, last, entry=entry, title=_title(entry.question)
        ), True

    async def feed(self, key: str) -> Result:
        config = self.config
        base = config.app.public_base_url
        entries, _ = await qa.published(1, config.inbox.form.qa_per_page)
        # A withdrawal changes the feed too: Last-Modified is the later of both.
        last = self.site.later(await _last_change())
        assert last is not None  # the site epoch is set at start-up
        fg = FeedGenerator()
        fg.id(f"{base}/qa")
        fg.title(f"{config.channels.feed.title} · 网上咨询选登")
        fg.subtitle(f"{config.app.name}：网上咨询选登")
        fg.author(name=config.channels.feed.title)
        fg.link(href=f"{base}/qa.atom", rel="self")
        fg.link(href=f"{base}/qa", rel="alternate")
        fg.language("zh-CN")
        fg.updated(last)
        for e in reversed(entries):  # feedgen prepends: oldest first gives newest first
            fe = fg.add_entry()
            url = f"{base}/qa/{e.id}"
            fe.id(url)
            fe.title(_title(e.question))
            fe.link(href=url)
            fe.published(e.published_at)
            fe.updated(e.published_at)
            fe.content(f"问：{e.question}\n\n答：{e.answer}", type="text")
            if e.category:
                fe.category(term=e.category)
        body = fg.atom_str(pretty=True)
        content_type = "application/atom+xml; charset=utf-8"
        return build(body, content_type, last_modified=last, headers=self.site.headers), True


async def qa_list(request: web.Request) -> web.StreamResponse:
    raw_page = request.query.get("page", "1")
    category = request.query.get("category", "").strip()[:CATEGORY_MAX]
    if not _PAGE.fullmatch(raw_page) or int(raw_page) < 1 or text_problem(category):
        return not_found(request)  # a NUL in a category would not even reach PostgreSQL
    return await site_of(request).serve(request, f"qa-list:{int(raw_page)}:{category}")


async def qa_entry(request: web.Request) -> web.StreamResponse:
    raw = request.match_info["id"]
    if not is_id(raw):
        return not_found(request)
    return await site_of(request).serve(request, f"qa-entry:{int(raw)}")


async def qa_feed(request: web.Request) -> web.StreamResponse:
    return await site_of(request).serve(request, "qa-feed:")


def setup(app: web.Application) -> None:
    QaPages(app[SITE])
    app.router.add_get("/qa", guard(qa_list), name="qa.list")
    app.router.add_get("/qa.atom", guard(qa_feed), name="qa.feed")
    app.router.add_get("/qa/{id}", guard(qa_entry), name="qa.entry")
