"""The website's search (一网通查, /search) and its answer first (一网通答): a visitor's words
over everything published — items, 选登 exchanges, FAQ entries (bot/search/) — filtered by
kind, column, year and validity, the counts by kind as links that filter, a page at a time.

Rendered per request, never cached (the words are the visitor's). Nothing a visitor sends is
refused with an error: the text goes through bot/search/query.parse (never to the engine as
syntax; cut to [search] max_query_chars, the page says so), and a filter that names nothing is
ignored with a note saying so. A client address makes at most [search] rate_limit searches per
rate_window_seconds (the 429 page with Retry-After after that). A search that finds nothing,
unfiltered, is counted with personal data masked (bot/search/misses.py, the 数据看板).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.config import Config
from bot.models import (
    KIND_LABELS,
    SEARCH_KIND_LABELS,
    VALIDITY_LABELS,
    Kind,
    SearchDoc,
    SearchDocKind,
)
from bot.search import misses
from bot.search.answer import best_answer
from bot.search.engine import Filters
from bot.search.find import search
from bot.search.query import Query, parse
from bot.web.clients import client_address
from bot.web.keys import CONFIG, SEARCH_LIMIT
from bot.web.public.errors import error_page, guard
from bot.web.public.form_guard import SlidingWindow
from bot.web.public.http import page

log = logging.getLogger(__name__)
_PAGE = re.compile(r"[0-9]{1,6}")
_YEAR = re.compile(r"[0-9]{4}")
FIRST_YEAR, LAST_YEAR = 1949, 2999
SHOWN_MAX = 20  # characters of an ignored value the page repeats
# What cannot be text: lone surrogates, controls, and U+FFFD, which stands where a query string
# was not UTF-8 (no document holds it; it is not what the visitor meant to look for).
_NOT_TEXT = re.compile(r"[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
# The validity filter: the URL's value → its label ("" is every validity, the default).
VALIDITY = {
    "valid": "有效",
    "repealed": VALIDITY_LABELS["repealed"],
    "expired": VALIDITY_LABELS["expired"],
}
PARAMETERS = {
    "page": "页码",
    "year": "年份",
    "kind": "类别",
    "column": "栏目",
    "validity": "有效性",
}


def kind_labels() -> dict[str, str]:
    """Every value of the kind filter (the names of Results.by_kind, plus "item") → its label,
    in the order the page lists them."""
    labels = {SearchDocKind.ITEM.value: SEARCH_KIND_LABELS[SearchDocKind.ITEM]}
    labels.update({f"{SearchDocKind.ITEM.value}:{k.value}": KIND_LABELS[k] for k in Kind})
    labels[SearchDocKind.QA.value] = SEARCH_KIND_LABELS[SearchDocKind.QA]
    labels[SearchDocKind.FAQ.value] = SEARCH_KIND_LABELS[SearchDocKind.FAQ]
    return labels


KINDS = kind_labels()


def kind_label(doc: SearchDoc) -> str:
    """What a found document is, in words: 政策文件, 网上咨询选登, 常见问题, …"""
    name = f"{doc.kind}:{doc.item_kind}" if doc.item_kind else doc.kind
    return KINDS.get(name) or KINDS.get(doc.kind, "")


@dataclass(frozen=True)
class Params:
    """One search page as asked for, every filter checked ("" or None: all)."""

    text: str = ""  # the words: what the visitor typed, made text (then as parse cut it)
    kind: str = ""  # a key of KINDS
    column: str = ""
    year: int | None = None
    validity: str = ""  # a key of VALIDITY
    page: int = 1
    notes: tuple[str, ...] = field(default=())  # what was ignored, said on the page

    @property
    def filtered(self) -> bool:
        return bool(self.kind or self.column or self.year is not None or self.validity)

    def filters(self) -> Filters:
        kind, _, item_kind = self.kind.partition(":")
        return Filters(kind, item_kind, self.column, self.year, self.validity)

    def path(self, **changes: Any) -> str:
        """This search's address (with `changes`: kind="", page=2, …); page 1 is not said."""
        p = replace(self, **changes)
        params = {"q": p.text}
        if p.kind:
            params["kind"] = p.kind
        if p.column:
            params["column"] = p.column
        if p.year is not None:
            params["year"] = str(p.year)
        if p.validity:
            params["validity"] = p.validity
        if p.page > 1:
            params["page"] = str(p.page)
        return "/search?" + urlencode(params)


def _ignored(name: str, raw: str, why: str = "") -> str:
    shown = raw[:SHOWN_MAX] if raw.isprintable() and not _NOT_TEXT.search(raw) else ""
    got = f"「{shown}」" if shown else "的值"
    return f"「{PARAMETERS[name]}」参数{got}无效{why}，已忽略。"


