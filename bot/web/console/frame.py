"""The console's frame: the session cookie and its key, the CSRF middleware, the console's
state, the login routes and the pages bot/web/app.py hands in, and the static files."""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import aiohttp_session
from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet

from bot.config import Config
from bot.outbox.redis_state import client_for
from bot.staff import sessions, throttle
from bot.web.console import csrf
from bot.web.console.auth import ConsoleState, Passwords
from bot.web.console.core import PREFIX, STATIC, Route, guard, make_env, register, unmatched
from bot.web.keys import CONFIG, CONSOLE, SCOPES

log = logging.getLogger(__name__)
COOKIE = "gongkai_console"


def console_secret(config: Config) -> str:
    """The secret the config names, or a random one for this process."""
    cfg = config.web.console
    secret = config.secret(cfg.session_key_env)
    if not secret:
        log.warning(
            "%s is not set: console sessions use a random key and end when this process "
            "restarts (and do not carry across processes)",
            cfg.session_key_env,
        )
        secret = secrets.token_urlsafe(32)
    return secret


def session_fernet(secret: str) -> Fernet:
    """The cookie key, derived from the console's secret."""
    digest = hashlib.sha256(b"gongkai-console-session\n" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def setup(
    app: web.Application,
    open_routes: Sequence[tuple[str, str, Handler]],
    pages: Sequence[Sequence[Route]],
) -> None:
    """Install the console: `open_routes` need no session (the login form), `pages` do."""
    config = app[CONFIG]
    cfg = config.web.console
    if not cfg.enabled:
        return
    tz = ZoneInfo(config.app.timezone)
    env = make_env(tz)
    env.globals["sandbox"] = config.app.sandbox  # the SANDBOX banner of console/base.html
    env.globals["max_body_bytes"] = config.web.max_body_bytes  # checked before a form is sent
    secret = console_secret(config)
    redis_client = client_for(config)
    if redis_client is not None:
        app.on_cleanup.append(lambda _app: redis_client.aclose())
    app[CONSOLE] = ConsoleState(
        cfg,
        env,
        Passwords(),
        tz,
        sessions.store_for(redis_client, config.redis.key_prefix),
        throttle.store_for(redis_client, config.redis.key_prefix),
        throttle.DeviceMarks(secret),
        tuple(config.web.trusted_proxies),
    )
    storage = EncryptedCookieStorage(
        session_fernet(secret),
        cookie_name=COOKIE,
        path=PREFIX,
        max_age=cfg.absolute_hours * 3600,
        secure=cfg.secure_cookies,
        httponly=True,
        samesite="Lax",
    )
    # Only under /console: the rest of the site (API, feeds, callbacks) never gets a session
    # cookie, nor the session middleware's checks on its responses (bot/web/scopes.py).
    # Outermost: whatever fails below becomes the console's Chinese page of its status.
    app[SCOPES].add(PREFIX, guard)
    app[SCOPES].add(PREFIX, aiohttp_session.session_middleware(storage))
    app[SCOPES].add(PREFIX, csrf.middleware)
    for method, path, handler in open_routes:
        app.router.add_route(method, path, app[SCOPES].wrap(PREFIX, handler))
    for routes in pages:
        register(app, routes)
    app.router.add_get(PREFIX, app[SCOPES].wrap(PREFIX, _to_queue))
    app.router.add_static(f"{PREFIX}/static", STATIC, append_version=False)
    # Last: any other path under /console is the console's 404 or 405 page.
    app.router.add_route("*", f"{PREFIX}/{{tail:.*}}", unmatched(app))


async def _to_queue(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(f"{PREFIX}/")
