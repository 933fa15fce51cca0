"""The public Q&A page (网上咨询选登) of the website: the exchanges moderators selected with
bot/inbox/qa.py, newest first, by category, one page per entry, and an Atom feed of them.

Only what bot/inbox/qa.select stored is shown (its question and answer were scrubbed of personal
data there); a withdrawn entry's page answers 410.
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import UTC, datetime
from urllib.parse import urlencode

from aiohttp import web
from feedgen.feed import FeedGenerator
from tortoise.functions import Max

from bot.inbox import qa
from bot.models import QaEntry
from bot.web.keys import CONFIG, RENDERER
from bot.web.public.http import CACHE_CONTROL, conditional

_ID = re.compile(r"[0-9]{1,15}")
_PAGE = re.compile(r"[0-9]{1,6}")
CATEGORY_MAX = 32
TITLE_CHARS = 40


def _html(
    request: web.Request, template: str, status: int = 200, **context: object
) -> web.Response:
    html = request.app[RENDERER].page(template, **context)
    return web.Response(
        text=html,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": CACHE_CONTROL},
    )


def _title(question: str) -> str:
    line = " ".join(question.split())
    return line if len(line) <= TITLE_CHARS else line[:TITLE_CHARS] + "…"


async def qa_list(request: web.Request) -> web.StreamResponse:
    per_page = request.app[CONFIG].inbox.form.qa_per_page
    raw_page = request.query.get("page", "1")
    category = request.query.get("category", "").strip()[:CATEGORY_MAX]
    if not _PAGE.fullmatch(raw_page) or int(raw_page) < 1:
        return _html(request, "public/not_found.html", 404)
    page = int(raw_page)
    entries, total = await qa.published(page, per_page, category or None)
    pages = max(1, math.ceil(total / per_page))
    if page > pages:
        return _html(request, "public/not_found.html", 404)

    def link(number: int) -> str:
        params = {"page": str(number)} if number > 1 else {}
        if category:
            params["category"] = category
        return "/qa" + (f"?{urlencode(params)}" if params else "")

    return _html(
        request,
        "public/qa_list.html",
        entries=entries,
        total=total,
        page=page,
        pages=pages,
        category=category,
        categories=await qa.categories(),
        prev_url=link(page - 1) if page > 1 else "",
        next_url=link(page + 1) if page < pages else "",
    )


async def qa_entry(request: web.Request) -> web.StreamResponse:
    raw = request.match_info["id"]
    entry = await qa.public_entry(int(raw)) if _ID.fullmatch(raw) else None
    if entry is None:
        return _html(request, "public/not_found.html", 404)
    if entry.withdrawn_at is not None:
        return _html(request, "public/qa_gone.html", 410)
    return _html(request, "public/qa_entry.html", entry=entry, title=_title(entry.question))


async def qa_feed(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    base = config.app.public_base_url
    entries, _ = await qa.published(1, config.inbox.form.qa_per_page)
    # A withdrawal changes the feed too: Last-Modified is the later of both.
    row = (
        await QaEntry.annotate(w=Max("withdrawn_at"), p=Max("published_at"))
        .first()
        .values("w", "p")
    )
    stamps = [t for t in (row or {}).values() if isinstance(t, datetime)]
    last = max(stamps) if stamps else None
    fg = FeedGenerator()
    fg.id(f"{base}/qa")
    fg.title(f"{config.channels.feed.title} · 网上咨询选登")
    fg.subtitle(f"{config.app.name}：网上咨询选登")
    fg.author(name=config.channels.feed.title)
    fg.link(href=f"{base}/qa.atom", rel="self")
    fg.link(href=f"{base}/qa", rel="alternate")
    fg.language("zh-CN")
    fg.updated(last or datetime(2020, 1, 1, tzinfo=UTC))
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
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    return conditional(request, body, "application/atom+xml", etag, last)


def setup(app: web.Application) -> None:
    app.router.add_get("/qa", qa_list, name="qa.list")
    app.router.add_get("/qa.atom", qa_feed, name="qa.feed")
    app.router.add_get("/qa/{id}", qa_entry, name="qa.entry")
