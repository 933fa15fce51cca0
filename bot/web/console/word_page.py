"""从 Word 导入, on the new-item page: POST /console/items/new/word takes a .docx and the kind
chosen beside it, makes it a draft (bot/items/wordfile.py reads it, bot/items/wordimport.py
stores its pictures and creates the item) and opens the draft in the editor to be reviewed.

The file is read as a stream and refused (413) once past [web.media.word] max_bytes when the
page's script sends the CSRF token as a header (static/console/wordimport.js); a plain form
post is read whole by the CSRF check first, within [web] max_body_bytes. The document is
converted in a worker thread: a long document must not stall the other requests.
"""

from __future__ import annotations

import asyncio

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from bot.errors import Refusal
from bot.items import wordfile, wordimport
from bot.items.media import human_size
from bot.models import KIND_LABELS, Kind, Role
from bot.web.console import csrf
from bot.web.console.core import PREFIX, Ctx, Route
from bot.web.keys import LINKS, MEDIA

EDITOR = (Role.EDITOR,)
PATH = f"{PREFIX}/items/new/word"
FIELD_MAX = 200  # bytes of a text field of the form (the kind)
# Multipart framing and the text fields around the file: what a request may carry beyond the
# largest document before it is refused unread.
OVERHEAD = 64 * 1024
_CHUNK = 64 * 1024


class UploadUnreadable(Refusal):
    """The request is not the form (not multipart, broken framing)."""

    status_code = 400
    code = "bad_upload"


def _wants_json(ctx: Ctx) -> bool:
    return "application/json" in ctx.request.headers.get("Accept", "")


def _too_large(limit: int) -> wordfile.WordFileTooLarge:
    return wordfile.WordFileTooLarge(
        f"文档超过 Word 文档大小上限 {human_size(limit)}，未导入："
        "请压缩其中的图片或拆分文档后重试。"
    )


async def _next_part(reader: MultipartReader) -> object:
    try:
        return await reader.next()
    except (AssertionError, ValueError, LookupError, HttpProcessingError) as exc:
        raise UploadUnreadable("上传的表单数据格式有误，无法读取文件。") from exc


async def _streamed(ctx: Ctx, limit: int) -> tuple[str, bytes | None, dict[str, str]]:
    """The form read part by part: a file named .doc is refused before its bytes are read,
    a larger one than the limit as soon as it passes it."""
    fields: dict[str, str] = {}
    name, data = "", None
    try:
        reader = await ctx.request.multipart()
    except (AssertionError, ValueError, LookupError) as exc:
        raise UploadUnreadable("上传请求不是 multipart/form-data 表单，无法读取文件。") from exc
    while (part := await _next_part(reader)) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "file" and part.filename and data is None:
            name = part.filename
            wordfile.check_name(name)
            buffer = bytearray()
            while chunk := await part.read_chunk(_CHUNK):
                buffer += chunk
                if len(buffer) > limit:
                    raise _too_large(limit)
            data = bytes(buffer)
        elif part.name:
            text = bytearray()
            while (chunk := await part.read_chunk(FIELD_MAX)) and len(text) <= FIELD_MAX:
                text += chunk
            fields[part.name] = bytes(text[:FIELD_MAX]).decode("utf-8", "replace")
    return name, data, fields


async def _posted(ctx: Ctx, limit: int) -> tuple[str, bytes | None, dict[str, str]]:
    """The form as the CSRF check already read it (within [web] max_body_bytes)."""
    form = await ctx.form()
    fields = {k: v[:FIELD_MAX] for k, v in form.items() if isinstance(v, str)}
    file = form.get("file")
    if not isinstance(file, web.FileField) or not file.filename:
        return "", None, fields
    wordfile.check_name(file.filename)
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise _too_large(limit)
    return file.filename, data, fields


def _kind(value: str) -> Kind:
    if value not in Kind._value2member_map_:
        raise wordfile.WordFileError("请选择稿件类型。")
    return Kind(value)


async def import_word(ctx: Ctx) -> web.StreamResponse:
    limits = ctx.config.web.media.word
    fields: dict[str, str] = {}
    try:
        length = ctx.request.content_length
        if length is not None and length > limits.max_bytes + OVERHEAD:
            raise _too_large(limits.max_bytes)
        if ctx.request.headers.get(csrf.HEADER):  # the CSRF check left the body unread
            name, data, fields = await _streamed(ctx, limits.max_bytes)
        else:
            name, data, fields = await _posted(ctx, limits.max_bytes)
        kind = _kind(fields.get("kind", ""))
        if data is None:
            raise wordfile.WordFileError("请选择要导入的 Word 文档（.docx）。")
        word = await asyncio.to_thread(wordfile.read_word, data, name, limits)
        done = await wordimport.create_from_word(
            word,
            kind,
            ctx.actor,
            ctx.config,
            ctx.request.app[MEDIA],
            links=ctx.request.app[LINKS],
        )
    except Refusal as exc:
        return await _refused(ctx, exc, fields.get("kind", ""))
    item = done.item
    editor = f"{PREFIX}/items/{item.id}/edit"
    await ctx.flash(
        "ok",
        f"已从「{word.source}」导入为草稿 #{item.id}（{KIND_LABELS[kind]}）：{done.summary()}。"
        "请逐项核对标题、文号、成文日期与正文，保存后再提交审核。",
    )
    if _wants_json(ctx):
        return web.json_response({"id": item.id, "redirect": editor})
    raise ctx.redirect(editor)


async def _refused(ctx: Ctx, exc: Refusal, kind: str) -> web.Response:
    if _wants_json(ctx):
        return web.json_response({"error": str(exc)}, status=exc.status_code)
    return await ctx.render(
        "console/item_new.html",
        http_status=exc.status_code,
        kinds=KIND_LABELS,
        word_max=human_size(ctx.config.web.media.word.max_bytes),
        word_error=str(exc),
        word_kind=kind or "notice",
    )


ROUTES = [Route("POST", PATH, import_word, EDITOR)]
