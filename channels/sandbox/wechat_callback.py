"""The WeChat simulator's callbacks to the bot: a message or event POSTed to the bot's server URL
as WeChat does it (signed query; encrypted body in safe mode, both forms in compatible mode),
retried when no answer comes in time (docs/channels/wechat.md "Callback events", S43 S46)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import aiohttp
import xmltodict
from wechatpy.crypto import WeChatCrypto


@dataclass
class Callback:
    url: str = ""
    token: str = "sandbox-token"
    aes_key: str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters
    app_id: str = "wx-sandbox"
    mode: str = "safe"  # plain | compatible | safe
    tries: int = 3
    timeout: float = 5.0
    username: str = "gh_sandbox"


@dataclass
class CallbackResult:
    status: int  # last HTTP status, 0 when no answer came
    body: str
    attempts: int


def sign(token: str, timestamp: str, nonce: str) -> str:
    """WeChat's callback signature: sha1 of the sorted token, timestamp and nonce."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


async def post_callback(
    session: aiohttp.ClientSession,
    cb: Callback,
    fields: dict[str, Any],
    now: float,
    tries: int | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - per-try HTTP timeout, like WeChat's
) -> CallbackResult:
    """POST `fields` (ToUserName and CreateTime included) to cb.url; WeChat waits 5 s for an
    answer and tries 3 times in all (S46)."""
    plain = xmltodict.unparse({"xml": fields}, full_document=False)
    timestamp, nonce = str(int(now)), secrets.token_hex(8)
    query = {"signature": sign(cb.token, timestamp, nonce), "timestamp": timestamp}
    query["nonce"] = nonce
    query["openid"] = str(fields.get("FromUserName", ""))
    body = plain
    if cb.mode in ("safe", "compatible"):
        crypto = WeChatCrypto(cb.token, cb.aes_key, cb.app_id)
        wrapped = xmltodict.parse(crypto.encrypt_message(plain, nonce, timestamp))["xml"]
        query.update(encrypt_type="aes", msg_signature=wrapped["MsgSignature"])
        extra = {"ToUserName": cb.username, "Encrypt": wrapped["Encrypt"]}
        if cb.mode == "compatible":
            extra = {**fields, "Encrypt": wrapped["Encrypt"]}
        body = xmltodict.unparse({"xml": extra}, full_document=False)
    status, text, attempts = 0, "", 0
    for attempt in range(1, (tries or cb.tries) + 1):
        attempts = attempt
        try:
            async with session.post(
                cb.url,
                params=query,
                data=body.encode(),
                headers={"Content-Type": "text/xml"},
                timeout=aiohttp.ClientTimeout(total=timeout or cb.timeout),
            ) as resp:
                status, text = resp.status, await resp.text()
            if status == 200:
                break
        except (TimeoutError, aiohttp.ClientError):
            status, text = 0, ""
    return CallbackResult(status, text, attempts)
