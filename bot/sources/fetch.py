"""Fetching an upstream feed for bot/sources/pull.py: one conditional GET with aiohttp (the
validators of the last pull, a whole-request timeout, a size limit counted after
decompression, limited redirects), then feedparser on the fetched bytes, never on a URL, so it
fetches nothing itself. A malformed (bozo) feed gives its readable entries and the reason."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import aiohttp
import feedparser

from bot.config import SourceConfig
from bot.errors import Refusal

USER_AGENT = "Gongkai-Sources/1.0 (+government disclosure feed import)"
ACCEPT = "application/atom+xml, application/rss+xml, application/xml;q=0.9, text/xml;q=0.8"


class SourceFetchError(Refusal):
    """The feed could not be fetched or parsed; str() says why (Chinese)."""

    status_code = 502
    code = "source_unreachable"


@dataclass(frozen=True)
class Fetched:
    status: int
    body: bytes = b""
    url: str = ""
    content_type: str = ""
    etag: str = ""
    last_modified: str = ""


async def fetch(
    session: aiohttp.ClientSession, source: SourceConfig, state: dict[str, Any]
) -> Fetched:
    headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT}
    if state.get("url") == source.url:  # validators of another URL say nothing about this one
        if state.get("etag"):
            headers["If-None-Match"] = state["etag"]
        if state.get("last_modified"):
            headers["If-Modified-Since"] = state["last_modified"]
    where = f"来源「{source.name}」（{source.url}）"
    try:
        async with session.get(
            source.url,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=source.timeout_seconds),
            max_redirects=source.max_redirects,
            allow_redirects=True,
        ) as resp:
            if resp.status == 304:
                return Fetched(304)
            if resp.status != 200:
                raise SourceFetchError(f"{where}抓取失败：上游返回 HTTP {resp.status}。")
            if (resp.content_length or 0) > source.max_bytes:
                raise SourceFetchError(f"{where}的响应超过 {source.max_bytes} 字节上限。")
            chunks, size = [], 0
            async for chunk in resp.content.iter_chunked(65536):
                size += len(chunk)
                if size > source.max_bytes:  # counted after decompression: no zip bombs
                    raise SourceFetchError(f"{where}的响应超过 {source.max_bytes} 字节上限。")
                chunks.append(chunk)
            return Fetched(
                200,
                b"".join(chunks),
                str(resp.url),
                resp.headers.get("Content-Type", ""),
                resp.headers.get("ETag", ""),
                resp.headers.get("Last-Modified", ""),
            )
    except aiohttp.TooManyRedirects as exc:
        raise SourceFetchError(f"{where}抓取失败：重定向超过 {source.max_redirects} 次。") from exc
    except TimeoutError as exc:
        raise SourceFetchError(f"{where}抓取失败：{source.timeout_seconds:g} 秒内未完成。") from exc
    except aiohttp.ClientError as exc:
        raise SourceFetchError(f"{where}抓取失败：{exc or type(exc).__name__}。") from exc


def parse(fetched: Fetched, source: SourceConfig) -> tuple[list[Any], str]:
    """Entries of the feed and, for a malformed (bozo) feed, the reason; a stream is handed to
    feedparser so it never fetches anything itself."""
    headers = {"content-location": fetched.url or source.url}
    if fetched.content_type:
        headers["content-type"] = fetched.content_type
    parsed = feedparser.parse(io.BytesIO(fetched.body), response_headers=headers)
    reason = ""
    if parsed.get("bozo"):
        reason = str(parsed.get("bozo_exception") or "格式错误")
        if isinstance(parsed.get("bozo_exception"), feedparser.CharacterEncodingOverride):
            reason = ""  # text/xml without a charset, read as the document declares: harmless
    if not parsed.entries and not parsed.get("version"):
        raise SourceFetchError(
            f"来源「{source.name}」（{source.url}）的内容不是可识别的 RSS/Atom 订阅"
            + (f"：{reason}" if reason else "。")
        )
    return list(parsed.entries), reason
