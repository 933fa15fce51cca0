"""The aiohttp application: the one module that imports the route modules (public pages and
feeds, the 留言 form and Q&A, the JSON API, the staff console, the channel callbacks, health and
metrics) and installs them; the typed app state they share lives in bot/web/keys.py."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import aiohttp
from aiohttp import web

from bot import db
from bot.config import Config
from bot.inbox.ingest import Inbox
from bot.items import prereview
from bot.items.linkcheck import LinkChecker, retracted_items
from bot.items.render import TEMPLATES, Renderer
from bot.metrics import Metrics
from bot.models import Item, SearchDoc
from bot.outbox.wakeup import Wakeup
from bot.site import version
from bot.site.cache import SiteCache
from bot.site.follow import Follower
from bot.site.serve import PublicSite
from bot.web.api import routes as api
from bot.web.callbacks import suishenban as suishenban_callback
from bot.web.callbacks import wechat as wechat_callback
from bot.web.console import (
    account,
    audit_page,
    dashboard,
    deliveries,
    inbox,
    inbox_actions,
    items,
    login,
    mass_send_page,
    matters_page,
    media_page,
    package,
    previews,
    profile,
    queue,
    review,
    tasks_page,
    users_page,
    wechat_tools,
    word_page,
)
from bot.web.console import frame as console
from bot.web.keys import CONFIG, INBOX, LINKS, RENDERER, SCOPES, SITE, SITE_FOLLOWER, WAKEUP
from bot.web.ops import health, metrics
from bot.web.public import columns, discovery, fallback, faq, feedback, home, media, qa, search
from bot.web.public import pages as public
from bot.web.scopes import Scopes

log = logging.getLogger(__name__)
# What the HTTP server accepts besides aiohttp's defaults (web.AppRunner keyword arguments):
# a request line up to 128 KiB, so a search pasted whole (10,000 characters of Chinese is 90 KB
# percent-encoded) reaches /search, which cuts it and says so, instead of aiohttp's bare
# English 400 for a line over 8 KiB. Behind nginx: large_client_header_buffers (docs/deploy.md).
SERVER_LIMITS: dict[str, Any] = {"max_line_size": 128 * 1024}


async def _link_checker(app: web.Application) -> AsyncIterator[None]:
    """One HTTP session for the app's link checks, closed with the app."""
    config = app[CONFIG]
    if not config.review.check_links:
        app[LINKS] = None
        yield
        return
    async with aiohttp.ClientSession() as session:
        app[LINKS] = LinkChecker.from_config(session, config, retracted_lookup=retracted_items)
        yield


async def _knowledge(app: web.Application) -> AsyncIterator[None]:
    """Build the inbox's knowledge base (the search index's public documents: items, 选登, FAQ)
    at start and refresh it on the inbox's interval; triage and auto-replies run without
    suggestions until it is built."""
    inbox, minutes = app[INBOX], app[CONFIG].inbox.knowledge_refresh_minutes

    async def refresh() -> None:
        while True:
            try:
                count = await inbox.refresh_knowledge()
                log.info("knowledge base built from %d documents", count)
            except Exception:  # the site still serves; triage runs without suggestions
                log.exception("building the knowledge base failed")
            await asyncio.sleep(minutes * 60)

    async with _running(refresh()):
        yield


async def _category_model(app: web.Application) -> AsyncIterator[None]:
    """Follow the newest trained category model (bot/inbox/learning.py) every
    [inbox.classifier] reload_seconds: a model trained by any process is used here without a
    restart; triage uses the keyword scores until one is loaded."""
    inbox, seconds = app[INBOX], app[CONFIG].inbox.classifier.reload_seconds

    async def follow() -> None:
        while True:
            try:
                await inbox.refresh_model()
            except Exception:  # triage goes on with the model it has (or the keyword scores)
                log.exception("checking for a new category model failed")
            await asyncio.sleep(seconds)

    async with _running(follow()):
        yield


