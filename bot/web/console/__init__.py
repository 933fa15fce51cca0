"""The staff console under /console: login with throttling, encrypted session cookies, CSRF
tokens on every form, a role check on every route, and the pages (publishing queue and
calendar, item editor and review, deliveries, audit log). Server-rendered Chinese pages;
the only scripts are the editor's optional live preview and the inbox's keyboard
shortcuts (both optional: every page works without them).

setup(app) is called once from bot/web/app.py. The inbox and dashboard pages slot in as
further modules with their own ROUTES list, added to PAGES below.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from zoneinfo import ZoneInfo

import aiohttp_session
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet

from bot.config import Config
from bot.web.app import CONFIG
from bot.web.console import (
    audit_page,
    csrf,
    dashboard,
    deliveries,
    inbox,
    inbox_actions,
    items,
    login,
    mass_send_page,
    media_page,
    previews,
    queue,
    review,
)
from bot.web.console.auth import LoginThrottle, Passwords
from bot.web.console.core import PREFIX, STATE, STATIC, ConsoleState, make_env, register

log = logging.getLogger(__name__)
COOKIE = "gongkai_console"
PAGES = (
    queue.ROUTES,
    items.ROUTES,
    review.ROUTES,
    previews.ROUTES,
    deliveries.ROUTES,
    audit_page.ROUTES,
    inbox.ROUTES,
    inbox_actions.ROUTES,
    dashboard.ROUTES,
    mass_send_page.ROUTES,
    media_page.ROUTES,
)


def session_fernet(config: Config) -> Fernet:
    """The cookie key: derived from the secret the config names, or random for this process."""
    cfg = config.web.console
    secret = config.secret(cfg.session_key_env)
    if not secret:
        log.warning(
            "%s is not set: console sessions use a random key and end when this process "
            "restarts (and do not carry across processes)",
            cfg.session_key_env,
        )
        secret = secrets.token_urlsafe(32)
    digest = hashlib.sha256(b"gongkai-console-session\n" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def setup(app: web.Application) -> None:
    config = app[CONFIG]
    cfg = config.web.console
    if not cfg.enabled:
        return
    tz = ZoneInfo(config.app.timezone)
    env = make_env(tz)
    env.globals["sandbox"] = config.app.sandbox  # the SANDBOX banner of console/base.html
    app[STATE] = ConsoleState(cfg, env, LoginThrottle.from_config(cfg), Passwords(), tz)
    storage = EncryptedCookieStorage(
        session_fernet(config),
        cookie_name=COOKIE,
        path=PREFIX,
        max_age=cfg.absolute_hours * 3600,
        secure=cfg.secure_cookies,
        httponly=True,
        samesite="Lax",
    )
    app.middlewares.append(_console_only(aiohttp_session.session_middleware(storage)))
    app.middlewares.append(csrf.middleware)
    register(app, login.setup_routes(app))
    for routes in PAGES:
        register(app, routes)
    app.router.add_get(PREFIX, _to_queue)
    app.router.add_static(f"{PREFIX}/static", STATIC, append_version=False)


def _console_only(middleware: Middleware) -> Middleware:
    """Sessions only under /console: the rest of the site (API, feeds, callbacks) never gets a
    session cookie, nor the session middleware's checks on its responses."""

    @web.middleware
    async def scoped(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == PREFIX or request.path.startswith(PREFIX + "/"):
            return await middleware(request, handler)
        return await handler(request)

    return scoped


async def _to_queue(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(f"{PREFIX}/")
