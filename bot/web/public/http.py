"""HTTP for the public pages rendered per request (forms, error pages): never cached, with the
public site's security headers. Pages and feeds that are the same for every reader are built
once and served by bot/site/serve.py."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.site.serve import PublicSite
from bot.web.keys import RENDERER, SITE


def site_of(request: web.Request) -> PublicSite:
    return request.app[SITE]


def page(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    """A public page rendered for this request (forms, errors): never cached."""
    html = request.app[RENDERER].page(template, **context)
    headers = request.app[SITE].error_headers
    return web.Response(
        text=html, status=status, content_type="text/html", charset="utf-8", headers=headers
    )


def not_found(request: web.Request) -> web.Response:
    return page(request, "public/not_found.html", status=404)
