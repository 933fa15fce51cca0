"""Middlewares that run only for the routes under a path prefix: the API's error mapping under
/api, the console's session and CSRF check under /console. They wrap each route's handler
when it is registered (Scopes.wrap), not the app: an aiohttp app with any middleware runs
every request through its middleware machinery, and the public pages and feeds, answered from
memory, need none of it."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]


async def _call(
    middleware: Middleware, handler: Handler, request: web.Request
) -> web.StreamResponse:
    return await middleware(request, handler)


async def _through(
    chain: list[Middleware], handler: Handler, request: web.Request
) -> web.StreamResponse:
    for middleware in reversed(chain):
        handler = functools.partial(_call, middleware, handler)
    return await handler(request)


class Scopes:
    def __init__(self) -> None:
        self._chains: dict[str, list[Middleware]] = {}

    def add(self, prefix: str, middleware: Middleware) -> None:
        """Run `middleware` around the handlers of `prefix`, after those added before (the
        first added is the outermost)."""
        self._chains.setdefault(prefix, []).append(middleware)

    def wrap(self, prefix: str, handler: Handler) -> Handler:
        """`handler` behind the middlewares of `prefix` (those added later included)."""
        return functools.partial(_through, self._chains.setdefault(prefix, []), handler)
