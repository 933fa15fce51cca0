"""The website's 留言 pages: the form (/feedback) and the 查询码 status page where a writer
reads the state of their message and the answer (/feedback/status). The public Q&A page of
selected exchanges is bot/web/public/qa.py.

Server-rendered, no JavaScript needed. The form is guarded by bot/web/public/form_guard.py: a signed
double-submit CSRF token, per-IP sliding-window limits on submissions and look-ups, and a
honeypot field. Messages enter the inbox through bot/inbox/ingest.py like every other channel's.

Client addresses: request.remote is the client unless `[web] trusted_proxies` lists the
peer (the reverse proxy in front of the app); only then is X-Forwarded-For read. Behind a proxy
that is not listed, every visitor shares the proxy's address and its rate limit.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.config import Config
from bot.inbox.ingest import new_query_code
from bot.models import (
    COMMENT_STATUS_LABELS,
    Comment,
    CommentReply,
    CommentStatus,
    Item,
    ItemStatus,
    ItemVersion,
    ReplyStatus,
)
from bot.site.published import ITEM_ID, publication
from bot.web.clients import client_address
from bot.web.http_errors import size_text
from bot.web.inputs import read_form, text_problem
from bot.web.keys import CONFIG, FEEDBACK_GUARD, INBOX, RENDERER
from bot.web.public import form_guard
from bot.web.public.errors import error_context, guard
from bot.web.public.form_guard import CsrfError, FormGuard
from channels.base import IncomingComment, opaque_author
from channels.feed import REPLY_TYPE

log = logging.getLogger(__name__)
CHANNEL = "feed"
HONEYPOT = "website"  # a field name a form-filling robot is glad to fill in
# What a writer types when they copy the grouped code ("ABCD-EFGH-JKMN"): spaces, dashes.
_CODE_JUNK = re.compile(r"[\s\-－—_]+")
_CODE = re.compile(r"[A-Z0-9]{6,32}")
_EMAIL = re.compile(
    r"[A-Za-z0-9._%+\-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
)
_PHONE_JUNK = re.compile(r"[\s\-－()（）]+")
_MOBILE = re.compile(r"(?:\+?86)?(1[3-9][0-9]{9})")
_LANDLINE = re.compile(r"(0[1-9][0-9]{1,2}[0-9]{7,8})")
# C0 controls other than tab and newline (PostgreSQL refuses NUL in text; none is meant).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CONTACT_MAX = 100
FIELD_LABELS = {"content": "留言内容", "contact": "联系方式", "item": "所涉信息"}


def _html(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    html = request.app[RENDERER].page(template, **context)
    # Form pages carry a token or a 查询码: never cached by anyone.
    return web.Response(
        text=html,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _refusal(request: web.Request, status: int, message: str, **headers: str) -> web.Response:
    response = _html(request, "public/feedback_message.html", status=status, message=message)
    response.headers.update(headers)
    return response


def _too_many(request: web.Request, wait: float, what: str) -> web.Response:
    """The site's 429 page, saying how long to wait (and Retry-After in seconds)."""
    minutes = max(1, math.ceil(wait / 60))
    message = f"{what}过于频繁，请 {minutes} 分钟后再试。"
    back = (("/feedback", "返回留言页面"), ("/feedback/status", "留言查询"))
    context = error_context(429, message, back)
    response = _html(request, "public/error.html", status=429, **context)
    response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


async def published_title(item_id: int) -> str | None:
    """The title of an item as the website shows it, or None when it is not public."""
    item = await Item.get_or_none(id=item_id)
    if item is None or item.status == ItemStatus.RETRACTED.value:
        return None
    pub = await publication(item_id)
    if pub is None:
        return None
    version = await ItemVersion.get_or_none(item_id=item_id, version=pub.version)
    return str(version.snapshot.get("title", "")) if version else None


async def _about(raw: str) -> tuple[int | None, str | None]:
    """(item id, title) of the ?item= a form is about; (None, None) when it is not public."""
    if not ITEM_ID.fullmatch(raw):
        return None, None
    title = await published_title(int(raw))
    return (int(raw), title) if title is not None else (None, None)


# -- the form ------------------------------------------------------------------------------
def _form(
    request: web.Request,
    guard: FormGuard,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    about: dict[str, Any] | None = None,
) -> web.Response:
    assert guard.signer is not None
    token = guard.signer.current(request.cookies.get(form_guard.CSRF_COOKIE))
    response = _html(
        request,
        "public/feedback_form.html",
        status=status,
        form=request.app[CONFIG].inbox.form,
        csrf_field=form_guard.CSRF_FIELD,
        csrf_token=token,
        honeypot=HONEYPOT,
        errors=errors or {},
        values=values or {},
        about=about,
    )
    guard.signer.set_cookie(response, token, guard.secure_cookie)
    return response


