"""Middlewares that run only under a path prefix: the API's error mapping under /api, the
console's session and CSRF check under /console. The app has one middleware, this one; a
request elsewhere (a public page, a feed, a callback) passes one prefix check and goes straight
to its handler, instead of through every pass-through layer (aiohttp runs each middleware of
an app on every request)."""

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


class Scopes:
    def __init__(self) -> None:
        self._scopes: list[tuple[str, list[Middleware]]] = []

    def add(self, prefix: str, middleware: Middleware) -> None:
        """Run `middleware` for requests to `prefix` or below it, after those added before."""
        for known, chain in self._scopes:
            if known == prefix:
                chain.append(middleware)
                return
        self._scopes.append((prefix, [middleware]))

    def install(self, app: web.Application) -> None:
        app.middlewares.append(self._middleware)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        for prefix, chain in self._scopes:
            if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
                for middleware in reversed(chain):
                    handler = functools.partial(_call, middleware, handler)
                return await handler(request)
        return await handler(request)
