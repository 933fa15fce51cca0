"""The column pages /columns/{column}: the column's public items, newest first, a page at a time
([site] page_size), filtered by year of publication, kind and validity (有效性), each row with
its title, 文号 and date, and the column's own feeds. Each page is built once per site change
(key "column:<column>:<page>:<year>:<kind>:<validity>", bot/site/) and served from memory.

Every parameter is checked before a key is made: an unknown column is a 404, a malformed or
unknown parameter a 400 that names it, a page past the last a 404, all Chinese pages.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.config import ColumnConfig, Config
from bot.models import KIND_LABELS, VALIDITY_LABELS, Kind
from bot.site.cache import Result
from bot.site.published import last_retraction, listed, rows, validity_marks
from bot.site.serve import PublicSite
from bot.web.keys import CONFIG, SITE
from bot.web.public.errors import error_page, guard
from bot.web.public.http import not_found, site_of

_PAGE = re.compile(r"[0-9]{1,6}")
_YEAR = re.compile(r"[0-9]{4}")
FIRST_YEAR, LAST_YEAR = 1949, 2999
# The validity filter's values: the URL says "valid" for what the item row holds as "".
VALIDITY = {"valid": "", "amended": "amended", "expired": "expired", "repealed": "repealed"}
PARAMETERS = {"page": "页码", "year": "年份", "kind": "类别", "validity": "有效性"}
SHOWN_MAX = 20  # characters of a refused value the page repeats


class BadParameter(ValueError):
    """A query parameter of a column page that names nothing; str() is the Chinese reason."""


@dataclass(frozen=True)
class ColumnQuery:
    """One column page: the column, the page number and the filters ("" or None: all)."""

    column: str
    page: int = 1
    year: int | None = None
    kind: str = ""
    validity: str = ""  # a key of VALIDITY

    @property
    def key(self) -> str:
        year = "" if self.year is None else str(self.year)
        return f"column:{self.column}:{self.page}:{year}:{self.kind}:{self.validity}"

    @classmethod
    def from_key(cls, key: str) -> ColumnQuery:
        _, column, page, year, kind, validity = key.split(":")
        return cls(column, int(page), int(year) if year else None, kind, validity)

    def path(self, page: int | None = None) -> str:
        """This page's address on the site (another page of the same list with `page`)."""
        params: dict[str, str] = {}
        if self.year is not None:
            params["year"] = str(self.year)
        if self.kind:
            params["kind"] = self.kind
        if self.validity:
            params["validity"] = self.validity
        number = self.page if page is None else page
        if number > 1:
            params["page"] = str(number)
        return f"/columns/{self.column}" + (f"?{urlencode(params)}" if params else "")


def _refuse(name: str, raw: str, expected: str) -> BadParameter:
    shown = raw[:SHOWN_MAX] if raw.isprintable() else ""
    got = f"（收到「{shown}」）" if shown else ""
    return BadParameter(f"参数「{PARAMETERS[name]}」（{name}）{expected}{got}。")


def parse(column: str, settings: ColumnConfig, query: Mapping[str, str]) -> ColumnQuery:
    """The page a query asks for; BadParameter naming the first parameter that is wrong. An
    empty value is no filter (what the filter form sends for 全部)."""
    raw_page = query.get("page", "") or "1"
    if not _PAGE.fullmatch(raw_page) or int(raw_page) < 1:
        raise _refuse("page", raw_page, "应为正整数")
    raw_year = query.get("year", "")
    year = None
    if raw_year:
        if not _YEAR.fullmatch(raw_year) or not FIRST_YEAR <= int(raw_year) <= LAST_YEAR:
            raise _refuse("year", raw_year, "应为四位数的年份，如 2026")
        year = int(raw_year)
    kind = query.get("kind", "")
    if kind and kind not in settings.kinds:
        choices = "、".join(f"{k}（{KIND_LABELS[Kind(k)]}）" for k in settings.kinds)
        raise _refuse("kind", kind, f"应为本栏目的类别之一：{choices}")
    validity = query.get("validity", "")
    if validity and validity not in VALIDITY:
        choices = "、".join(f"{k}（{VALIDITY_LABELS[v]}）" for k, v in VALIDITY.items())
        raise _refuse("validity", validity, f"应为以下之一：{choices}")
    return ColumnQuery(column, int(raw_page), year, kind, validity)


class ColumnPages:
    """The builder of the column pages (registered with the app's PublicSite)."""

    def __init__(self, site: PublicSite) -> None:
        self.site = site
        self.config: Config = site.config
        self.tz = ZoneInfo(self.config.app.timezone)
        site.register("column", self.column)

    def _year(self, moment: datetime) -> int:
        return moment.astimezone(self.tz).year

    async def column(self, key: str) -> Result:
        q = ColumnQuery.from_key(key)
        settings = self.config.columns.get(q.column)
        if settings is None:  # the handler checked; a key is never trusted all the same
            return self.site.page("public/not_found.html", 404), False
        everything = await listed(q.column)
        years = sorted({self._year(i.pub.published) for i in everything}, reverse=True)
        wanted = VALIDITY.get(q.validity)
        chosen = [
            i
            for i in everything
            if (q.year is None or self._year(i.pub.published) == q.year)
            and (not q.kind or i.kind == q.kind)
            and (wanted is None or i.validity == wanted)
        ]
        per_page = self.config.site.page_size
        pages = max(1, math.ceil(len(chosen) / per_page))
        if q.page > pages:
            return self.site.page("public/not_found.html", 404), False
        shown = await rows(chosen[(q.page - 1) * per_page : q.page * per_page])
        ids = {i.pub.item_id for i in everything}
        marks = [at for item_id, (_, at) in (await validity_marks(None)).items() if item_id in ids]
        last = self.site.later(
            max((i.pub.updated for i in everything), default=None),
            await last_retraction(q.column),
            max(marks, default=None),
        )
        base = self.config.app.public_base_url
        built = self.site.page(
            "public/column.html",
            200,
            last,
            nav=f"column:{q.column}",
            column={"key": q.column, "name": settings.name},
            query=q,
            rows=shown,
            total=len(chosen),
            pages=pages,
            years=years,
            kinds=[(k, KIND_LABELS[Kind(k)]) for k in settings.kinds],
            validities=[(k, VALIDITY_LABELS[v]) for k, v in VALIDITY.items()],
            show_validity=Kind.POLICY.value in settings.kinds,
            kind_labels={k.value: label for k, label in KIND_LABELS.items()},
            validity_labels=VALIDITY_LABELS,
            filtered=q.year is not None or bool(q.kind or q.validity),
            canonical_url=base + q.path(),
            prev_url=base + q.path(q.page - 1) if q.page > 1 else "",
            next_url=base + q.path(q.page + 1) if q.page < pages else "",
        )
        # Kept for the years that have items: anyone may ask for any other year.
        return built, q.year is None or q.year in years


async def column_page(request: web.Request) -> web.StreamResponse:
    name = request.match_info["column"]
    settings = request.app[CONFIG].columns.get(name)
    if settings is None:
        return not_found(request)
    try:
        q = parse(name, settings, request.query)
    except BadParameter as exc:
        back = ((f"/columns/{name}", f"返回{settings.name}"),)
        return error_page(request, 400, str(exc), back)
    return await site_of(request).serve(request, q.key)


def setup(app: web.Application) -> None:
    ColumnPages(app[SITE])
    app.router.add_get("/columns/{column}", guard(column_page), name="public.column")