async def form_page(request: web.Request) -> web.StreamResponse:
    guard = request.app[FEEDBACK_GUARD]
    if guard.signer is None:
        return _refusal(request, 503, "网上留言功能暂未开放，请通过其他方式联系我们。")
    about = None
    raw = request.query.get("item", "")
    if raw:
        item_id, title = await _about(raw)
        if item_id is None:
            return _html(request, "public/not_found.html", status=404)
        about = {"id": item_id, "title": title}
    return _form(request, guard, about=about, values=_prefill(request))


def _prefill(request: web.Request) -> dict[str, str]:
    """The 留言内容 a link opens the form with (?content=, the search's 没有解决？去留言): cut to
    the form's limit, and nothing when it is not text (the writer types their own)."""
    content = request.query.get("content", "")[: request.app[CONFIG].inbox.form.max_chars]
    if not content.strip() or text_problem(content) or "\ufffd" in content:
        return {}
    return {"content": content}


def _contact(raw: str) -> str | None:
    """The contact as stored (digits of a phone, or an e-mail address), None if invalid."""
    value = raw.strip()
    if "@" in value:
        return value if _EMAIL.fullmatch(value) else None
    digits = _PHONE_JUNK.sub("", value)
    for pattern in (_MOBILE, _LANDLINE):
        match = pattern.fullmatch(digits)
        if match:
            return match.group(1)
    return None


def _validate(data: dict[str, str], config: Config) -> tuple[dict[str, str], str, str]:
    """(errors by field, content, contact); each error names its field in Chinese."""
    form = config.inbox.form
    errors: dict[str, str] = {}
    content = _CONTROL.sub("", data.get("content", "")).strip()
    label = FIELD_LABELS["content"]
    if not content:
        errors["content"] = f"请填写「{label}」。"
    elif len(content) < form.min_chars:
        errors["content"] = (
            f"「{label}」至少需要 {form.min_chars} 个字（现有 {len(content)} 个字）。"
        )
    elif len(content) > form.max_chars:
        errors["content"] = (
            f"「{label}」不能超过 {form.max_chars} 个字（现有 {len(content)} 个字）。"
        )
    raw_contact = data.get("contact", "").strip()
    contact = ""
    if raw_contact:
        label = FIELD_LABELS["contact"]
        checked = _contact(raw_contact) if len(raw_contact) <= CONTACT_MAX else None
        if checked is None:
            errors["contact"] = (
                f"「{label}」请填写手机号码、带区号的固定电话或电子邮箱，也可以不填。"
            )
        else:
            contact = checked
    return errors, content, contact


