"""How the public site is found: sitemap.xml (every public page with its lastmod), robots.txt
(pointing to it; /console, /api and the search results kept out), the favicon, and the site's
static files under /assets/ (its stylesheet, icon and share image, from static/public/).

sitemap.xml and robots.txt are built once per site change (keys "sitemap-xml:" and "robots:",
bot/site/); the static files are read once when the app is made and answered from memory with
their ETags, an unknown name with the site's Chinese 404 page.
"""

from __future__ import annotations

import functools
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

from aiohttp import web

from bot.models import Faq, QaEntry
from bot.site.built import Built, build
from bot.site.cache import Result
from bot.site.published import last_retraction, listed, validity_marks
from bot.site.serve import PublicSite, respond
from bot.web.keys import SITE
from bot.web.public.errors import guard
from bot.web.public.http import not_found, site_of

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parents[3] / "static" / "public"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
# The sitemaps.org protocol's limit for one file; past it a sitemap index would be needed.
MAX_URLS = 50_000
ASSET_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
}
_ASSET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def sitemap_xml(urls: list[tuple[str, datetime | None]]) -> bytes:
    """A sitemaps.org 0.9 urlset of (absolute URL, last modification)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<urlset xmlns="{SITEMAP_NS}">']
    for loc, lastmod in urls:
        stamp = ""
        if lastmod is not None:
            moment = lastmod.astimezone(UTC).replace(microsecond=0).isoformat()
            stamp = f"<lastmod>{moment}</lastmod>"
        lines.append(f"<url><loc>{escape(loc)}</loc>{stamp}</url>")
    lines.append("</urlset>")
    return ("\n".join(lines) + "\n").encode()


class DiscoveryPages:
    """The builders of sitemap.xml and robots.txt (registered with the app's PublicSite)."""

    def __init__(self, site: PublicSite) -> None:
        self.site = site
        self.config = site.config
        site.register("sitemap-xml", self.sitemap)
        site.register("robots", self.robots)

    async def sitemap(self, key: str) -> Result:
        """Every public page: the home page, the HTML sitemap, each column's first page, each
        public item, the 选登 list and its entries, the 留言 form, 常见问题. An item's lastmod is
        its last publication or validity mark, a list's the newest of what it lists (never
        earlier than the site epoch, as its Last-Modified)."""
        base = self.config.app.public_base_url
        later = self.site.later
        items = await listed(None)
        marks = await validity_marks(None)

        def item_time(item_id: int, updated: datetime) -> datetime | None:
            mark = marks.get(item_id)
            return later(updated, mark[1] if mark else None)

        times = {i.pub.item_id: item_time(i.pub.item_id, i.pub.updated) for i in items}
        home = later(*times.values(), await last_retraction(None))
        urls: list[tuple[str, datetime | None]] = [
            (f"{base}/", home),
            (f"{base}/sitemap", later()),
        ]
        for name, moment in (await self._column_times(times)).items():
            urls.append((f"{base}/columns/{name}", moment))
        qa = await QaEntry.all().values_list("id", "published_at", "withdrawn_at")
        qa_changes = [t for _, p, w in qa for t in (p, w) if t is not None]
        urls.append((f"{base}/qa", later(*qa_changes)))
        urls.append((f"{base}/feedback", later()))
        faqs = await Faq.filter(active=True).only("id", "updated_at")
        urls.append((f"{base}/faq", later(*(f.updated_at for f in faqs))))
        urls += [(f"{base}/items/{i.pub.item_id}", times[i.pub.item_id]) for i in items]
        public_qa = sorted(((p, n) for n, p, w in qa if w is None), reverse=True)
        urls += [(f"{base}/qa/{n}", later(p)) for p, n in public_qa]
        if len(urls) > MAX_URLS:
            log.warning(
                "sitemap.xml: %d public pages, only the first %d listed", len(urls), MAX_URLS
            )
            urls = urls[:MAX_URLS]
        last = later(*(t for _, t in urls))
        body = sitemap_xml(urls)
        content_type = "application/xml; charset=utf-8"
        return build(body, content_type, last_modified=last, headers=self.site.headers), True

    async def _column_times(self, times: dict[int, datetime | None]) -> dict[str, datetime | None]:
        """Each column's lastmod: the newest of its items' times and its last retraction."""
        out = {}
        for name in self.config.columns:
            members = await listed(name)
            moments = [times.get(i.pub.item_id) for i in members]
            out[name] = self.site.later(*moments, await last_retraction(name))
        return out

    async def robots(self, key: str) -> Result:
        base = self.config.app.public_base_url
        lines = [
            "User-agent: *",
            "Disallow: /console",
            "Disallow: /api",
            "Disallow: /search",  # results pages: endless, and the site's own pages are listed
            "",
            f"Sitemap: {base}/sitemap.xml",
        ]
        body = ("\n".join(lines) + "\n").encode()
        content_type = "text/plain; charset=utf-8"
        built = build(
            body, content_type, last_modified=self.site.later(), headers=self.site.headers
        )
        return built, True


def load_assets(folder: Path, headers: dict[str, str]) -> dict[str, Built]:
    """The files of static/public/ served at /assets/, built once: their bytes, compressed
    forms and ETags (a change of a file reaches the site when the app is made again)."""
    assets = {}
    for path in sorted(folder.iterdir()):
        content_type = ASSET_TYPES.get(path.suffix.lower())
        if path.is_file() and content_type and _ASSET_NAME.fullmatch(path.name):
            compress = not content_type.startswith(("image/png", "image/jpeg", "image/webp"))
            compress = compress and content_type != "font/woff2"
            assets[path.name] = build(
                path.read_bytes(), content_type, headers=headers, compress=compress
            )
    return assets


async def asset(assets: dict[str, Built], request: web.Request) -> web.StreamResponse:
    built = assets.get(request.match_info["name"])
    if built is None:
        return not_found(request)
    return respond(request, built)


async def favicon(assets: dict[str, Built], request: web.Request) -> web.StreamResponse:
    built = assets.get("favicon.ico")
    return respond(request, built) if built is not None else not_found(request)


async def sitemap(request: web.Request) -> web.StreamResponse:
    return await site_of(request).serve(request, "sitemap-xml:")


async def robots(request: web.Request) -> web.StreamResponse:
    return await site_of(request).serve(request, "robots:")


def setup(app: web.Application) -> None:
    site = app[SITE]
    DiscoveryPages(site)
    assets = load_assets(STATIC, site.headers)
    app.router.add_get("/sitemap.xml", guard(sitemap), name="public.sitemap_xml")
    app.router.add_get("/robots.txt", guard(robots), name="public.robots")
    app.router.add_get("/favicon.ico", guard(functools.partial(favicon, assets)))
    app.router.add_get(
        "/assets/{name}", guard(functools.partial(asset, assets)), name="public.asset"
    )