def read_params(query: Mapping[str, str], config: Config) -> Params:
    """The search a query string asks for; whatever names nothing is dropped with a note."""
    notes: list[str] = []
    text, removed = _NOT_TEXT.subn("", query.get("q", ""))
    if removed:
        notes.append("搜索词中有无法识别的字符，已去除。")
    kind = query.get("kind", "")
    if kind and kind not in KINDS:
        notes.append(_ignored("kind", kind))
        kind = ""
    column = query.get("column", "")
    if column and column not in config.columns:
        notes.append(_ignored("column", column))
        column = ""
    raw_year, year = query.get("year", ""), None
    if raw_year:
        if _YEAR.fullmatch(raw_year) and FIRST_YEAR <= int(raw_year) <= LAST_YEAR:
            year = int(raw_year)
        else:
            notes.append(_ignored("year", raw_year, "（应为四位数的年份，如 2026）"))
    validity = query.get("validity", "")
    if validity == "all" or (validity and validity not in VALIDITY):
        if validity != "all":
            notes.append(_ignored("validity", validity))
        validity = ""
    raw_page, number = query.get("page", ""), 1
    if raw_page:
        if _PAGE.fullmatch(raw_page) and int(raw_page) >= 1:
            number = int(raw_page)
        else:
            notes.append(_ignored("page", raw_page, "（应为正整数）") + "显示第 1 页。")
    return Params(text, kind, column, year, validity, number, tuple(notes))


def _too_many(request: web.Request, wait: float) -> web.Response:
    seconds = max(1, math.ceil(wait))
    when = f"{seconds} 秒" if seconds < 60 else f"{math.ceil(seconds / 60)} 分钟"
    return error_page(
        request,
        429,
        f"搜索过于频繁，请 {when}后再试。",
        back=(("/search", "返回站内搜索"),),
        headers={"Retry-After": str(seconds)},
    )


def _no_store(response: web.Response) -> web.Response:
    # The words are the visitor's (sometimes their own affairs): no cache keeps them.
    response.headers["Cache-Control"] = "no-store"
    return response


async def _count_miss(config: Config, query: Query) -> None:
    tz = ZoneInfo(config.app.timezone)
    try:
        await misses.record(
            query.text, datetime.now(tz).date(), config.review.official_email_domains
        )
    except Exception:  # the count is for staff; the visitor still gets the page
        log.exception("search: counting a search that found nothing failed")


async def search_page(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    settings = config.search
    params = read_params(request.query, config)
    context: dict[str, Any] = {
        "params": params,
        "kinds": KINDS,
        "validities": VALIDITY,
        "validity_labels": VALIDITY_LABELS,
        "max_chars": settings.max_query_chars,
        "nav": "search",
    }
    if not params.text.strip():
        return _no_store(page(request, "public/search.html", query=None, results=None, **context))
    wait = request.app[SEARCH_LIMIT].hit(client_address(request, config.web.trusted_proxies))
    if wait is not None:
        log.warning("search: rate limit hit")
        return _no_store(_too_many(request, wait))
    query = parse(params.text, settings.max_query_chars)
    params = replace(params, text=query.text)  # the links repeat what was searched for
    filters = params.filters()
    results = await search(query, filters, params.page, settings.page_size)
    notes = list(params.notes)
    if results.total and params.page > results.pages:
        notes.append(f"第 {params.page} 页超出范围（共 {results.pages} 页），已显示最后一页。")
        params = replace(params, page=results.pages)
        results = await search(query, filters, params.page, settings.page_size)
    answer = None
    if results.total and params.page == 1:
        answer = await best_answer(query, filters, results.mode, settings.answer_min_confidence)
    if not results.total and query.tokens and not params.filtered and params.page == 1:
        await _count_miss(config, query)
    context["params"] = params
    return _no_store(
        page(
            request,
            "public/search.html",
            query=query,
            results=results,
            answer=answer,
            notes=notes,
            groups=_groups(results.by_kind),
            everything=sum(results.by_kind.values()),
            kind_label=kind_label,
            feedback_url="/feedback?" + urlencode({"content": query.text}),
            **context,
        )
    )


def _groups(by_kind: Mapping[str, int]) -> list[tuple[str, str, int]]:
    """(filter value, label, count) of each kind found, in KINDS order; "item" sums the items
    when there are items of more than one kind."""
    items = sum(n for name, n in by_kind.items() if name.startswith("item:"))
    counts = {**by_kind, SearchDocKind.ITEM.value: items}
    kinds_of_items = sum(1 for name in by_kind if name.startswith("item:"))
    return [
        (value, label, counts[value])
        for value, label in KINDS.items()
        if counts.get(value) and (value != SearchDocKind.ITEM.value or kinds_of_items > 1)
    ]


def setup(app: web.Application) -> None:
    settings = app[CONFIG].search
    app[SEARCH_LIMIT] = SlidingWindow(
        settings.rate_limit, settings.rate_window_seconds, settings.rate_limit_max_clients
    )
    app.router.add_get("/search", guard(search_page), name="public.search")
