"""The sandbox's local upstream feed: an Atom feed of documents approved upstream (the city
government's office, as the source document describes), served on 127.0.0.1 with a page per
document and ETag-based conditional GET, which the [[sources]] entry of the sandbox config pulls
into the review queue (bot/sources/pull.py). One entry is a 规范性文件 without an interpretation, so
the queue also shows pre-review returning it (退文)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from html import escape
from typing import Any

from aiohttp import web

NAME = "sandbox-upstream"
FEED_PATH = "/feeds/documents.atom"
APPROVER = "上海市人民政府办公厅（沙箱上游）"
POLICY_CATEGORY = "规范性文件"


@dataclass(frozen=True)
class UpstreamDoc:
    key: str
    title: str
    category: str
    updated: str  # RFC 3339
    paragraphs: tuple[str, ...]


DOCS = (
    UpstreamDoc(
        "2021-gkyd",
        "关于印发《2021年上海市政务公开工作要点》的通知",
        "通知",
        "2021-04-01T09:00:00+08:00",
        (
            "各区人民政府，市政府各委、办、局：",
            "现将《2021年上海市政务公开工作要点》印发给你们，请结合实际认真贯彻落实。",
            "各单位要进一步提高政务公开标准化、规范化水平，聚焦社会公众需求，持续加大公开"
            "力度，提升政府透明度和公信力。",
        ),
    ),
    UpstreamDoc(
        "2021-zdjc",
        "关于做好2021年重大行政决策事项目录编制发布工作的通知",
        "通知",
        "2021-03-10T09:00:00+08:00",
        (
            "市政府各部门：",
            "请严格落实《上海市重大行政决策程序规定》及配套文件，于3月31日前确定并发布"
            "本机关重大行政决策事项目录。",
            "目录内事项确需调整的，有关处室应及时更新目录内容，并就调整的原因作出说明。",
        ),
    ),
    UpstreamDoc(
        "2021-bzml",
        "上海市政务公开标准目录动态调整管理办法",
        POLICY_CATEGORY,
        "2021-04-10T09:00:00+08:00",
        (
            "第一条 为持续对政务公开全领域标准化规范化目录优化调整，制定本办法。",
            "第二条 各部门应加强对重点工作部分公开事项的再梳理和再细化，确保标准目录对"
            "重点业务工作的全覆盖、无遗漏。",
        ),
    ),
)


@dataclass
class UpstreamLedger:
    """Requests answered: (path, HTTP status), in order."""

    hits: list[tuple[str, int]] = field(default_factory=list)


def _atom(base_url: str) -> bytes:
    entries = []
    for doc in DOCS:
        content = "".join(f"<p>{escape(p)}</p>" for p in doc.paragraphs)
        entries.append(
            f"<entry><id>urn:sandbox-upstream:{doc.key}</id>"
            f"<title>{escape(doc.title)}</title>"
            f'<link href="{base_url}/docs/{doc.key}.html"/>'
            f"<updated>{doc.updated}</updated>"
            f'<category term="{escape(doc.category)}"/>'
            f'<content type="html">{escape(content)}</content></entry>'
        )
    latest = max(doc.updated for doc in DOCS)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>上海市人民政府 政府信息公开（沙箱上游）</title>"
        f"<id>urn:sandbox-upstream</id><updated>{latest}</updated>"
        f'<link rel="self" href="{base_url}{FEED_PATH}"/>' + "".join(entries) + "</feed>"
    ).encode()


def create_app(base_url: str) -> tuple[web.Application, UpstreamLedger]:
    """The upstream site at base_url (http://127.0.0.1:PORT): its feed and document pages."""
    ledger = UpstreamLedger()
    feed = _atom(base_url.rstrip("/"))
    etag = '"' + hashlib.sha256(feed).hexdigest()[:16] + '"'
    pages = {
        doc.key: (
            f"<!DOCTYPE html><html lang='zh-CN'><meta charset='utf-8'>"
            f"<title>{escape(doc.title)}</title><h1>{escape(doc.title)}</h1>"
            + "".join(f"<p>{escape(p)}</p>" for p in doc.paragraphs)
        )
        for doc in DOCS
    }

    async def serve_feed(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == etag:
            ledger.hits.append((request.path, 304))
            return web.Response(status=304, headers={"ETag": etag})
        ledger.hits.append((request.path, 200))
        return web.Response(
            body=feed, headers={"ETag": etag, "Content-Type": "application/atom+xml; charset=utf-8"}
        )

    async def serve_doc(request: web.Request) -> web.Response:
        page = pages.get(request.match_info["key"])
        if page is None:
            ledger.hits.append((request.path, 404))
            raise web.HTTPNotFound()
        ledger.hits.append((request.path, 200))
        return web.Response(text=page, content_type="text/html", charset="utf-8")

    async def ledger_view(request: web.Request) -> web.Response:
        return web.json_response(
            {"documents": [d.title for d in DOCS], "hits": [list(h) for h in ledger.hits]}
        )

    app = web.Application()
    app.router.add_get(FEED_PATH, serve_feed)
    app.router.add_get("/docs/{key}.html", serve_doc)
    app.router.add_get("/_ledger", ledger_view)
    return app, ledger


def source_config(base_url: str) -> dict[str, Any]:
    """The [[sources]] entry that pulls this feed (as parse_config takes it)."""
    return {
        "name": NAME,
        "url": f"{base_url.rstrip('/')}{FEED_PATH}",
        "approver": APPROVER,
        "kind": "notice",
        "office": "办公室",
        "interval_minutes": 5,
        "rules": [{"category": POLICY_CATEGORY, "kind": "policy", "office": "政策法规处"}],
    }
