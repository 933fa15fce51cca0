"""The WeChat Official Account REST client: aiohttp against a configurable base URL (with
WeChat's regional fallbacks), timeouts, the shared access token, and errcodes turned into the
dispatcher's error classes (channels/wechat/errors.py).

An irreversible call (draft/add, freepublish/submit, mass send, custom message) whose answer
is lost raises OutcomeUnknown; the caller looks the result up before trying again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from channels.base import OutcomeUnknown, PermanentError, TransientError
from channels.http_session import SessionOwner
from channels.wechat.errors import TOKEN_ERRORS, TOKEN_EXPIRED, classify
from channels.wechat.token import TokenManager, TokenStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upload:
    """A file sent as multipart/form-data (field "media"), as WeChat's upload APIs expect."""

    name: str
    data: bytes
    content_type: str


class WechatError(Exception):
    """A non-zero errcode, kept with the answer for callers that handle particular codes."""

    def __init__(self, errcode: int, errmsg: str, answer: dict[str, Any]) -> None:
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.answer = answer


class WechatApi(SessionOwner):
    def __init__(
        self,
        base_urls: list[str],
        app_id: str,
        app_secret: str,
        timeout: float,
        store: TokenStore,
        owner: str,
        margin_seconds: float = 300,
        lock_seconds: float = 30,
    ) -> None:
        self.base_urls = [u.rstrip("/") for u in base_urls]
        self.app_id = app_id
        self.app_secret = app_secret
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.tokens = TokenManager(store, self.fetch_token, owner, margin_seconds, lock_seconds)

    async def fetch_token(self, force_refresh: bool) -> tuple[str, int]:
        body = {
            "grant_type": "client_credential",
            "appid": self.app_id,
            "secret": self.app_secret,
            "force_refresh": force_refresh,
        }
        answer = await self._send("stable_token", None, lambda: _json(body), False)
        code = int(answer.get("errcode") or 0)
        if code:
            raise classify(code, str(answer.get("errmsg", "")), "stable_token")
        return str(answer["access_token"]), int(answer.get("expires_in", 7200))

    async def call(
        self,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        params: dict[str, str] | None = None,
        upload: Upload | None = None,
        irreversible: bool = False,
        raw: bool = False,
        method: str = "POST",
    ) -> dict[str, Any]:
        """POST `path` with the access token; the answer, or the ChannelError for its errcode.

        raw=True raises WechatError instead, for callers that handle some codes themselves.
        A token error refreshes the token once and retries once, never more.
        """

        def payload() -> tuple[Any, dict[str, str]]:
            if method == "GET":  # e.g. menu/get: no body
                return None, {}
            if upload is not None:
                form = aiohttp.FormData()
                form.add_field(
                    "media", upload.data, filename=upload.name, content_type=upload.content_type
                )
                return form, {}
            return _json(body or {})

        token = await self._token()
        answer = await self._send(
            path, {**(params or {}), "access_token": token}, payload, irreversible, method
        )
        code = int(answer.get("errcode") or 0)
        if code in TOKEN_ERRORS:
            log.warning("wechat %s: token refused (%s); refreshing once", path, code)
            # An expired token (42001) needs no forced refresh: normal mode gives a live one.
            token = await self._replace(token, force=code != TOKEN_EXPIRED)
            query = {**(params or {}), "access_token": token}
            answer = await self._send(path, query, payload, irreversible, method)
            code = int(answer.get("errcode") or 0)
        if code:
            errmsg = str(answer.get("errmsg", ""))
            if raw:
                raise WechatError(code, errmsg, answer)
            raise classify(code, errmsg, path, upload.name if upload else "")
        return answer

    async def _token(self) -> str:
        try:
            return await self.tokens.get()
        except TimeoutError as exc:
            raise TransientError("获取微信 access_token 超时，稍后重试。") from exc

    async def _replace(self, bad: str, force: bool) -> str:
        try:
            return await self.tokens.replace(bad, force)
        except TimeoutError as exc:
            raise TransientError("刷新微信 access_token 超时，稍后重试。") from exc

    async def _send(
        self,
        path: str,
        query: dict[str, str] | None,
        payload: Callable[[], tuple[Any, dict[str, str]]],
        irreversible: bool,
        method: str = "POST",
    ) -> dict[str, Any]:
        """Try each base URL in turn while the request surely never reached WeChat (or, for a
        reversible call, while it failed in a way worth trying elsewhere)."""
        last: Exception | None = None
        for base in self.base_urls:
            data, headers = payload()
            try:
                # Most endpoints are under /cgi-bin/; a path given from the root ("/datacube/…")
                # is taken as it is.
                url = f"{base}{path}" if path.startswith("/") else f"{base}/cgi-bin/{path}"
                async with self.session.request(
                    method, url, params=query, data=data, headers=headers
                ) as resp:
                    text = await resp.text()
                    if resp.status >= 500:
                        raise TransientError(f"微信服务暂时不可用（HTTP {resp.status}，{path}）")
                    if resp.status != 200:
                        raise PermanentError(
                            f"微信接口 {path} 返回 HTTP {resp.status}：{text[:200]}"
                        )
            except aiohttp.ClientConnectorError as exc:  # never sent: safe anywhere
                last = exc
                continue
            except (TimeoutError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                if irreversible:
                    raise OutcomeUnknown(
                        f"微信接口 {path} 已发出请求但未收到答复，结果未知。"
                    ) from exc
                last = exc
                continue
            except TransientError as exc:
                if irreversible:
                    raise
                last = exc
                continue
            except aiohttp.ClientError as exc:
                raise TransientError(f"调用微信接口 {path} 失败：{exc}") from exc
            try:
                answer = json.loads(text)
            except ValueError as exc:
                raise TransientError(f"微信接口 {path} 返回了无法解析的内容") from exc
            if not isinstance(answer, dict):
                raise TransientError(f"微信接口 {path} 返回了无法解析的内容")
            return answer
        if isinstance(last, TransientError):
            raise last
        raise TransientError(f"无法连接微信接口 {path}：{last}") from last


def _json(body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    # WeChat stores \\u escapes literally: send UTF-8 text unescaped.
    data = json.dumps(body, ensure_ascii=False).encode()
    return data, {"Content-Type": "application/json; charset=utf-8"}
