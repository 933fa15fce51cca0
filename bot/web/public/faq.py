"""The 常见问题 page (/faq): every active FAQ entry, question and answer, each under the anchor
id="faq-{id}" that the search index links to (bot/search/documents.py faq_doc).

Rendered per request from gk_faq: an FAQ entry changes no site version, so a built copy would
not learn of it.
"""

from __future__ import annotations

from aiohttp import web

from bot.models import Faq
from bot.web.public.errors import guard
from bot.web.public.http import page


async def faq_page(request: web.Request) -> web.StreamResponse:
    entries = await Faq.filter(active=True).order_by("id")
    return page(request, "public/faq.html", entries=entries, nav="faq")


def setup(app: web.Application) -> None:
    app.router.add_get("/faq", guard(faq_page), name="public.faq")
