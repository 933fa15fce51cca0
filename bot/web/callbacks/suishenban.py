"""POST {channels.suishenban.callback_path}: the 随申办 platform pushes users' feedback
(留言/评价) here, signed like its API (channels/suishenban/contract.py).

Checks in order, each refusal answered with the platform's JSON error and nothing stored: the
channel is enabled and configured (404/503), the body is within the size limit (413), the
signature is valid and the app id ours (401, code 40001), the timestamp within the skew window
(401, 40002), the nonce not seen within that window (401, 40003: nonces are remembered in this
app object, so a replay to another process passes this check but is stored once all the same,
the inbox deduplicating on the feedback id), the body JSON with a readable feedback record
(400, 40004). A valid feedback goes to the inbox (bot/inbox/ingest.py) before the answer
200 {"code": 0}; if storing fails the answer is 500 and the nonce is forgotten, so the
platform's retry is taken. Other events are acknowledged and ignored.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from bot.inbox.suishenban_callback import SuishenbanCallback
from bot.web.inputs import BadInput, check_texts, load_json
from bot.web.keys import CONFIG, INBOX, SUISHENBAN_CALLBACK
from channels.suishenban.channel import FeedbackInvalid, feedback_comment
from channels.suishenban.contract import SignatureRejected

log = logging.getLogger(__name__)
CHUNK = 16 * 1024


def _refuse(state: SuishenbanCallback, status: int, code: int, message: str) -> web.Response:
    f = state.contract.f
    return web.json_response({f("code"): code, f("message"): message}, status=status)


async def _read_body(request: web.Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is known to be over the limit."""
    if request.content_length is not None and request.content_length > limit:
        return None
    body = bytearray()
    async for chunk in request.content.iter_chunked(CHUNK):
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


async def receive(request: web.Request) -> web.Response:
    state = request.app[SUISHENBAN_CALLBACK]
    cfg = state.config.channels.suishenban
    if not state.enabled:
        return _refuse(state, 404, 40401, "随申办渠道未启用")
    if state.problem or state.inbox is None:
        return _refuse(state, 503, 50301, "随申办回调未配置完整")
    body = await _read_body(request, cfg.callback_max_body_bytes)
    if body is None:
        return _refuse(state, 413, 40004, "请求体过大")
    try:
        nonce = state.contract.verify(
            state.secret,
            state.app_id,
            request.headers,
            request.method,
            request.raw_path,
            body,
            max_skew=cfg.callback_max_skew_seconds,
            guard=state.guard,
        )
    except SignatureRejected as exc:
        log.warning("suishenban callback refused (%s): %s", exc.code, exc)
        return _refuse(state, 401, exc.code, str(exc))
    f = state.contract.f
    try:
        doc: Any = load_json(body.decode("utf-8") if isinstance(body, bytes) else body)
        check_texts(doc)
    except BadInput as exc:
        return _refuse(state, 400, 40004, f"请求体无法接受：{exc}")
    except ValueError:  # not JSON, or not UTF-8
        return _refuse(state, 400, 40004, "请求体不是有效的 JSON")
    if not isinstance(doc, dict):
        return _refuse(state, 400, 40004, "请求体应为 JSON 对象")
    if doc.get(f("event")) != f("feedback_event"):
        log.info("suishenban callback: event %r acknowledged, not handled", doc.get(f("event")))
        return web.json_response({f("code"): 0, f("message"): "ok"})
    try:
        incoming = feedback_comment(state.contract, state.author_key, doc.get(f("event_data")))
    except FeedbackInvalid as exc:
        return _refuse(state, 400, 40004, str(exc))
    try:
        await state.inbox.ingest(incoming)
    except Exception:
        state.guard.forget(nonce)  # not stored: the platform's retry must get through
        log.exception("suishenban callback: feedback %s not stored", incoming.remote_id)
        return _refuse(state, 500, 50001, "留言暂存失败，请稍后重试")
    return web.json_response({f("code"): 0, f("message"): "ok"})


async def _report(app: web.Application) -> AsyncIterator[None]:
    """Say once at start why the endpoint answers 503, when it does."""
    state = app[SUISHENBAN_CALLBACK]
    if state.enabled and state.problem:
        log.error("suishenban callback cannot work (answers 503): %s", state.problem)
    yield


def setup(app: web.Application) -> None:
    config = app[CONFIG]
    state = SuishenbanCallback.from_config(config)
    if state.enabled and not state.problem:
        state.inbox = app[INBOX]
    app[SUISHENBAN_CALLBACK] = state
    app.router.add_post(
        config.channels.suishenban.callback_path, receive, name="suishenban_callback"
    )
    app.cleanup_ctx.append(_report)
