"""The pages a simulated platform shows its users at the addresses its API hands back (a 随申办
card's url, a WeChat article's article_url), so that a link the console shows for a delivery
opens the article as the simulator holds it instead of a 404."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

__all__ = ["article_page", "card_page", "gone_page"]

BEIJING = ZoneInfo("Asia/Shanghai")
_STYLE = (
    "body{font-family:'PingFang SC','Microsoft YaHei','Noto Sans CJK SC',sans-serif;"
    "max-width:40rem;margin:0 auto;padding:1rem;line-height:1.7;color:#1f2328}"
    ".sim{background:#fff4d6;border:1px solid #e7c46a;padding:.3rem .6rem;font-size:.85rem}"
    ".meta{color:#5d6470;font-size:.9rem}img{max-width:100%}"
)


def _page(platform: str, title: str, body: str, status: int = 200) -> web.Response:
    html = (
        '<!doctype html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} - {platform}（模拟器）</title><style>{_STYLE}</style></head>"
        f'<body><p class="sim">本页由本地{platform}模拟器提供，不是真实平台。</p>'
        f"{body}</body></html>"
    )
    return web.Response(status=status, text=html, content_type="text/html", charset="utf-8")


def gone_page(platform: str, message: str) -> web.Response:
    """410: what was published there has been withdrawn or deleted."""
    return _page(platform, message, f"<h1>{escape(message)}</h1>", status=410)


def _when(epoch: Any) -> str:
    if not isinstance(epoch, int | float):
        return ""
    return datetime.fromtimestamp(epoch, BEIJING).strftime("%Y-%m-%d %H:%M")


def card_page(card: dict[str, Any]) -> web.Response:
    """A 随申办 message card as a user opens it: tag, title, time, cover, summary, and the link
    to the item's page on the office's site."""
    title = str(card.get("title") or "")
    parts = [f"<h1>{escape(title)}</h1>"]
    meta = " · ".join(escape(str(v)) for v in (card.get("tag"), _when(card.get("pushed_at"))) if v)
    if meta:
        parts.append(f'<p class="meta">{meta}</p>')
    if card.get("cover_url"):
        parts.append(f'<p><img src="{escape(str(card["cover_url"]))}" alt=""></p>')
    if card.get("summary"):
        parts.append(f"<p>{escape(str(card['summary']))}</p>")
    if card.get("link_url"):
        parts.append(f'<p><a href="{escape(str(card["link_url"]))}">查看全文</a></p>')
    return _page("随申办", title, "".join(parts))


def article_page(article: dict[str, Any], published_at: Any = None) -> web.Response:
    """A published WeChat article as a follower reads it: title, author, time, the content as
    sent to draft/add (WeChat shows that HTML), and 阅读原文 when content_source_url is set."""
    title = str(article.get("title") or "")
    parts = [f"<h1>{escape(title)}</h1>"]
    meta = " · ".join(escape(str(v)) for v in (article.get("author"), _when(published_at)) if v)
    if meta:
        parts.append(f'<p class="meta">{meta}</p>')
    parts.append(f"<article>{article.get('content') or ''}</article>")
    if article.get("content_source_url"):
        parts.append(f'<p><a href="{escape(str(article["content_source_url"]))}">阅读原文</a></p>')
    return _page("微信公众号", title, "".join(parts))
