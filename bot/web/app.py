"""The aiohttp application: typed app state, the error and body-size handling every route
shares, and the route modules (public pages and feeds, the 留言 form and Q&A, the JSON API,
the staff console, the channel callbacks, health and metrics)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from bot import prereview
from bot.config import Config
from bot.inbox import Inbox
from bot.linkcheck import LinkChecker, retracted_items
from bot.render import Renderer
from bot.wakeup import Wakeup

log = logging.getLogger(__name__)

CONFIG = web.AppKey("config", Config)
RENDERER = web.AppKey("renderer", Renderer)
WAKEUP = web.AppKey("wakeup", Wakeup)
# The one inbox of the app: the 留言 form and the channel callbacks ingest through it, so they
# share its knowledge base and its flood and repeat memory.
INBOX = web.AppKey("inbox", Inbox)
# The pre-review link check (None when config says not to check links).
LINKS: web.AppKey[LinkChecker | None] = web.AppKey("links")


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
    """Build the inbox's knowledge base (published items and FAQ) at start and refresh it on
    the inbox's interval; triage and auto-replies run without suggestions until it is built."""
    inbox, minutes = app[INBOX], app[CONFIG].inbox.knowledge_refresh_minutes

    async def refresh() -> None:
        while True:
            try:
                count = await inbox.refresh_knowledge()
                log.info("knowledge base built from %d documents", count)
            except Exception:  # the site still serves; triage runs without suggestions
                log.exception("building the knowledge base failed")
            await asyncio.sleep(minutes * 60)

    task = asyncio.create_task(refresh())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _warm_up(app: web.Application) -> None:
    """Pre-review's dictionaries are built before the first submission needs them."""
    await prereview.warm_up(app[CONFIG])


def create_app(config: Config, wakeup: Wakeup | None = None) -> web.Application:
    from bot.web import (
        api,
        console,
        feedback,
        health,
        media,
        metrics,
        public,
        suishenban_callback,
        wechat_callback,
    )

    app = web.Application(client_max_size=config.web.max_body_bytes)
    app[CONFIG] = config
    app[RENDERER] = Renderer(config)
    app[WAKEUP] = wakeup or Wakeup()
    app[LINKS] = None
    app.cleanup_ctx.append(_link_checker)
    app[INBOX] = Inbox(config)
    app.cleanup_ctx.append(_knowledge)
    app.on_startup.append(_warm_up)
    public.setup(app)
    media.setup(app)  # /media/{name}: uploaded images and attachments
    api.setup(app)
    health.setup(app)
    metrics.setup(app)  # before the callbacks: they time themselves into it
    feedback.setup(app)
    wechat_callback.setup(app)
    suishenban_callback.setup(app)
    console.setup(app)
    return app
