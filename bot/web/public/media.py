"""GET /media/{name}: the images and attachments uploaded in the console (bot/items/media.py), to
anyone, as files that never change (content-addressed names: cached for a year, immutable).

Only well-formed stored names are served (no path can be named); the type comes from the
name, which the upload decided from the bytes; browsers are told not to guess another
(nosniff) and to run nothing (CSP sandbox). Images are shown inline; every other type is a
download (Content-Disposition: attachment, with the uploader's file name), PDF included: a
document opened from our origin in a browser's viewer is more than a file to keep.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from bot.items.media import MediaStore
from bot.web.keys import CONFIG, MEDIA
from bot.web.public.errors import guard
from bot.web.public.http import not_found

YEAR = 365 * 24 * 3600


def content_disposition(filename: str, image: bool) -> str:
    """inline for images, attachment otherwise; the name in RFC 6266/5987 form (an ASCII
    fallback and the UTF-8 original)."""
    kind = "inline" if image else "attachment"
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


async def serve(request: web.Request) -> web.StreamResponse:
    store = request.app[MEDIA]
    name = request.match_info["name"]
    path = store.path(name)
    info = store.info(name) if path is not None else None
    if path is None or info is None:
        return not_found(request)
    headers = {
        "Content-Type": info.type.content_type,
        "Content-Disposition": content_disposition(info.filename, info.type.image),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": f"public, max-age={YEAR}, immutable",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    # FileResponse streams from disk, answers If-None-Match (ETag) with 304 and serves ranges.
    return web.FileResponse(path, headers=headers)


def setup(app: web.Application) -> None:
    app[MEDIA] = MediaStore(app[CONFIG].web.media)
    app.router.add_get("/media/{name}", guard(serve), name="public.media")
