"""The public site's last route: every path no other route matched gets the site's Chinese 404
page, or its 405 page naming the methods the path does take (bot/web/public/errors.py:
unmatched). bot/web/app.py registers it after every other route; the API's own fallback under
/api comes before it, and /console paths keep aiohttp's answers (the console has its own).
"""

from __future__ import annotations

from aiohttp import web

from bot.site.cache import Result
from bot.site.serve import PublicSite
from bot.web.keys import SITE
from bot.web.public.errors import NOT_FOUND_KEY, unmatched


class ErrorPages:
    """The builder of the 404 page every unmatched path gets: the same bytes for all of them,
    built once per site change (a scan of random paths costs no rendering)."""

    def __init__(self, site: PublicSite) -> None:
        self.site = site
        site.register(NOT_FOUND_KEY.partition(":")[0], self.build)

    async def build(self, key: str) -> Result:
        return self.site.page("public/not_found.html", 404), key == NOT_FOUND_KEY


def setup(app: web.Application) -> None:
    ErrorPages(app[SITE])
    app.router.add_route("*", "/{tail:.*}", unmatched, name="public.unmatched")
