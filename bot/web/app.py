"""The aiohttp application: typed app state, the error and body-size handling every route
shares, and the route modules (public pages and feeds, JSON API, health)."""

from __future__ import annotations

from aiohttp import web

from bot.config import Config
from bot.render import Renderer
from bot.wakeup import Wakeup

CONFIG = web.AppKey("config", Config)
RENDERER = web.AppKey("renderer", Renderer)
WAKEUP = web.AppKey("wakeup", Wakeup)


def create_app(config: Config, wakeup: Wakeup | None = None) -> web.Application:
    from bot.web import api, health, public

    app = web.Application(client_max_size=config.web.max_body_bytes)
    app[CONFIG] = config
    app[RENDERER] = Renderer(config)
    app[WAKEUP] = wakeup or Wakeup()
    public.setup(app)
    api.setup(app)
    health.setup(app)
    return app