async def _public_site(app: web.Application) -> AsyncIterator[None]:
    """The built public pages follow the site version (bot/site/follow.py) while the app
    runs; the epoch (templates and configuration) is read first, so Last-Modified is never
    earlier than the bytes' shape."""
    config, site = app[CONFIG], app[SITE]
    site.epoch = await version.epoch(config, TEMPLATES)
    follower = Follower(
        site.cache,
        config.web.public.follow_poll_seconds,
        db.listen_params(config),
        rebuild=site.rebuild,
    )
    app[SITE_FOLLOWER] = follower
    async with _running(follower.run()):
        yield
    await follower.aclose()
    await site.cache.aclose()


@contextlib.asynccontextmanager
async def _running(job: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """A background task for the app's lifetime, cancelled when the app stops."""
    task = asyncio.create_task(job)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _warm_up(app: web.Application) -> None:
    """Pre-review's dictionaries are built before the first submission needs them; an empty
    search index beside public items (data from before it existed) is said in the log."""
    await prereview.warm_up(app[CONFIG])
    if not await SearchDoc.exists() and await Item.filter(status="published").exists():
        log.warning(
            "the search index is empty while items are published: run `gongkai search reindex`"
        )


def create_app(
    config: Config, wakeup: Wakeup | None = None, process_metrics: Metrics | None = None
) -> web.Application:
    """The web app; `process_metrics` is the Metrics object the process's dispatcher records
    into, when it runs one (else the app makes its own)."""
    app = web.Application(client_max_size=config.web.max_body_bytes)
    app[CONFIG] = config
    app[SCOPES] = Scopes()  # no app middleware: bot/web/scopes.py
    app[RENDERER] = Renderer(config)
    app[SITE] = PublicSite(config, SiteCache(config.web.public.cache_bytes), app[RENDERER])
    app.cleanup_ctx.append(_public_site)
    app[WAKEUP] = wakeup or Wakeup()
    app[LINKS] = None
    app.cleanup_ctx.append(_link_checker)
    app[INBOX] = Inbox(config)
    app.cleanup_ctx.append(_knowledge)
    app.cleanup_ctx.append(_category_model)
    app.on_startup.append(_warm_up)
    home.setup(app)  # /: the home page; /sitemap: the 网站地图
    columns.setup(app)  # /columns/{column}: each column's list
    public.setup(app)  # /items/{id}, /feeds/…
    discovery.setup(app)  # /sitemap.xml, /robots.txt, /favicon.ico, /assets/ (static/public)
    media.setup(app)  # /media/{name}: uploaded images and attachments
    api.setup(app)
    health.setup(app)
    if process_metrics is not None:
        metrics.use_metrics(app, process_metrics)
    metrics.setup(app)  # before the callbacks: they time themselves into it
    feedback.setup(app)
    qa.setup(app)  # /qa: the 选登 page and its feed
    search.setup(app)  # /search: 一网通查 and 一网通答
    faq.setup(app)  # /faq: the 常见问题 the search answers from
    wechat_callback.setup(app)
    suishenban_callback.setup(app)
    console.setup(
        app,
        login.OPEN_ROUTES,
        (
            login.ROUTES,
            queue.ROUTES,
            items.ROUTES,
            review.ROUTES,
            package.ROUTES,
            previews.ROUTES,
            deliveries.ROUTES,
            audit_page.ROUTES,
            inbox.ROUTES,
            inbox_actions.ROUTES,
            dashboard.ROUTES,
            mass_send_page.ROUTES,
            matters_page.ROUTES,
            tasks_page.ROUTES,
            media_page.ROUTES,
            account.ROUTES,
            profile.ROUTES,
            users_page.ROUTES,
            word_page.ROUTES,
            wechat_tools.ROUTES,
        ),
    )
    fallback.setup(app)  # last: every other path, the public 404 and 405 pages
    return app


def create_worker_app(config: Config, worker_metrics: Metrics) -> web.Application:
    """The small app a worker-only process serves on metrics.worker_port: /metrics (its own
    histograms and counters, plus the shared database figures) and /healthz."""
    app = web.Application(client_max_size=64 * 1024)
    app[CONFIG] = config
    metrics.use_metrics(app, worker_metrics)
    metrics.setup(app)
    health.setup(app)
    return app