async def submit(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    guard = request.app[FEEDBACK_GUARD]
    if guard.signer is None:
        return _refusal(request, 503, "网上留言功能暂未开放，请通过其他方式联系我们。")
    ip = client_address(request, config.web.trusted_proxies)
    wait = guard.submits.hit(ip)
    if wait is not None:
        log.warning("feedback: submission rate limit hit")
        return _too_many(request, wait, "留言提交")
    try:
        post = await read_form(request)
    except web.HTTPRequestEntityTooLarge:
        limit = size_text(config.web.max_body_bytes)
        message = (
            f"提交的内容超过了允许的大小（最多 {limit}），留言未能提交。"
            "如浏览器启用了脚本，您填写的留言内容已暂存，返回留言页面即可找回。"
        )
        context = error_context(413, message, (("/feedback", "返回留言页面"),))
        return _html(request, "public/error.html", status=413, **context)
    data = {k: v for k, v in post.items() if isinstance(v, str)}
    try:
        guard.signer.verify(
            request.cookies.get(form_guard.CSRF_COOKIE), data.get(form_guard.CSRF_FIELD)
        )
    except CsrfError as exc:
        return _refusal(request, 403, str(exc))
    author = opaque_author(config.author_key(), CHANNEL, ip)
    if data.get(HONEYPOT, "").strip():
        # A robot: answer like a success so it learns nothing, store nothing.
        log.info("feedback: honeypot filled by %s; nothing stored", author)
        return _done(request, new_query_code())
    errors, content, contact = _validate(data, config)
    item_id: int | None = None
    about = None
    raw_item = data.get("item", "").strip()
    if raw_item:
        item_id, title = await _about(raw_item)
        if item_id is None:
            errors["item"] = f"「{FIELD_LABELS['item']}」不存在或未公开，请从信息页面重新进入留言。"
        else:
            about = {"id": item_id, "title": title}
    if errors:
        values = {"content": data.get("content", ""), "contact": data.get("contact", "")}
        return _form(request, guard, 400, errors, values, about)
    reply_ref: dict[str, Any] = {"type": REPLY_TYPE}
    if contact:
        reply_ref["contact"] = contact  # only here: never shown on any page
    # The same form (its CSRF token) sent twice with the same text — a double click, a resend
    # after a slow answer — is one message: the inbox keeps one and both get its 查询码.
    token = data.get(form_guard.CSRF_FIELD, "")
    key = hashlib.sha256(f"{token}\n{author}\n{content}".encode()).hexdigest()[:32]
    incoming = IncomingComment(
        channel=CHANNEL,
        remote_id=key,
        text=content,
        received_at=datetime.now(UTC),
        kind="form",
        author_ref=author,
        item_id=item_id,
        reply_ref=reply_ref,
    )
    ingested = await request.app[INBOX].ingest(incoming)
    code = ingested.comment.query_code
    if not code:  # the inbox gives every form message a code; without one it is unreachable
        log.error("feedback: comment %s stored without a query code", ingested.comment.id)
        raise web.HTTPInternalServerError(
            text="留言已收到，但未能生成查询码，请稍后通过其他方式查询。"
        )
    return _done(request, code)


def _done(request: web.Request, code: str) -> web.Response:
    return _html(request, "public/feedback_done.html", code=display_code(code))


# -- the status page ------------------------------------------------------------------------
def display_code(code: str) -> str:
    """ABCD-EFGH-JKMN: groups of four are easier to copy and read out."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalize_code(raw: str) -> str | None:
    code = _CODE_JUNK.sub("", raw).upper()
    return code if _CODE.fullmatch(code) else None


STATUS_NOTES = {
    CommentStatus.OPEN.value: "您的留言正在办理中，我们将在答复期限内答复。",
    CommentStatus.REPLIED.value: "您的留言已答复，答复内容见下方。",
    CommentStatus.CLOSED.value: "您的留言已办结。",
    CommentStatus.PETITION.value: (
        "您反映的事项属于信访事项，已转信访渠道依法办理，不适用本栏目的答复期限。"
    ),
}


async def status_page(request: web.Request) -> web.StreamResponse:
    if request.method == "POST":
        post = await read_form(request)
        raw = post.get("code", "")
        raw = raw if isinstance(raw, str) else ""
    else:
        raw = request.query.get("code", "")
        if "code" not in request.query:
            return _html(request, "public/feedback_status.html", result=None, error="", code="")
    return await _lookup(request, raw)


async def _lookup(request: web.Request, raw: str) -> web.Response:
    config = request.app[CONFIG]
    wait = request.app[FEEDBACK_GUARD].lookups.hit(
        client_address(request, config.web.trusted_proxies)
    )
    if wait is not None:
        log.warning("feedback: look-up rate limit hit")
        return _too_many(request, wait, "查询")
    code = normalize_code(raw)
    comment = None
    if code is not None:
        comment = await Comment.get_or_none(query_code=code, channel=CHANNEL)
    if comment is None:
        error = "未找到与该查询码对应的留言，请核对查询码（不区分大小写）后重试。"
        return _html(
            request, "public/feedback_status.html", 404, result=None, error=error, code=raw[:40]
        )
    replies = (
        await CommentReply.filter(comment_id=comment.id, status=ReplyStatus.SENT.value)
        .order_by("sent_at", "id")
        .values("text", "sent_at")
    )
    status = comment.status
    if status == CommentStatus.SPAM.value:
        status = CommentStatus.CLOSED.value  # not told it was judged spam; it is not pending
    result = {
        "code": display_code(code or ""),
        "status": COMMENT_STATUS_LABELS[CommentStatus(status)],
        "note": STATUS_NOTES.get(status, ""),
        "received_at": comment.received_at,
        "due_at": comment.due_at if status == CommentStatus.OPEN.value else None,
        "calendar_known": comment.calendar_known,
        "text": comment.masked_text or comment.original_text,
        "about": await published_title(comment.item_id) if comment.item_id else None,
        "about_id": comment.item_id,
        "replies": replies,
    }
    return _html(request, "public/feedback_status.html", result=result, error="", code="")


# -- wiring ---------------------------------------------------------------------------------
def setup(app: web.Application) -> None:
    config = app[CONFIG]
    app[FEEDBACK_GUARD] = FormGuard.from_config(config)
    app.router.add_get("/feedback", guard(form_page), name="feedback.form")
    app.router.add_post("/feedback", guard(submit), name="feedback.submit")
    app.router.add_get("/feedback/status", guard(status_page), name="feedback.status")
    app.router.add_post("/feedback/status", guard(status_page), name="feedback.lookup")
