"""The item editor's uploads: POST /console/media stores an image or attachment (bot/items/media.py)
and answers with the Markdown to put in the body (JSON for the editor's script, a page to copy
it from without one), audited; GET /console/items/{id}/media lists the files an item's body
refers to, with their sizes.

The upload is read as a stream, refused (413) as soon as it passes its type's limit, when the
editor's script sends the CSRF token as a header. A plain form post carries the token in the
body, which the CSRF check (csrf.py) reads whole first, within web.max_body_bytes.
"""

from __future__ import annotations

from typing import Any

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from tortoise.transactions import in_transaction

from bot import audit
from bot.items.media import MediaError, MediaStore, StoredMedia, human_size, media_names
from bot.models import Item, Role
from bot.web.console import csrf
from bot.web.console.core import ALL_STAFF, PREFIX, Ctx, Route, error_page
from bot.web.keys import MEDIA

EDITOR = (Role.EDITOR,)
FIELD_MAX = 2000  # bytes of a text field of the upload form (description, item id)
# Multipart framing and the text fields around the file: what a request may carry beyond
# the largest file before it is refused unread.
OVERHEAD = 64 * 1024


def _wants_json(ctx: Ctx) -> bool:
    return "application/json" in ctx.request.headers.get("Accept", "")


async def _text(part: BodyPartReader) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(FIELD_MAX):
        data += chunk
        if len(data) > FIELD_MAX:
            break
    return bytes(data[:FIELD_MAX]).decode("utf-8", "replace")


async def _streamed(ctx: Ctx, store: MediaStore) -> tuple[StoredMedia | None, dict[str, str]]:
    """Read the multipart body part by part; the file goes to the store chunk by chunk."""
    fields: dict[str, str] = {}
    stored = None
    try:
        reader = await ctx.request.multipart()
    except (AssertionError, ValueError, LookupError) as exc:  # not multipart, no boundary
        raise MediaError("上传请求不是 multipart/form-data 表单，无法读取文件。") from exc
    while (part := await _next_part(reader)) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "file" and part.filename is not None and stored is None:
            if not part.filename:
                continue  # the file control left empty
            upload = store.begin(part.filename)
            try:
                while chunk := await part.read_chunk(64 * 1024):
                    upload.write(chunk)
                stored = upload.finish()
            finally:
                upload.abort()
        elif part.name:
            fields[part.name] = await _text(part)
    return stored, fields


async def _next_part(reader: MultipartReader) -> Any:
    """The next part; a malformed one (bad headers, a NUL in its file name) is the sender's
    mistake, not ours."""
    try:
        return await reader.next()
    except (AssertionError, ValueError, LookupError, HttpProcessingError) as exc:
        raise MediaError("上传的表单数据格式有误，无法读取文件。") from exc


async def _posted(ctx: Ctx, store: MediaStore) -> tuple[StoredMedia | None, dict[str, str]]:
    """The form as already read (and size-limited) by aiohttp for the CSRF check."""
    form = await ctx.form()
    fields = {k: v[:FIELD_MAX] for k, v in form.items() if isinstance(v, str)}
    file = form.get("file")
    if not isinstance(file, web.FileField) or not file.filename:
        return None, fields
    upload = store.begin(file.filename)
    try:
        while chunk := file.file.read(64 * 1024):
            upload.write(chunk)
        return upload.finish(), fields
    finally:
        upload.abort()


async def _error(ctx: Ctx, status: int, message: str) -> web.Response:
    if _wants_json(ctx):
        return web.json_response({"error": message}, status=status)
    return await error_page(ctx.request, status, message, ctx.user)


async def upload(ctx: Ctx) -> web.StreamResponse:
    store = ctx.request.app[MEDIA]
    longest = max(store.cfg.max_image_bytes, store.cfg.max_attachment_bytes)
    length = ctx.request.content_length
    if length is not None and length > longest + OVERHEAD:
        return await _error(ctx, 413, f"上传内容超过大小上限 {human_size(longest)}，未保存。")
    try:
        if ctx.request.headers.get(csrf.HEADER):  # the CSRF check left the body unread
            stored, fields = await _streamed(ctx, store)
        else:
            stored, fields = await _posted(ctx, store)
    except MediaError as exc:
        return await _error(ctx, exc.status_code, str(exc))
    if stored is None:
        return await _error(ctx, 400, "请选择要上传的文件。")
    item_id = fields.get("item", "").strip()
    snippet = stored.snippet(fields.get("description", ""))
    async with in_transaction() as conn:
        details: dict[str, Any] = {
            "filename": stored.filename,
            "type": stored.type.ext,
            "bytes": stored.size,
            "new": stored.created,
        }
        if item_id.isdigit() and len(item_id) < 10:
            details["item_id"] = int(item_id)
        await audit.record(conn, ctx.actor.name, "media.upload", "media", stored.name, details)
    if _wants_json(ctx):
        return web.json_response(
            {
                "snippet": snippet,
                "url": stored.url,
                "name": stored.name,
                "filename": stored.filename,
                "type": stored.type.label,
                "image": stored.type.image,
                "size": stored.size,
                "size_label": human_size(stored.size),
                "width": stored.width,
                "height": stored.height,
                "new": stored.created,
            }
        )
    return await ctx.render(
        "console/media_uploaded.html",
        stored=stored,
        snippet=snippet,
        size=human_size(stored.size),
        item_id=int(item_id) if item_id.isdigit() and len(item_id) < 10 else None,
    )


async def item_media(ctx: Ctx) -> web.StreamResponse:
    item = await Item.filter(id=ctx.int_param("id")).first()
    if item is None:
        raise web.HTTPNotFound()
    store = ctx.request.app[MEDIA]
    rows = [(name, store.info(name)) for name in media_names(item.body)]
    return await ctx.render(
        "console/item_media.html",
        item=item,
        rows=rows,
        human_size=human_size,
        image_limit=human_size(store.cfg.max_image_bytes),
    )


ROUTES = [
    Route("POST", f"{PREFIX}/media", upload, EDITOR),
    Route("GET", f"{PREFIX}/items/{{id}}/media", item_media, ALL_STAFF),
]
