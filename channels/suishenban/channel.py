"""The 随申办 app channel: message cards pushed over the open platform's signed JSON API,
looked up by idempotency key when an answer is lost, withdrawn on retraction; feedback
(留言/评价) polled into the inbox and answered.

Every name and the signing recipe come from the Contract (channels/suishenban/contract.py,
overridable in config), so the real platform contract is config, not code. An access token
from POST auth/token is cached per process, refreshed ahead of expiry one refresh at a time,
and on a token-expired answer refreshed once and the call retried once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import aiohttp
from yarl import URL

from channels.base import (
    AuthError,
    Channel,
    ChannelLimits,
    CommentPage,
    Content,
    IncomingComment,
    Job,
    NeedsOtherRoute,
    OutcomeUnknown,
    PermanentError,
    Published,
    RateLimited,
    TransientError,
    opaque_author,
)
from channels.http_session import SessionOwner
from channels.pacing import TokenBucket
from channels.suishenban.contract import Contract, error_text

log = logging.getLogger(__name__)
NAME = "suishenban"
LABEL = "随申办"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class SuishenbanSettings:
    base_url: str
    app_id: str
    app_secret: str
    timeout: float = 10
    concurrency: int = 4
    rate_per_second: float = 10
    token_margin_seconds: float = 300
    audience: tuple[str, ...] = ("all",)
    default_cover_url: str = ""
    title_max: int = 64
    summary_max: int = 120
    reply_max_chars: int = 1000
    page_size: int = 50
    lookup: bool = True


class FeedbackInvalid(ValueError):
    """A feedback record the platform sent that cannot be read; the message names the field."""


class _NotFound(PermanentError):
    """The platform says the object (card, feedback) does not exist."""


class _TokenExpired(AuthError):
    """The access token was refused: refresh it once and retry once."""


def _received_at(value: Any, field: str) -> datetime:
    """A feedback time: Unix seconds or milliseconds, or ISO 8601 (no zone: Shanghai time)."""
    if value is None or value == "":
        return datetime.now(UTC)
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
            number = float(value)
            return datetime.fromtimestamp(number / 1000 if number > 1e12 else number, UTC)
        if isinstance(value, str):
            moment = datetime.fromisoformat(value)
            return moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)
    except (ValueError, OverflowError, OSError) as exc:
        raise FeedbackInvalid(f"留言时间字段「{field}」无法识别：{value!r}") from exc
    raise FeedbackInvalid(f"留言时间字段「{field}」无法识别：{value!r}")


def feedback_comment(contract: Contract, author_key: bytes, obj: Any) -> IncomingComment:
    """One platform feedback record (polled or pushed) as the inbox takes it."""
    f = contract.f
    if not isinstance(obj, dict):
        raise FeedbackInvalid("留言数据应为 JSON 对象")
    feedback_id = obj.get(f("feedback_id"))
    if not isinstance(feedback_id, str | int) or isinstance(feedback_id, bool) or feedback_id == "":
        raise FeedbackInvalid(f"留言缺少字段「{f('feedback_id')}」")
    user_id = obj.get(f("user_id"))
    if not isinstance(user_id, str | int) or isinstance(user_id, bool) or user_id == "":
        raise FeedbackInvalid(f"留言 {feedback_id} 缺少字段「{f('user_id')}」")
    content = obj.get(f("content")) or ""
    if not isinstance(content, str):
        raise FeedbackInvalid(f"留言 {feedback_id} 的字段「{f('content')}」应为文本")
    text = content.strip()
    rating = obj.get(f("rating"))
    if rating is not None:
        if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
            raise FeedbackInvalid(f"留言 {feedback_id} 的字段「{f('rating')}」应为 1 至 5 的整数")
        text = f"【评价：{rating} 星】{text}"
    if not text:
        raise FeedbackInvalid(f"留言 {feedback_id} 没有内容（字段「{f('content')}」）")
    card = obj.get(f("feedback_card_id"))
    return IncomingComment(
        channel=NAME,
        remote_id=str(feedback_id),
        text=text,
        received_at=_received_at(obj.get(f("created_at")), f("created_at")),
        kind="feedback",
        author_ref=opaque_author(author_key, NAME, str(user_id)),
        remote_item_ref=str(card) if card not in (None, "") else "",
        reply_ref={"type": "feedback", "feedback_id": str(feedback_id)},
    )


def _retry_after(headers: Any, hinted: Any) -> float | None:
    for value in (headers.get("Retry-After"), hinted):
        try:
            if value is not None:
                return max(0.0, float(value))
        except (TypeError, ValueError):
            continue
    return None


class SuishenbanChannel(SessionOwner, Channel):
    name = NAME
    label = LABEL
    can_poll_comments = True
    can_reply = True

    def __init__(self, settings: SuishenbanSettings, contract: Contract, author_key: bytes) -> None:
        self.settings = settings
        self.contract = contract
        self.author_key = author_key
        self.limits = ChannelLimits(
            concurrency=settings.concurrency,
            rate_per_second=settings.rate_per_second,
            title_max=settings.title_max,
            summary_max=settings.summary_max,
            can_retract=True,
            can_lookup=settings.lookup,
        )
        # The path prefix of the base URL is part of the signed path (the request line's path).
        parts = urlsplit(settings.base_url)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._prefix = parts.path.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=settings.timeout)
        self._token = ""
        self._token_expires = 0.0  # time.monotonic() at which the token is refreshed
        self._token_lock = asyncio.Lock()
        # Polls and replies are not paced by the dispatcher: keep them to the channel's rate.
        self._pace = TokenBucket(settings.rate_per_second)

    # -- access token --------------------------------------------------------------------
    async def access_token(self) -> str:
        """The cached token, fetched (by one caller at a time) when missing or near expiry."""
        if self._token and time.monotonic() < self._token_expires:
            return self._token
        async with self._token_lock:
            if self._token and time.monotonic() < self._token_expires:
                return self._token  # another caller refreshed it while we waited
            f = self.contract.f
            data = await self._send(
                "token",
                payload={f("app_id"): self.settings.app_id, f("grant_type"): "client_credential"},
            )
            token = data.get(f("access_token"))
            try:
                lifetime = float(data.get(f("expires_in"), 0))
            except (TypeError, ValueError):
                lifetime = 0
            if not isinstance(token, str) or not token or lifetime <= 0:
                raise AuthError(
                    f"随申办令牌接口答复缺少「{f('access_token')}」或「{f('expires_in')}」"
                )
            margin = min(self.settings.token_margin_seconds, lifetime / 2)
            self._token, self._token_expires = token, time.monotonic() + lifetime - margin
            return token

    def _drop_token(self, token: str) -> None:
        if self._token == token:  # a newer token from another caller stays
            self._token, self._token_expires = "", 0.0

    # -- HTTP ----------------------------------------------------------------------------
    async def _request(
        self,
        endpoint: str,
        *,
        args: dict[str, str] | None = None,
        query: dict[str, Any] | None = None,
        payload: dict[str, Any] | None = None,
        key: str = "",
        irreversible: bool = False,
    ) -> dict[str, Any]:
        """An authenticated call; a refused token is refreshed once and the call retried once."""
        for attempt in (1, 2):
            token = await self.access_token()
            try:
                return await self._send(endpoint, args, query, payload, key, token, irreversible)
            except _TokenExpired as exc:
                self._drop_token(token)
                if attempt == 2:
                    raise AuthError(f"{exc}（已刷新令牌重试仍失败）") from exc
        raise AssertionError("unreachable")

    async def _send(
        self,
        endpoint: str,
        args: dict[str, str] | None = None,
        query: dict[str, Any] | None = None,
        payload: dict[str, Any] | None = None,
        key: str = "",
        token: str = "",
        irreversible: bool = False,
    ) -> dict[str, Any]:
        c = self.contract
        method = c.method(endpoint)
        path = self._prefix + c.path(endpoint, **(args or {}))
        if query:
            path += "?" + "&".join(
                f"{quote(c.f(k), safe='')}={quote(str(v), safe='')}" for k, v in query.items()
            )
        body = b""
        if payload is not None:
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = c.signed_headers(
            self.settings.app_secret, self.settings.app_id, method, path, body
        )
        if body:
            headers["Content-Type"] = "application/json; charset=utf-8"
        if token:
            headers[c.h("authorization")] = c.token_prefix + token
        if key:
            headers[c.h("idempotency_key")] = key
        url = URL(self._origin + path, encoded=True)  # sent exactly as signed
        try:
            async with self.session.request(method, url, data=body or None, headers=headers) as r:
                raw = await r.read()
                return self._answer(endpoint, r.status, r.headers, raw)
        except aiohttp.ClientConnectorError as exc:  # never reached the platform
            raise TransientError(f"无法连接随申办开放平台：{exc}") from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            if irreversible:
                raise OutcomeUnknown(
                    f"随申办请求（{endpoint}）已发出但未收到答复，结果未知。"
                ) from exc
            raise TransientError(f"随申办请求（{endpoint}）失败：{type(exc).__name__}") from exc

    def _answer(self, endpoint: str, status: int, headers: Any, raw: bytes) -> dict[str, Any]:
        f = self.contract.f
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        code = doc.get(f("code")) if isinstance(doc, dict) else None
        if not isinstance(code, int) or isinstance(code, bool):
            # No platform envelope: judge by the HTTP status alone.
            if status == 429:
                raise RateLimited("随申办限流，稍后重试。", _retry_after(headers, None))
            if status in (401, 403):
                raise AuthError(f"随申办拒绝了签名或凭据（HTTP {status}）")
            if status >= 500 or status < 300:
                raise TransientError(f"随申办返回了无法解析的答复（HTTP {status}）")
            raise PermanentError(
                f"随申办拒绝了请求（HTTP {status}），请核对 channels.suishenban.paths.{endpoint}"
            )
        assert isinstance(doc, dict)
        if code == 0:
            data = doc.get(f("data"))
            return data if isinstance(data, dict) else {}
        message = str(doc.get(f("message")) or error_text(code))
        where = doc.get(f("error_field"))
        detail = f"（错误码 {code}）：{message}" + (f"，字段「{where}」" if where else "")
        kind = self.contract.error_kind(code)
        if kind == "token_expired":
            raise _TokenExpired(f"随申办访问令牌失效{detail}")
        if kind == "rate_limited":
            hint = _retry_after(headers, doc.get(f("retry_after")))
            raise RateLimited(f"随申办限流{detail}", hint)
        if kind == "auth":
            raise AuthError(f"随申办拒绝了签名或凭据{detail}")
        if kind == "transient" or (kind is None and status >= 500):
            raise TransientError(f"随申办暂时无法处理{detail}")
        if kind == "not_found":
            raise _NotFound(f"随申办找不到对象{detail}")
        if kind is None:
            raise PermanentError(
                f"随申办返回了未登记的错误码{detail}（可在 channels.suishenban.error_codes 登记）"
            )
        raise PermanentError(f"随申办拒绝了请求{detail}")

    # -- cards ---------------------------------------------------------------------------
    def _card(self, content: Content, key: str) -> dict[str, Any]:
        f, s = self.contract.f, self.settings
        title = content.title.strip()
        if not title:
            raise PermanentError(f"随申办卡片标题为空（字段「{f('title')}」）")
        if len(title) > s.title_max:
            raise PermanentError(
                f"随申办卡片标题过长：{len(title)} 字，"
                f"上限 {s.title_max} 字（字段「{f('title')}」）"
            )
        summary = " ".join((content.summary or content.text).split())
        if len(summary) > s.summary_max:
            summary = summary[: s.summary_max - 1] + "…"
        if s.audience == ("all",):
            audience: dict[str, Any] = {f("audience_type"): "all"}
        else:
            audience = {f("audience_type"): "tags", f("audience_tags"): list(s.audience)}
        return {
            f("title"): title,
            f("summary"): summary,
            f("cover_url"): str(content.extra.get("cover_url") or s.default_cover_url),
            f("link_url"): content.url,
            f("tag"): content.kind_label,
            f("kind"): content.kind,
            f("out_id"): key,
            f("audience"): audience,
        }

    def _published(self, data: dict[str, Any]) -> Published:
        f = self.contract.f
        card_id = data.get(f("card_id"))
        if card_id in (None, ""):
            raise PermanentError(f"随申办答复缺少卡片编号（字段「{f('card_id')}」）")
        return Published(remote_id=str(card_id), remote_url=str(data.get(f("card_url")) or ""))

    async def publish(self, content: Content, job: Job) -> Published:
        card = self._card(content, job.idempotency_key)
        if job.attempt > 1 and self.limits.can_lookup:
            # An earlier attempt may have sent the card and never recorded the answer.
            found = await self.lookup(job)
            if found is not None:
                return found
        try:
            data = await self._request(
                "push", payload=card, key=job.idempotency_key, irreversible=True
            )
        except OutcomeUnknown:
            found = await self._lookup_after_loss(job)
            if found is None:
                raise
            return found
        return self._published(data)

    async def _lookup_after_loss(self, job: Job) -> Published | None:
        if not self.limits.can_lookup:
            return None
        try:
            return await self.lookup(job)
        except (TransientError, RateLimited, AuthError, OutcomeUnknown):
            return None

    async def lookup(self, job: Job) -> Published | None:
        if not self.limits.can_lookup:
            return await super().lookup(job)
        try:
            data = await self._request("lookup", args={"key": job.idempotency_key})
        except _NotFound:
            return None
        return self._published(data)

    async def retract(self, published: Published, job: Job) -> None:
        f = self.contract.f
        try:
            await self._request(
                "withdraw", args={"card_id": published.remote_id}, payload={f("reason"): "撤稿"}
            )
        except _NotFound:
            log.info("suishenban: card %s is already gone", published.remote_id)

    # -- feedback ------------------------------------------------------------------------
    async def poll_comments(self, cursor: dict[str, Any]) -> CommentPage:
        f = self.contract.f
        query: dict[str, Any] = {"limit": self.settings.page_size}
        if cursor.get("cursor"):
            query["cursor"] = cursor["cursor"]
        await self._pace.acquire()
        data = await self._request("feedback", query=query)
        items = data.get(f("items")) or []
        comments = []
        for obj in items if isinstance(items, list) else []:
            try:
                comments.append(feedback_comment(self.contract, self.author_key, obj))
            except FeedbackInvalid as exc:  # one bad record must not stop the others
                log.error("suishenban: feedback record skipped: %s", exc)
        following = data.get(f("next_cursor"))
        new = {"cursor": str(following)} if following not in (None, "") else dict(cursor)
        return CommentPage(comments, new)

    async def send_reply(self, reply_ref: dict[str, Any], text: str, key: str) -> str:
        f, limit = self.contract.f, self.settings.reply_max_chars
        feedback_id = reply_ref.get("feedback_id")
        if reply_ref.get("type") != "feedback" or not feedback_id:
            raise PermanentError("答复对象不是随申办留言（reply_ref.type 应为 feedback）")
        text = text.strip()
        if not text:
            raise PermanentError(f"答复内容为空（字段「{f('reply_content')}」）")
        if len(text) > limit:
            raise PermanentError(
                f"答复内容过长：{len(text)} 字，"
                f"随申办上限 {limit} 字（字段「{f('reply_content')}」）"
            )
        await self._pace.acquire()
        try:
            data = await self._request(
                "reply",
                args={"feedback_id": str(feedback_id)},
                payload={f("reply_content"): text},
                key=key,
                irreversible=True,
            )
        except _NotFound as exc:
            raise NeedsOtherRoute(
                "该留言在随申办平台已删除或已关闭，无法在线答复，请通过其他方式答复。"
            ) from exc
        return str(data.get(f("reply_id")) or "")
