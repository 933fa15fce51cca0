"""The public home page (/) and the HTML 网站地图 (/sitemap): the agency, the 政府信息公开 block
(指南, 制度, the columns of 法定主动公开内容, 年度报告, 决策公开 when configured), the newest items
of each column, and 政民互动. Both are built once per site change (keys "home:" and
"site-map:", bot/site/) and served from memory; what they show besides the items comes from
[site] and [columns], part of the site epoch.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.models import KIND_LABELS, Kind
from bot.site.cache import Result
from bot.site.published import last_retraction, listed, rows
from bot.site.serve import PublicSite
from bot.web.keys import SITE
from bot.web.public.errors import guard
from bot.web.public.http import site_of

HOME_KEY = "home:"
SITE_MAP_KEY = "site-map:"


def disclosure_links(site: PublicSite) -> list[dict[str, str]]:
    """The 政府信息公开 block's configured entries (link, label), in the usual order."""
    s = site.config.site
    entries = [
        (s.guide, "政府信息公开指南"),
        (s.rules, "政府信息公开制度"),
        (s.annual_reports, "政府信息公开工作年度报告"),
        (s.application_url, "依申请公开"),
        (s.decisions, "决策公开"),
    ]
    return [{"link": link, "label": label} for link, label in entries if link]


class HomePages:
    """The builders of the home page and the HTML sitemap (registered with the PublicSite)."""

    def __init__(self, site: PublicSite) -> None:
        self.site = site
        self.config = site.config
        site.register("home", self.home)
        site.register("site-map", self.site_map)

    async def home(self, key: str) -> Result:
        count = self.config.site.home_items
        columns: list[dict[str, Any]] = []
        moments = [await last_retraction(None)]
        for name, column in self.config.columns.items():
            shown = await rows(await listed(name, count))
            moments += [r.updated for r in shown]
            columns.append({"key": name, "name": column.name, "rows": shown})
        last = self.site.later(*moments)
        built = self.site.page(
            "public/home.html",
            200,
            last,
            nav="home",
            columns=columns,
            disclosure=disclosure_links(self.site),
        )
        return built, True

    async def site_map(self, key: str) -> Result:
        columns = [
            {
                "key": name,
                "name": column.name,
                "kinds": [KIND_LABELS[Kind(k)] for k in column.kinds],
            }
            for name, column in self.config.columns.items()
        ]
        built = self.site.page(
            "public/site_map.html",
            200,
            self.site.later(),
            columns=columns,
            disclosure=disclosure_links(self.site),
        )
        return built, True


async def home_page(request: web.Request) -> web.StreamResponse:
    return await site_of(request).serve(request, HOME_KEY)


async def site_map_page(request: web.Request) -> web.StreamResponse:
    return await site_of(request).serve(request, SITE_MAP_KEY)


def setup(app: web.Application) -> None:
    HomePages(app[SITE])
    app.router.add_get("/", guard(home_page), name="public.home")
    app.router.add_get("/sitemap", guard(site_map_page), name="public.site_map")
