"""Push to another system over signed HTTP (the agency's portal CMS or a data exchange).

POST {url} with the rendered item as JSON, an Idempotency-Key header and an HMAC-SHA256
signature of the body; GET {url}/{key} looks up an earlier push whose answer was lost;
DELETE {url}/{remote_id} retracts. The receiver answers 201 {"id", "url"}.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import aiohttp

from channels.base import (
    AuthError,
    Channel,
    ChannelLimits,
    Content,
    Job,
    OutcomeUnknown,
    PermanentError,
    Published,
    RateLimited,
    TransientError,
)
from channels.http_session import SessionOwner


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookChannel(SessionOwner, Channel):
    name = "webhook"
    label = "门户推送"

    def __init__(
        self,
        url: str,
        secret: str,
        timeout: float,
        concurrency: int,
        rate_per_second: float,
        lookup: bool = True,
    ) -> None:
        self.url = url
        self.secret = secret
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.limits = ChannelLimits(
            concurrency=concurrency,
            rate_per_second=rate_per_second,
            can_retract=True,
            can_lookup=lookup,
        )

    async def publish(self, content: Content, job: Job) -> Published:
        if job.attempt > 1:
            # An earlier attempt may have sent the request and died before recording the
            # answer. (Counting attempts instead of saving a "sent" mark first spares a write
            # on every push; the receiver also deduplicates by the Idempotency-Key.)
            found = await self.lookup(job)
            if found is not None:
                return found
        body = json.dumps(
            {
                "key": job.idempotency_key,
                "item_id": content.item_id,
                "version": content.version,
                "kind": content.kind,
                "title": content.title,
                "summary": content.summary,
                "html": content.html,
                "url": content.url,
            },
            ensure_ascii=False,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": job.idempotency_key,
            "X-Gongkai-Signature": sign(self.secret, body),
        }
        try:
            async with self.session.post(self.url, data=body, headers=headers) as resp:
                data = await self._answer(resp)
        except (TimeoutError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            found = await self._lookup_after_loss(job)
            if found is None:
                raise OutcomeUnknown("推送请求已发出但未收到答复，结果未知。") from exc
            return found
        return Published(remote_id=str(data["id"]), remote_url=str(data.get("url", "")))

    async def _lookup_after_loss(self, job: Job) -> Published | None:
        if not self.limits.can_lookup:
            return None
        try:
            return await self.lookup(job)
        except (TransientError, aiohttp.ClientError, TimeoutError):
            return None

    async def lookup(self, job: Job) -> Published | None:
        if not self.limits.can_lookup:
            return await super().lookup(job)
        try:
            async with self.session.get(f"{self.url}/{job.idempotency_key}") as resp:
                if resp.status == 404:
                    return None
                data = await self._answer(resp)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"查询推送结果失败：{exc}") from exc
        return Published(remote_id=str(data["id"]), remote_url=str(data.get("url", "")))

    async def retract(self, published: Published, job: Job) -> None:
        try:
            async with self.session.delete(f"{self.url}/{published.remote_id}") as resp:
                if resp.status in (200, 204, 404):
                    return
                await self._answer(resp)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"撤稿请求失败：{exc}") from exc

    async def _answer(self, resp: aiohttp.ClientResponse) -> dict:
        text = await resp.text()
        if resp.status in (200, 201):
            try:
                return json.loads(text)
            except ValueError as exc:
                raise TransientError(f"对方返回了无法解析的内容（HTTP {resp.status}）") from exc
        if resp.status == 429:
            retry = resp.headers.get("Retry-After")
            raise RateLimited("对方限流，稍后重试。", float(retry) if retry else None)
        if resp.status in (401, 403):
            raise AuthError(f"对方拒绝了签名或凭据（HTTP {resp.status}）：{text[:200]}")
        if resp.status >= 500:
            raise TransientError(f"对方服务暂时不可用（HTTP {resp.status}）")
        raise PermanentError(f"对方拒绝了推送（HTTP {resp.status}）：{text[:200]}")
