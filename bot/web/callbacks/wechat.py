"""/wechat/callback: what WeChat pushes to the Official Account (followers' messages, subscribe
events, publish and mass-send results), in plain, compatible and safe (AES) mode.

A request only verifies, stores and answers, well within WeChat's 5 seconds: the timestamp and
nonce are checked for shape, the signature and the timestamp's freshness (403), the body is read
up to a small limit (413 beyond it), in plain and compatible mode a signed query already seen
with another body is refused as a replay (403), the XML is parsed with no DTD or entity ever
processed (400), one ChannelEvent row is inserted (WeChat's retries hit its unique key and are
stored once), and the answer is "success" — or, for a text message the knowledge base answers
confidently, the passive auto-reply (encrypted in safe mode). The inbox and triage run
afterwards (bot/wechat/relay.py): in this process, or in the worker processes when
`relay_in_workers` is set.

Nothing is lost: the row is committed before WeChat gets its answer, and stays unhandled until
the inbox has its comment, whatever happens to a process after the answer.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import struct
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from aiohttp import web
from wechatpy.exceptions import InvalidAppIdException
from wechatpy.replies import TextReply

from bot.web.keys import CONFIG, INBOX, METRICS, WECHAT_CALLBACK, WECHAT_CLOCK
from bot.wechat.callback import CallbackState
from channels.wechat import messages
from channels.wechat.messages import Received, XmlRejected

log = logging.getLogger(__name__)

PATH = "/wechat/callback"
SUCCESS = "success"
TEXT = "text/plain"
CHUNK = 16 * 1024
# WeChat's timestamp is Unix seconds (10 digits until 2286) and its nonce a short random string
# (digits in every sample). Both are checked for shape before anything uses them: int() takes a
# signed 400-digit timestamp, whose difference from the clock then overflows a float (a 500),
# and the nonce goes into the encrypted answer's XML as it is.
TIMESTAMP = re.compile(r"[0-9]{1,12}")
NONCE = re.compile(r"[0-9A-Za-z._-]{1,64}")


async def _background(app: web.Application) -> AsyncIterator[None]:
    state = app[WECHAT_CALLBACK]
    if not state.enabled or state.problem:
        if state.enabled:
            log.error("wechat callback cannot work (answers 503): %s", state.problem)
        yield
        return
    await state.start()
    try:
        yield
    finally:
        await state.stop()


def setup(app: web.Application) -> None:
    state = CallbackState.from_config(app[CONFIG])
    state.inbox = app[INBOX]  # the app's one inbox (its knowledge base is refreshed there)
    app[WECHAT_CALLBACK] = state
    app[WECHAT_CLOCK] = time.time  # a test may pin it before the app starts, never production
    app.router.add_get(PATH, verify_url, name="wechat_verify")
    app.router.add_post(PATH, receive, name="wechat_callback")
    app.cleanup_ctx.append(_background)


# -- request checks ------------------------------------------------------------------------
def _sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def _live_state(request: web.Request) -> CallbackState:
    state = request.app[WECHAT_CALLBACK]
    if not state.enabled:
        raise web.HTTPNotFound(text="微信公众号渠道未启用", content_type=TEXT)
    if state.problem:
        raise web.HTTPServiceUnavailable(text="微信回调未配置完整", content_type=TEXT)
    return state


def _check_signed(state: CallbackState, query: Mapping[str, str], now: Callable[[], float]) -> None:
    """The timestamp's and nonce's shape (before any arithmetic), the plain signature over
    (token, timestamp, nonce) and the timestamp's freshness against `now` (the app's
    WECHAT_CLOCK)."""
    timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
    if not TIMESTAMP.fullmatch(timestamp):
        raise web.HTTPForbidden(text="时间戳无效", content_type=TEXT)
    if not NONCE.fullmatch(nonce):
        raise web.HTTPForbidden(text="随机数 nonce 无效", content_type=TEXT)
    if not _same(_sign(state.token, timestamp, nonce), query.get("signature", "")):
        raise web.HTTPForbidden(text="签名无效", content_type=TEXT)
    if abs(now() - int(timestamp)) > state.settings.max_skew_seconds:
        raise web.HTTPForbidden(text="时间戳已过期", content_type=TEXT)


def _check_not_replayed(
    state: CallbackState, query: Mapping[str, str], body: bytes, now: Callable[[], float]
) -> None:
    """In plain and compatible mode, a signed query seen before with another body is a replay
    (CallbackState.replays says how WeChat's own retries are told apart). Compatible mode
    remembers its encrypted requests too: their query, stripped of encrypt_type, would
    otherwise carry a plaintext body of anyone's choosing."""
    if state.replays is None:
        return  # safe mode: the body is signed with msg_signature and cannot be swapped
    if not state.replays.check_and_remember(query["signature"], body, now()):
        log.warning(
            "wechat callback refused: replay of a signed query with a different body "
            "(timestamp %s, nonce %s, signature %s)",
            query["timestamp"],
            query["nonce"],
            query["signature"],
        )
        raise web.HTTPForbidden(text="请求重放：该签名已用于另一请求", content_type=TEXT)


async def _read_body(request: web.Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to be over the limit."""
    if request.content_length is not None:
        if request.content_length > limit:
            raise web.HTTPRequestEntityTooLarge(limit, request.content_length, content_type=TEXT)
        return await request.read()  # exactly Content-Length bytes, known to be small
    body = bytearray()  # chunked: counted as it comes
    async for chunk in request.content.iter_chunked(CHUNK):
        body += chunk
        if len(body) > limit:
            raise web.HTTPRequestEntityTooLarge(limit, len(body), content_type=TEXT)
    return bytes(body)


def _open(state: CallbackState, query: Mapping[str, str], body: bytes) -> tuple[dict, bool]:
    """The message fields, and whether the request was encrypted (answered encrypted)."""
    mode = state.config.channels.wechat.message_mode
    encrypted = query.get("encrypt_type", "raw") == "aes"
    if not encrypted and mode == "safe":
        raise web.HTTPForbidden(text="安全模式只接受加密消息", content_type=TEXT)
    try:
        outer = messages.parse_xml(body)
    except XmlRejected as exc:
        raise web.HTTPBadRequest(text=str(exc), content_type=TEXT) from exc
    if not encrypted:
        return outer, False
    if state.crypto is None or state.cipher is None:
        raise web.HTTPForbidden(text="未配置 EncodingAESKey，无法解密", content_type=TEXT)
    encrypt = outer.get("Encrypt")
    if not isinstance(encrypt, str) or not encrypt:
        raise web.HTTPBadRequest(text="加密消息缺少 Encrypt 字段", content_type=TEXT)
    signed = (state.token, query.get("timestamp", ""), query.get("nonce", ""), encrypt)
    if not _same(_sign(*signed), query.get("msg_signature", "")):
        raise web.HTTPForbidden(text="消息签名无效", content_type=TEXT)
    try:
        # wechatpy's PrpCrypto: base64, AES-CBC, the length prefix and the AppID at the end
        inner = state.cipher.decrypt(encrypt, state.crypto.app_id)
        return messages.parse_xml(inner.encode()), True
    except InvalidAppIdException as exc:
        raise web.HTTPForbidden(
            text="消息不是发给本公众号的（AppID 不符）", content_type=TEXT
        ) from exc
    except XmlRejected as exc:
        raise web.HTTPBadRequest(text=str(exc), content_type=TEXT) from exc
    # Bad base64, padding or length; struct.error: a plaintext too short for its length field
    except (ValueError, IndexError, UnicodeDecodeError, struct.error) as exc:
        raise web.HTTPBadRequest(text="加密消息无法解密", content_type=TEXT) from exc


# -- answers -------------------------------------------------------------------------------
def auto_reply_text(state: CallbackState, received: Received) -> str:
    """The passive answer to a follower's text message, or "" when the knowledge base has no
    answer confident enough. In memory and fast: it runs inside the request."""
    cfg = state.settings
    text = str(received.payload.get("text", "")).strip()
    if not (cfg.auto_reply and received.payload.get("msg_type") == "text" and text):
        return ""
    assert state.inbox is not None
    hit = state.inbox.suggest(text)
    if hit is None or hit.confidence < cfg.auto_reply_min_confidence:
        return ""
    answer = hit.doc.answer.strip()
    if not answer:
        return ""
    more = f"\n详情：{hit.doc.url}" if hit.doc.url else ""
    room = cfg.auto_reply_max_chars - len(more)
    if len(answer) > room:
        answer = answer[: max(room - 1, 0)] + "…"
    return (answer + more)[: cfg.auto_reply_max_chars]


def _reply(
    state: CallbackState, fields: Mapping[str, Any], text: str, nonce: str, encrypted: bool
) -> web.Response:
    # wechatpy writes Content into CDATA as is: a "]]>" in the text would end it early.
    safe = text.replace("]]>", "]]]]><![CDATA[>")
    xml = TextReply(
        source=str(fields.get("ToUserName", "")),
        target=str(fields.get("FromUserName", "")),
        content=safe,
        time=int(time.time()),
    ).render()
    if encrypted:
        assert state.crypto is not None
        xml = state.crypto.encrypt_message(xml, nonce or "gongkai")
    return web.Response(text=xml, content_type="application/xml")


# -- handlers ------------------------------------------------------------------------------
async def verify_url(request: web.Request) -> web.Response:
    """WeChat's server check when the URL is configured: echo echostr if the signature holds
    (a plain signature in every mode)."""
    state = _live_state(request)
    _check_signed(state, request.query, request.app[WECHAT_CLOCK])
    return web.Response(text=request.query.get("echostr", "")[:256], content_type=TEXT)


async def receive(request: web.Request) -> web.Response:
    """POST /wechat/callback, timed into the app's callback latency histogram."""
    metrics = request.app.get(METRICS)
    if metrics is None:
        return await _counted_in_flight(request)
    with metrics.time_callback("wechat"):
        return await _counted_in_flight(request)


async def _counted_in_flight(request: web.Request) -> web.Response:
    state = _live_state(request)
    state.request_started()
    try:
        return await _receive(state, request)
    finally:
        state.request_done()


async def _receive(state: CallbackState, request: web.Request) -> web.Response:
    # before reading anything an outsider sent
    clock = request.app[WECHAT_CLOCK]
    _check_signed(state, request.query, clock)
    body = await _read_body(request, state.settings.max_body_bytes)
    _check_not_replayed(state, request.query, body, clock)
    fields, encrypted = _open(state, request.query, body)
    try:
        received = messages.classify(fields)
    except XmlRejected as exc:
        raise web.HTTPBadRequest(text=str(exc), content_type=TEXT) from exc
    answer = auto_reply_text(state, received) if received.is_message else ""
    stored = await state.writer.store(received, answer)
    if stored.created:
        if received.needs_background and state.relay is not None:
            state.relay.enqueue(stored.id)
        if received.kind not in messages.KNOWN_KINDS:
            log.info("wechat callback: stored unknown event %s (%s)", received.kind, received.key)
    else:
        # WeChat retries when our answer did not reach it: give the same answer again.
        answer = str(stored.payload.get("auto_reply") or "") if received.is_message else ""
    if answer:
        return _reply(state, fields, answer, request.query.get("nonce", ""), encrypted)
    return web.Response(text=SUCCESS, content_type=TEXT)
