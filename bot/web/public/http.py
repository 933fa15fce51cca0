"""HTTP for the public site's pages and feeds: conditional GET (ETag, Last-Modified, 304 as RFC
9110 says) and the HTML response every public page is sent with, the not-found page included."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from aiohttp import web

from bot.web.keys import RENDERER

HTML = "text/html"
# Clients may keep a copy but must ask again (cheaply, with the validators) before using it.
CACHE_CONTROL = "no-cache"


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


def page(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    html = request.app[RENDERER].page(template, **context)
    return web.Response(
        text=html,
        status=status,
        content_type=HTML,
        charset="utf-8",
        headers={"Cache-Control": CACHE_CONTROL},
    )


def not_found(request: web.Request) -> web.Response:
    return page(request, "public/not_found.html", status=404)
