"""CSRF protection of the console: every state-changing request under /console carries the
session's token (a hidden form field, or the X-CSRF-Token header of the preview fetch), checked
in constant time. Neither aiohttp-session nor the cookie's SameSite attribute does this alone.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp_session import get_session

from bot.web.console.auth import CSRF
from bot.web.console.core import PREFIX, error_page
from bot.web.inputs import read_form

FIELD = "_csrf"
HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@web.middleware
async def middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.method in SAFE_METHODS or not (
        request.path == PREFIX or request.path.startswith(PREFIX + "/")
    ):
        return await handler(request)
    sent = request.headers.get(HEADER, "")
    if not sent and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await read_form(request)  # cached: the handler reads the same parsed form
        value = form.get(FIELD, "")
        sent = value if isinstance(value, str) else ""
    session = await get_session(request)
    expected = session.get(CSRF)
    if (
        not isinstance(expected, str)
        or not expected
        or not hmac.compare_digest(sent.encode(), expected.encode())
    ):
        return await error_page(
            request,
            403,
            "表单已失效或来源不明（缺少或不匹配的防伪令牌），请返回上一页刷新后重试。",
        )
    return await handler(request)
