"""The link checker pre-review uses (错链断链): fetch each http(s) link with bounded concurrency
and a per-link timeout, follow redirects by hand, and answer links to our own items from the
database instead of the network.

One LinkChecker per process, built on the app's one ClientSession; its cache lives as long as
the checker does.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from tortoise.backends.base.client import BaseDBAsyncClient
from yarl import URL

from bot.config import Config
from bot.models import Item, ItemStatus
from moderation.findings import LinkCheck, LinkProblem
from moderation.rules import links

REDIRECTS = frozenset({301, 302, 303, 307, 308})
TEMPORARY = frozenset({429, 503})  # the server is busy or rate-limiting us: not broken
NO_HEAD = frozenset({405, 501})  # the server does not do HEAD: ask again with GET
USER_AGENT = "Gongkai-LinkCheck/1.0 (+government disclosure pre-review)"

RetractedLookup = Callable[[list[int]], Awaitable[set[int]]]


@dataclass(frozen=True)
class _OwnItem:
    """The link is (or redirects to) one of our own item pages: the database answers it."""

    id: int


_Outcome = links.LinkIssue | _OwnItem | None


class LinkChecker:
    """`await checker(urls)` → url -> LinkProblem, or None for a link that works."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout: float,
        concurrency: int,
        cache_seconds: float,
        own_base_url: str,
        retracted_lookup: RetractedLookup,
        max_redirects: int = 10,
        cache_size: int = 4096,
        allow_private: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self.max_redirects = max_redirects
        self.cache_size = cache_size
        self.allow_private = allow_private
        self._lookup = retracted_lookup
        self._clock = clock
        self._semaphore = asyncio.Semaphore(concurrency)
        self._cache: OrderedDict[str, tuple[float, _Outcome]] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[tuple[_Outcome, bool]]] = {}
        base = URL(own_base_url.rstrip("/"))
        self._own_origin = _origin(base)
        self._own_default_port = base.is_default_port()
        self._own_prefix = base.path.rstrip("/")
        self._own_raw_prefix = base.raw_path.rstrip("/")
        self._own_path = re.compile(re.escape(self._own_prefix) + r"/items/(\d+)/?")

    @classmethod
    def from_config(
        cls, session: aiohttp.ClientSession, config: Config, retracted_lookup: RetractedLookup
    ) -> LinkChecker:
        r = config.review
        return cls(
            session,
            timeout=r.link_timeout_seconds,
            concurrency=r.link_concurrency,
            cache_seconds=r.link_cache_seconds,
            own_base_url=config.app.public_base_url,
            retracted_lookup=retracted_lookup,
            allow_private=r.link_allow_private,
        )

    async def __call__(self, urls: list[str]) -> dict[str, LinkProblem | None]:
        unique = list(dict.fromkeys(urls))
        own: dict[str, int] = {}
        remote: list[str] = []
        for url in unique:
            item_id = self.own_item(url)
            if item_id is None:
                remote.append(url)
            else:
                own[url] = item_id
        outcomes = await asyncio.gather(*(self._outcome(url) for url in remote))
        fetched = dict(zip(remote, outcomes, strict=True))
        own.update({url: out.id for url, out in fetched.items() if isinstance(out, _OwnItem)})
        # Never cached: an item can be retracted between submission and dispatch.
        gone = await self._lookup(sorted(set(own.values()))) if own else set()
        answer: dict[str, LinkProblem | None] = {}
        for url in unique:
            if url in own:
                answer[url] = links.retracted(url, own[url]) if own[url] in gone else None
            else:
                out = fetched[url]
                answer[url] = None if isinstance(out, _OwnItem) else out
        return answer

    def own_item(self, url: str) -> int | None:
        """The id of our own item a URL points at (public_base_url/items/{id}), else None."""
        parsed = _parse(url)
        if parsed is None:
            return None
        scheme, host, _ = origin = _origin(parsed)
        # Answered from the database, never fetched: so an http link to our https site (both
        # on their default ports) may count as ours too. Any other port or host does not.
        same_site = origin == self._own_origin or (
            host == self._own_origin[1]
            and scheme in ("http", "https")
            and parsed.is_default_port()
            and self._own_default_port
        )
        match = self._own_path.fullmatch(parsed.path)
        return int(match.group(1)) if same_site and match else None

    def own_site(self, url: str | URL) -> bool:
        """Whether a URL is on our own site: exactly public_base_url's scheme, host and port (a
        default port may be written or left out), at or below its path. Only such links may be
        fetched when the host is internal; every other port or scheme of the same host is not
        our site, and probing it would be SSRF."""
        parsed = _parse(url)
        if parsed is None or _origin(parsed) != self._own_origin:
            return False
        segments = parsed.path.split("/")
        if "." in segments or ".." in segments:
            return False  # an encoded "../" that a proxy in front would resolve out of our path
        return _below(parsed.path, self._own_prefix) and _below(
            parsed.raw_path, self._own_raw_prefix
        )

    async def _outcome(self, url: str) -> _Outcome:
        cached = self._cache.get(url)
        if cached is not None:
            expires, outcome = cached
            if expires > self._clock():
                self._cache.move_to_end(url)
                return outcome
            del self._cache[url]
        task = self._inflight.get(url)
        if task is None:
            # Concurrent reviews of items sharing a link share one request.
            task = asyncio.create_task(self._fetch(url))
            self._inflight[url] = task
            task.add_done_callback(lambda _t: self._inflight.pop(url, None))
        outcome, cacheable = await asyncio.shield(task)
        if cacheable and self.cache_seconds > 0:
            self._cache[url] = (self._clock() + self.cache_seconds, outcome)
            self._cache.move_to_end(url)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return outcome

    async def _fetch(self, url: str) -> tuple[_Outcome, bool]:
        """The outcome of one link, and whether it may be cached (a timeout, a busy server or a
        failed connection may be gone on the next try, so those are not)."""
        async with self._semaphore:
            try:
                async with asyncio.timeout(self.timeout):
                    outcome = await self._follow(url)
            except TimeoutError:
                return links.timed_out(url, self.timeout), False
            except (ValueError, aiohttp.InvalidURL):
                return links.unreachable(url, "地址格式错误"), True
            except _InternalAddress as exc:
                if exc.url == URL(url):
                    return links.unreachable(url, "指向内部网络地址，不予访问"), True
                cause = f"重定向到内部网络地址 {exc.url}，不予访问"
                return links.unreachable(url, cause), True
            except aiohttp.ClientSSLError:
                return links.unreachable(url, "网站证书无效"), False
            except aiohttp.ClientConnectorDNSError:
                return links.unreachable(url, "域名无法解析"), False
            except aiohttp.ClientConnectorError:
                return links.unreachable(url, "无法连接服务器"), False
            except aiohttp.ClientError as exc:
                return links.unreachable(url, f"连接出错（{type(exc).__name__}）"), False
        temporary = isinstance(outcome, links.LinkIssue) and outcome.kind == "unavailable"
        return outcome, not temporary

    async def _follow(self, url: str) -> _Outcome:
        current = URL(url)
        seen = {str(current)}
        for _ in range(self.max_redirects + 1):
            status, reason, location = await self._request(current)
            if status in REDIRECTS and location:
                current = current.join(URL(location))
                item_id = self.own_item(str(current))
                if item_id is not None:
                    return _OwnItem(item_id)
                if str(current) in seen:
                    return links.redirect_loop(url)
                seen.add(str(current))
                continue
            if status in TEMPORARY:
                return links.unavailable(url, status)
            if status >= 400:
                return links.broken(url, status, reason)
            return None
        return links.too_many_redirects(url, self.max_redirects)

    async def _refuse_internal(self, url: URL) -> None:
        """A link staff put in an item must not make the server probe its own network (SSRF):
        hosts inside it are refused, unless config allows them. Our own site is excepted, but
        only its exact scheme, host, port and path (own_site): another port of the same host
        is someone else's service. Each redirect hop is checked too. The connector resolves
        the name again, so a name that changes its answer in between is not caught: a proxy in
        front is the full fix."""
        if self.allow_private or self.own_site(url):
            return
        if await _internal((url.host or "").lower().strip("[]")):
            raise _InternalAddress(url)

    async def _request(self, url: URL) -> tuple[int, str, str]:
        """(status, reason, Location) of HEAD, or of GET when the server refuses HEAD. The body
        is never read."""
        await self._refuse_internal(url)
        kwargs: dict[str, Any] = {"allow_redirects": False, "headers": {"User-Agent": USER_AGENT}}
        async with self.session.head(url, **kwargs) as resp:
            status, reason, location = resp.status, resp.reason or "", resp.headers.get("Location")
        if status in NO_HEAD:
            async with self.session.get(url, **kwargs) as resp:
                status, reason = resp.status, resp.reason or ""
                location = resp.headers.get("Location")
        return status, reason, location or ""


