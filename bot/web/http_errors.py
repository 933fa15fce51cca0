"""What the public site's and the console's error pages share: the methods a path does take
(for 405 rather than 404 when no route took the request), a handler's own Chinese message in
an aiohttp HTTPException, the headers an error page keeps, and a size limit in words."""

from __future__ import annotations

from aiohttp import web

# Headers of an HTTPException that its error page keeps.
KEPT_HEADERS = ("Allow", "Retry-After")


async def allowed_methods(request: web.Request) -> set[str]:
    """The methods some route takes on this request's path; the catch-all routes (a `{tail`
    placeholder: the public site's, the console's, the API's) are not counted."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if "{tail" in resource.canonical:
            continue
        match, methods = await resource.resolve(request)
        if match is None:
            allowed |= methods
    return allowed


def own_text(exc: web.HTTPException) -> str:
    """A message a handler of ours gave (Chinese), not aiohttp's English default."""
    text = (exc.text or "").strip()
    return text if text and not text.isascii() else ""


def kept_headers(exc: web.HTTPException) -> dict[str, str]:
    return {name: exc.headers[name] for name in KEPT_HEADERS if name in exc.headers}


def size_text(count: int) -> str:
    """A byte count as people say it: 1 MB, 64 KB, 1500 字节."""
    if count >= 1024 * 1024 and count % (1024 * 1024) == 0:
        return f"{count // (1024 * 1024)} MB"
    if count >= 1024 and count % 1024 == 0:
        return f"{count // 1024} KB"
    return f"{count} 字节"
