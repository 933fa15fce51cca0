"""Serving the built site: PublicSite is a web app's registry of builders by key prefix
("item:12" → the item page's builder) over its SiteCache, with the caching and security headers
every public page carries; respond() answers a request from a Built response with content
negotiation (br, gzip, identity) and conditional GET (the ETag of the exact bytes sent,
Last-Modified, 304 as RFC 9110 says). bot/web/public/pages.py and qa.py register builders;
the follower (bot/site/follow.py) rebuilds hot keys through built() after a change.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from aiohttp import web

from bot.config import Config
from bot.site.built import Built, accepted, build
from bot.site.cache import Result, SiteCache

HTML = "text/html; charset=utf-8"
# Error pages and forms: a client or proxy may not reuse them without asking.
NO_CACHE = "no-cache"


def security_headers(config: Config) -> dict[str, str]:
    """What every public page sends: no framing, no sniffing, and a Content-Security-Policy
    that allows our own styles, forms and script (the one that switches to 长辈版,
    static/public/elder.js; no inline script), images from our site or over HTTPS, and nothing
    else."""
    base = urlsplit(config.app.public_base_url)
    origin = f"{base.scheme}://{base.netloc}"
    policy = (
        "default-src 'none'; "
        f"style-src 'self' {origin}; "
        f"script-src 'self' {origin}; "
        f"img-src 'self' {origin} https:; "
        f"form-action 'self' {origin}; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }


def cache_control(config: Config) -> str:
    """For a proxy or CDN in front ([web.public]): reuse for max_age seconds, then serve stale
    while revalidating for stale_while_revalidate more. A retraction reaches such a cache
    within their sum (docs/deploy.md)."""
    p = config.web.public
    return (
        f"public, max-age={p.max_age_seconds}, "
        f"stale-while-revalidate={p.stale_while_revalidate_seconds}"
    )


def _etag_matches(header: str, etag: str) -> bool:
    if header == etag:  # what a client that kept our ETag sends back
        return True
    if header.strip() == "*":
        return True
    strong = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == strong for tag in header.split(","))


@functools.lru_cache(maxsize=256)
def _since(header: str) -> datetime | None:
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError, OverflowError):
        return None  # an unparsable date is ignored, as the RFC says
    return since if since.tzinfo is not None else None


def not_modified(request: web.Request, etag: str, last_modified: datetime | None) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present; else If-Modified-Since."""
    inm = request.headers.get("If-None-Match")
    if inm is not None:
        return _etag_matches(inm, etag)
    ims = request.headers.get("If-Modified-Since")
    if ims is None or last_modified is None:
        return False
    since = _since(ims)
    return since is not None and last_modified.replace(microsecond=0) <= since


_accepted = functools.lru_cache(maxsize=256)(accepted)


def respond(request: web.Request, built: Built) -> web.Response:
    """The built response in the best coding the client accepts, or its 304."""
    variants = built.variants
    variant = variants["identity"]
    for coding in _accepted(",".join(request.headers.getall("Accept-Encoding", ()))):
        if coding in variants:
            variant = variants[coding]
            break
    if built.status == 200 and not_modified(request, variant.etag, built.last_modified):
        return web.Response(status=304, headers=variant.not_modified)
    return web.Response(body=variant.body, status=built.status, headers=variant.headers)


class PageRenderer(Protocol):
    """What renders a public page (bot.items.render.Renderer)."""

    def page(self, name: str, **context: Any) -> str: ...


class PublicSite:
    """The built pages of this process (cache) and how to build each kind of key."""

    def __init__(self, config: Config, cache: SiteCache, renderer: PageRenderer) -> None:
        self.config = config
        self.cache = cache
        self.renderer = renderer
        self.builders: dict[str, Callable[[str], Awaitable[Result]]] = {}
        self.epoch: datetime | None = None  # set at start-up (bot/site/version.py)
        self.headers = {"Cache-Control": cache_control(config), **security_headers(config)}
        self.error_headers = {"Cache-Control": NO_CACHE, **security_headers(config)}

    def register(self, prefix: str, builder: Callable[[str], Awaitable[Result]]) -> None:
        self.builders[prefix] = builder

    async def built(self, key: str) -> Built:
        builder = self.builders[key.partition(":")[0]]
        return await self.cache.get(key, functools.partial(builder, key))

    async def rebuild(self, key: str) -> None:
        """Build `key` ahead of its next request (after a site change)."""
        await self.built(key)

    async def serve(self, request: web.Request, key: str) -> web.Response:
        built = self.cache.hit(key)
        if built is None:
            built = await self.built(key)
        return respond(request, built)

    def later(self, *moments: datetime | None) -> datetime | None:
        """Last-Modified: the latest of the moments given and the site epoch."""
        known = [m for m in (*moments, self.epoch) if m is not None]
        return max(known) if known else None

    def page(
        self,
        template: str,
        status: int = 200,
        last_modified: datetime | None = None,
        **context: Any,
    ) -> Built:
        """A public page rendered now (for the builders)."""
        html = self.renderer.page(template, **context).encode()
        kept = status in (200, 410)  # what is kept is compressed; a 404 is answered once
        headers = self.headers if kept else self.error_headers
        return build(
            html, HTML, status=status, last_modified=last_modified, headers=headers, compress=kept
        )
