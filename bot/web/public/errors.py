"""The public site's error pages: every status it answers with (400, 404, 405, 410, 413, 429,
500, …) is a Chinese page with the site's header and a way back, never aiohttp's bare English.

There is no middleware (bot/web/scopes.py), so each public handler is wrapped when it is
registered (guard): an aiohttp HTTPException it raises (a form too large, a body that cannot be
parsed) becomes the page of its status, and any other exception is logged with its traceback
and answered with the 500 page. The wrapper costs one more coroutine call on the cached path
(benchmarks/README.md). What no route matches reaches unmatched(), the last route
(bot/web/public/fallback.py): 405 with the methods the path does take, else 404.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.web.http_errors import allowed_methods, kept_headers, own_text, size_text
from bot.web.keys import CONFIG
from bot.web.public.http import page, site_of

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Paths whose errors are not pages of the public site: the API answers JSON and the console
# its own pages (each has its own catch-all route, registered before the public one).
NOT_PUBLIC = ("/api", "/console")
# (heading, message) of each status; a handler's own Chinese text replaces the message.
PAGES: dict[int, tuple[str, str]] = {
    400: ("请求有误", "您提交的网址参数或表单内容无法处理，请检查后重试。"),
    403: ("禁止访问", "您没有访问此页面的权限。"),
    404: ("页面不存在", "您访问的页面不存在或尚未公开，请检查网址是否正确。"),
    405: ("请求方式不受支持", "此网址不支持该请求方式，请通过页面上的链接或表单访问。"),
    410: ("内容已撤下", "本页面原有的内容已撤下，不再公开。"),
    413: ("提交的内容过大", "提交的内容超过了本站允许的大小，请删减后重试。"),
    429: ("访问过于频繁", "您的访问过于频繁，请稍后再试。"),
    500: ("服务器内部错误", "服务器处理您的请求时出错，已记录日志，请稍后重试。"),
    503: ("服务暂不可用", "服务暂时不可用，请稍后重试。"),
}
# The built 404 page every unmatched path gets (bot/web/public/fallback.py builds it).
NOT_FOUND_KEY = "error:404"


def error_context(
    status: int, message: str = "", back: tuple[tuple[str, str], ...] = ()
) -> dict[str, Any]:
    """What templates/public/error.html shows: the heading and message of `status` (or the
    message given), and links back (path on this site, label) besides the home page."""
    heading, default = PAGES.get(status, PAGES[500 if status >= 500 else 400])
    return {"code": status, "heading": heading, "message": message or default, "back": back}


def error_page(
    request: web.Request,
    status: int,
    message: str = "",
    back: tuple[tuple[str, str], ...] = (),
    headers: dict[str, str] | None = None,
) -> web.Response:
    """The Chinese page of `status`, rendered for this request (never cached)."""
    response = page(request, "public/error.html", status, **error_context(status, message, back))
    if headers:
        response.headers.update(headers)
    return response


def from_exception(request: web.Request, exc: web.HTTPException) -> web.Response:
    """The page of an HTTPException a public handler raised (or aiohttp raised in it)."""
    message = own_text(exc)
    if exc.status == 413 and not message:
        limit = request.app[CONFIG].web.max_body_bytes
        message = f"提交的内容超过了本站允许的大小（最多 {size_text(limit)}），请删减后重试。"
    return error_page(request, exc.status, message, headers=kept_headers(exc))


def guard(handler: Handler) -> Handler:
    """`handler` answering its failures with the public site's pages: an HTTPException of 400
    and above becomes the page of its status, any other exception is logged (with traceback)
    and becomes the 500 page. A redirect passes through."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return from_exception(request, exc)
        except Exception:
            log.exception("public page failed: %s %s", request.method, request.path)
            return error_page(request, 500)

    return guarded


def _not_public(path: str) -> bool:
    return any(path == root or path.startswith(root + "/") for root in NOT_PUBLIC)


async def unmatched(request: web.Request) -> web.StreamResponse:
    """The route of every path no other route matched: 405 naming the methods the path does
    take (its Allow header), else 404; the 404 page is built once and served from memory."""
    allowed = await allowed_methods(request)
    if _not_public(request.path):  # the console's own catch-all is off: aiohttp's answers
        if allowed:
            raise web.HTTPMethodNotAllowed(request.method, allowed)
        raise web.HTTPNotFound()
    if allowed:
        return error_page(request, 405, headers={"Allow": ",".join(sorted(allowed))})
    return await site_of(request).serve(request, NOT_FOUND_KEY)
