"""Every AppKey of the web app: the typed state route modules read from the application.

Route modules import their keys from here, never from bot.web.app, so no route module needs
the module that imports it. This module imports no route module and nothing that imports it;
the state types it names live beside what they are about (the inbox, WeChat, the console's
auth, the public form guard)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from bot.config import Config
from bot.inbox.ingest import Inbox
from bot.inbox.suishenban_callback import SuishenbanCallback
from bot.items.linkcheck import LinkChecker
from bot.items.media import MediaStore
from bot.items.render import Renderer
from bot.metrics import Metrics
from bot.models import User
from bot.outbox.wakeup import Wakeup
from bot.site.follow import Follower
from bot.site.serve import PublicSite
from bot.web.console.auth import ConsoleState
from bot.web.public.form_guard import FormGuard, SlidingWindow
from bot.web.scopes import Scopes
from bot.wechat.callback import CallbackState

CONFIG = web.AppKey("config", Config)
RENDERER = web.AppKey("renderer", Renderer)
WAKEUP = web.AppKey("wakeup", Wakeup)
# The one inbox of the app: the 留言 form and the channel callbacks ingest through it, so they
# share its knowledge base and its flood and repeat memory.
INBOX = web.AppKey("inbox", Inbox)
# The pre-review link check (None when config says not to check links).
LINKS: web.AppKey[LinkChecker | None] = web.AppKey("links")
METRICS = web.AppKey("metrics", Metrics)
# One /metrics scrape at a time: the database figures are read once per scrape.
SCRAPE_LOCK = web.AppKey("metrics_scrape_lock", asyncio.Lock)
MEDIA = web.AppKey("media", MediaStore)
FEEDBACK_GUARD = web.AppKey("feedback.guard", FormGuard)
# Searches per client address (/search, [search] rate_limit): one window per process.
SEARCH_LIMIT = web.AppKey("search.limit", SlidingWindow)
OPENAPI_DOC = web.AppKey("openapi_doc", dict)
WECHAT_CALLBACK = web.AppKey("wechat_callback", CallbackState)
# The clock /wechat/callback checks a request's signed timestamp against: time.time, except
# in a test that replays a fixed, signed vector and pins "now" to the vector's timestamp.
WECHAT_CLOCK: web.AppKey[Callable[[], float]] = web.AppKey("wechat_clock")
SUISHENBAN_CALLBACK = web.AppKey("suishenban_callback", SuishenbanCallback)
CONSOLE = web.AppKey("console_state", ConsoleState)
# Middlewares that run only under a path prefix (/api, /console): bot/web/scopes.py.
SCOPES = web.AppKey("middleware_scopes", Scopes)
# The built public pages and feeds of this process, and their builders (bot/site/serve.py).
SITE = web.AppKey("site", PublicSite)
# What keeps SITE in step with the site version (bot/site/follow.py); tests read its counters.
SITE_FOLLOWER = web.AppKey("site_follower", Follower)

# Per request: the console user wrap() loaded, for the error page the console's guard renders.
CONSOLE_USER = web.RequestKey("console_user", User)