class _InternalAddress(Exception):
    """The link's host is (or resolves to) a loopback, private, link-local or reserved address."""

    def __init__(self, url: URL) -> None:
        super().__init__(str(url))
        self.url = url


def _parse(url: str | URL) -> URL | None:
    try:
        parsed = url if isinstance(url, URL) else URL(url)
    except (ValueError, TypeError):
        return None
    return parsed if parsed.absolute else None


def _origin(url: URL) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in, so http://h == http://h:80."""
    return url.scheme.lower(), (url.host or "").lower(), url.port


def _below(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


async def _internal(host: str) -> bool:
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError:
        return False  # does not resolve: the request itself reports that
    return any(not ipaddress.ip_address(str(info[4][0])).is_global for info in infos)


async def retracted_items(ids: list[int], conn: BaseDBAsyncClient | None = None) -> set[int]:
    """Which of these item ids are retracted (the checker's retracted_lookup)."""
    if not ids:
        return set()
    query = Item.filter(id__in=ids, status=ItemStatus.RETRACTED.value)
    rows = await (query.using_db(conn) if conn else query).only("id")
    return {row.id for row in rows}


async def precheck(check: LinkCheck, snapshot: dict[str, Any]) -> LinkCheck:
    """Check a snapshot's links now and return a LinkCheck answering from those results.

    Submission runs pre-review inside a database transaction (on SQLite, holding the write
    lock): call this before the transaction opens so no network wait happens inside it.
    """
    urls = [url for _, url, _ in links.extract_links(snapshot) if links.fetchable(url)]
    known = await check(list(dict.fromkeys(urls))) if urls else {}

    async def answer(asked: list[str]) -> dict[str, LinkProblem | None]:
        missing = [url for url in asked if url not in known]
        extra = await check(missing) if missing else {}
        return {url: known[url] if url in known else extra.get(url) for url in asked}

    return answer
