"""LinkChecker against a real aiohttp server on 127.0.0.1: statuses, HEAD→GET fallback, manual
redirects and loops, timeouts, the cache and the concurrency bound (both counted server-side),
and own item links answered from the database."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.config import Config
from bot.items import lifecycle
from bot.items.linkcheck import LinkChecker, precheck, retracted_items
from bot.items.schemas import ItemCreate, ItemPatch
from bot.models import Finding, Item, ItemStatus, User
from moderation.findings import LinkProblem, ReviewContext
from moderation.rules.links import check
from tests.conftest import Staff, free_port

SLOW_SECONDS = 2.0
TIMEOUT = 0.5


@dataclass
class Site:
    server: TestServer
    hits: Counter[str] = field(default_factory=Counter)  # path -> requests (HEAD and GET)
    methods: list[tuple[str, str]] = field(default_factory=list)
    active: int = 0
    max_active: int = 0

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))


def make_app(site: Site) -> web.Application:
    @web.middleware
    async def count(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        site.hits[request.path] += 1
        site.methods.append((request.method, request.path))
        site.active += 1
        site.max_active = max(site.max_active, site.active)
        try:
            return await handler(request)
        finally:
            site.active -= 1

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="正文")

    async def not_found(request: web.Request) -> web.Response:
        raise web.HTTPNotFound()

    async def error(request: web.Request) -> web.Response:
        raise web.HTTPInternalServerError()

    async def busy(request: web.Request) -> web.Response:
        raise web.HTTPServiceUnavailable()

    async def chain(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        if n == 0:
            return web.Response(text="到了")
        raise web.HTTPFound(f"/chain/{n - 1}")

    async def loop_a(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/loop/b")

    async def loop_b(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop/a")

    async def to_own(request: web.Request) -> web.Response:
        raise web.HTTPFound("https://gk.example.gov.cn/items/" + request.match_info["id"])

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(SLOW_SECONDS)
        return web.Response(text="慢")

    async def pause(request: web.Request) -> web.Response:
        await asyncio.sleep(0.1)
        return web.Response(text="ok")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    async def get_only(request: web.Request) -> web.Response:
        if request.method == "HEAD":
            raise web.HTTPMethodNotAllowed("HEAD", ["GET"])
        return web.Response(text="只支持 GET")

    app = web.Application(middlewares=[count])
    app.router.add_get("/ok", ok)
    app.router.add_get("/missing", not_found)
    app.router.add_get("/error", error)
    app.router.add_get("/busy", busy)
    app.router.add_get("/chain/{n}", chain)
    app.router.add_get("/loop/a", loop_a)
    app.router.add_get("/loop/b", loop_b)
    app.router.add_get("/short/{id}", to_own)
    app.router.add_get("/slow", slow)
    app.router.add_get("/pause/{n}", pause)
    app.router.add_route("*", "/get-only", get_only)
    app.router.add_get("/redirect", redirect)
    return app


async def serving() -> AsyncIterator[Site]:
    # The app's handlers record into the Site, and the Site needs the server for its URLs.
    server = TestServer(web.Application(), host="127.0.0.1")
    s = Site(server)
    server.app = make_app(s)
    await server.start_server()
    yield s
    await server.close()


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async for s in serving():
        yield s


@pytest.fixture
async def other(site: Site) -> AsyncIterator[Site]:
    """A second server on the same host, another port: a service beside our site (Redis, SSH,
    an admin console) that a link must not reach."""
    async for s in serving():
        yield s


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


class Lookup:
    """A retracted_lookup over a fixed set, remembering what it was asked."""

    def __init__(self, retracted: set[int]) -> None:
        self.retracted = retracted
        self.asked: list[list[int]] = []

    async def __call__(self, ids: list[int]) -> set[int]:
        self.asked.append(ids)
        return self.retracted & set(ids)


def must(problem: LinkProblem | None) -> LinkProblem:
    assert problem is not None
    return problem


def checker(
    session: aiohttp.ClientSession,
    lookup: Lookup | None = None,
    **overrides: float,
) -> LinkChecker:
    options: dict[str, float] = {"timeout": TIMEOUT, "concurrency": 4, "cache_seconds": 60}
    options.update(overrides)
    return LinkChecker(
        session,
        timeout=options["timeout"],
        concurrency=int(options["concurrency"]),
        cache_seconds=options["cache_seconds"],
        own_base_url="https://gk.example.gov.cn",
        retracted_lookup=lookup or Lookup(set()),
        allow_private=bool(options.get("allow_private", True)),  # the test site is local
    )


async def test_working_broken_and_server_error_links(
    site: Site, session: aiohttp.ClientSession
) -> None:
    ok, missing, error = site.url("/ok"), site.url("/missing"), site.url("/error")
    result = await checker(session)([ok, missing, error])
    assert result[ok] is None
    assert must(result[missing]).severity == "block"
    assert must(result[missing]).message.startswith("链接无法访问：HTTP 404")
    assert "HTTP 500" in must(result[error]).message
    # HEAD answered: no GET was needed.
    assert ("GET", "/ok") not in site.methods


async def test_head_refused_falls_back_to_get(site: Site, session: aiohttp.ClientSession) -> None:
    url = site.url("/get-only")
    assert (await checker(session)([url]))[url] is None
    assert site.methods == [("HEAD", "/get-only"), ("GET", "/get-only")]


async def test_busy_server_is_a_warning_not_broken(
    site: Site, session: aiohttp.ClientSession
) -> None:
    url = site.url("/busy")
    problem = (await checker(session)([url]))[url]
    assert problem is not None and problem.severity == "warn"
    assert "暂时无法访问" in problem.message


async def test_redirect_chain_is_followed_up_to_ten_hops(
    site: Site, session: aiohttp.ClientSession
) -> None:
    ten, eleven = site.url("/chain/10"), site.url("/chain/11")
    result = await checker(session)([ten, eleven])
    assert result[ten] is None
    assert site.hits["/chain/0"] == 1  # the tenth hop was reached and fetched
    assert must(result[eleven]).severity == "block"
    assert "重定向超过 10 次" in must(result[eleven]).message


async def test_redirect_loop_blocks(site: Site, session: aiohttp.ClientSession) -> None:
    url = site.url("/loop/a")
    problem = (await checker(session)([url]))[url]
    assert problem is not None and problem.severity == "block"
    assert "循环" in problem.message
    assert site.hits["/loop/a"] == 1 and site.hits["/loop/b"] == 1


async def test_slow_link_is_reported_as_timeout(site: Site, session: aiohttp.ClientSession) -> None:
    url, ok = site.url("/slow"), site.url("/ok")
    started = asyncio.get_running_loop().time()
    result = await checker(session)([url, ok])
    assert asyncio.get_running_loop().time() - started < SLOW_SECONDS
    problem = result[url]
    assert problem is not None and problem.severity == "warn"
    assert "链接检查超时" in problem.message and "无法访问" not in problem.message
    assert result[ok] is None


async def test_cache_hit_avoids_a_second_request(
    site: Site, session: aiohttp.ClientSession
) -> None:
    c = checker(session)
    ok, missing = site.url("/ok"), site.url("/missing")
    first = await c([ok, missing])
    second = await c([ok, missing])
    assert first == second
    assert site.hits["/ok"] == 1 and site.hits["/missing"] == 1


async def test_timeouts_and_busy_answers_are_not_cached(
    site: Site, session: aiohttp.ClientSession
) -> None:
    c = checker(session)
    busy = site.url("/busy")
    await c([busy])
    await c([busy])
    assert site.hits["/busy"] == 2


async def test_cache_expires_and_stays_bounded(site: Site, session: aiohttp.ClientSession) -> None:
    now = [0.0]
    c = LinkChecker(
        session,
        timeout=TIMEOUT,
        concurrency=2,
        cache_seconds=10,
        own_base_url="https://gk.example.gov.cn",
        retracted_lookup=retracted_items,
        cache_size=2,
        allow_private=True,
        clock=lambda: now[0],
    )
    ok = site.url("/ok")
    await c([ok])
    now[0] = 9.0
    await c([ok])
    assert site.hits["/ok"] == 1
    now[0] = 11.0
    await c([ok])
    assert site.hits["/ok"] == 2
    await c([site.url("/pause/1"), site.url("/pause/2")])  # evicts /ok, the least recently used
    await c([ok])
    assert site.hits["/ok"] == 3


async def test_concurrency_bound_is_respected(site: Site, session: aiohttp.ClientSession) -> None:
    urls = [site.url(f"/pause/{n}") for n in range(12)]
    result = await checker(session, concurrency=3)(urls)
    assert all(problem is None for problem in result.values())
    assert site.max_active == 3
    assert sum(site.hits.values()) == 12


async def test_concurrent_callers_share_one_request(
    site: Site, session: aiohttp.ClientSession
) -> None:
    c = checker(session)
    url = site.url("/pause/1")
    await asyncio.gather(c([url]), c([url]), c([url]))
    assert site.hits["/pause/1"] == 1


async def test_own_item_links_are_answered_by_the_database_not_fetched(
    site: Site, session: aiohttp.ClientSession
) -> None:
    lookup = Lookup({7})
    c = checker(session, lookup)
    gone, live = "https://gk.example.gov.cn/items/7", "http://gk.example.gov.cn/items/8/"
    via_short = site.url("/short/7")
    result = await c([gone, live, via_short])
    assert must(result[gone]).severity == "block"
    assert "链接指向已撤稿的条目 #7" in must(result[gone]).message
    assert result[live] is None
    assert "#7" in must(result[via_short]).message
    assert lookup.asked == [[7, 8]]
    assert c.own_item("https://gk.example.gov.cn/feed.xml") is None
    assert c.own_item("https://gk.example.gov.cn:8443/items/7") is None
    assert c.own_item("https://other.gov.cn/items/7") is None


async def test_unreachable_host_is_broken(session: aiohttp.ClientSession) -> None:
    # Port 9 (discard) on loopback: nothing listens there in the test environment.
    url = "http://127.0.0.1:9/x"
    problem = (await checker(session)([url]))[url]
    assert problem is not None and problem.severity == "block"
    assert "无法连接服务器" in problem.message


# --- with the database and the rule --------------------------------------------------------


async def make_item(status: ItemStatus) -> int:
    author = await User.get_or_create(username="alice", defaults={"roles": ["editor"]})
    item = await Item.create(
        kind="notice", title="通知", column="notices", author=author[0], status=status.value
    )
    return item.id


async def test_retracted_items_reads_status_from_the_database(config: Config) -> None:
    live = await make_item(ItemStatus.PUBLISHED)
    gone = await make_item(ItemStatus.RETRACTED)
    assert await retracted_items([live, gone, 9999]) == {gone}
    assert await retracted_items([]) == set()


async def test_rule_end_to_end_with_real_checker_and_database(
    config: Config, site: Site, session: aiohttp.ClientSession
) -> None:
    gone = await make_item(ItemStatus.RETRACTED)
    c = LinkChecker(
        session,
        timeout=TIMEOUT,
        concurrency=config.review.link_concurrency,
        cache_seconds=config.review.link_cache_seconds,
        own_base_url=config.app.public_base_url,
        retracted_lookup=retracted_items,
        allow_private=True,
    )
    own = f"{config.app.public_base_url}/items/{gone}"
    missing, slow, ok = site.url("/missing"), site.url("/slow"), site.url("/ok")
    body = (
        f"# 关于调整办事指南的公告\n\n原公告[已撤销]({own})，404 页面见{missing}。\n"
        f"系统查询：<{slow}>；办事入口：[点此]({ok})。"
    )
    context = ReviewContext(
        channels=("site",),
        public_channels=frozenset({"site"}),
        columns={},
        check_links=await precheck(c, {"body": body}),
    )
    findings = await check({"body": body}, context)
    by_rule = {f.rule: f for f in findings if f.rule != "links.insecure"}
    assert set(by_rule) == {"links.retracted", "links.broken", "links.timeout"}
    assert by_rule["links.retracted"].blocks
    assert f"#{gone}" in by_rule["links.retracted"].message
    assert by_rule["links.broken"].blocks
    assert by_rule["links.timeout"].severity == "warn" and not by_rule["links.timeout"].blocks
    assert body[slice(*by_rule["links.timeout"].span or (0, 0))] == slow
    # Plain http links that are not blocked anyway also get the https suggestion.
    insecure = [f for f in findings if f.rule == "links.insecure"]
    assert [body[slice(*f.span or (0, 0))] for f in insecure] == [slow, ok]
    # precheck fetched everything before the rule ran; the rule's own call hit no server.
    assert site.hits["/ok"] == 1 and site.hits["/missing"] == 1


async def notice_with(body: str, title: str, staff: Staff, config: Config) -> Item:
    """A draft notice by the editor with this body."""
    data = {"kind": "notice", "title": title, "body": body, "office": "办公室"}
    return await lifecycle.create_item(ItemCreate.model_validate(data), staff.editor, config)


async def test_submit_and_edit_check_links_before_their_transaction(
    site: Site, session: aiohttp.ClientSession, config: Config, staff: Staff
) -> None:
    links = LinkChecker.from_config(session, config, retracted_lookup=retracted_items)
    links.allow_private = True  # the test site is on 127.0.0.1
    body = f"详见[办事指南]({site.url('/missing')})。"
    item = await notice_with(body, "关于办事指南更新的通知", staff, config)
    outcome = await lifecycle.submit(item.id, staff.editor, config, links)
    assert outcome.item.status == "returned"
    broken = next(f for f in outcome.findings if f.rule == "links.broken")
    assert "404" in broken.message and body[broken.span[0] : broken.span[1]] == site.url("/missing")
    still_broken = ItemPatch(body=f"详见[办事指南]({site.url('/error')})。")
    await lifecycle.edit_item(item.id, still_broken, staff.editor, config, links)
    rules = await Finding.filter(item_id=item.id, stage="edit").values_list("rule", flat=True)
    assert "links.broken" in rules  # the edit was checked, not only the submission
    fixed = ItemPatch(body=f"详见[办事指南]({site.url('/ok')})。")
    await lifecycle.edit_item(item.id, fixed, staff.editor, config, links)
    rules = await Finding.filter(item_id=item.id, stage="edit").values_list("rule", flat=True)
    assert "links.broken" not in rules


async def test_links_into_the_servers_own_network_are_refused_not_fetched(
    site: Site, session: aiohttp.ClientSession
) -> None:
    c = checker(session, allow_private=False)
    local, private = site.url("/ok"), "http://10.1.2.3/admin"
    answers = await c([local, private, "http://localhost:9/x", "https://gk.example.gov.cn/a"])
    for url in (local, private, "http://localhost:9/x"):
        assert "内部网络地址" in must(answers[url]).message
    assert site.hits.get("/ok", 0) == 0
    own_site = answers["https://gk.example.gov.cn/a"]  # our own host is never refused
    assert own_site is None or "内部网络地址" not in own_site.message


# --- the own-site exemption is one origin, not one host (SSRF) ------------------------------


def own_site_checker(
    session: aiohttp.ClientSession, base: str, lookup: Lookup | None = None
) -> LinkChecker:
    """A checker whose public_base_url is a local test server, with the SSRF guard on."""
    return LinkChecker(
        session,
        timeout=TIMEOUT,
        concurrency=4,
        cache_seconds=60,
        own_base_url=base,
        retracted_lookup=lookup or Lookup(set()),
    )


def base_of(site: Site) -> str:
    return site.url("/").rstrip("/")


async def test_own_host_on_another_port_or_scheme_is_refused_not_fetched(
    site: Site, other: Site, session: aiohttp.ClientSession
) -> None:
    lookup = Lookup({5})
    c = own_site_checker(session, base_of(site), lookup)
    port = site.server.port
    beside, closed = other.url("/ok"), f"http://127.0.0.1:{free_port()}/"
    other_scheme = f"https://127.0.0.1:{port}/ok"
    own_page, own_item = site.url("/ok"), site.url("/items/5")
    answers = await c([beside, closed, other_scheme, own_page, own_item])
    for url in (beside, closed, other_scheme):
        problem = must(answers[url])
        assert problem.severity == "block"
        assert "指向内部网络地址，不予访问" in problem.message and url in problem.message
    assert sum(other.hits.values()) == 0  # the service beside our site was never asked
    # Our own site itself is still checked over the network, and its items from the database.
    assert answers[own_page] is None and site.hits["/ok"] == 1
    assert "链接指向已撤稿的条目 #5" in must(answers[own_item]).message
    assert lookup.asked == [[5]] and site.hits["/items/5"] == 0


async def test_own_site_is_the_exact_origin_with_default_ports_equivalent(
    session: aiohttp.ClientSession,
) -> None:
    c = own_site_checker(session, "http://127.0.0.1/gk")
    assert c.own_site("http://127.0.0.1/gk/feed.xml")
    assert c.own_site("http://127.0.0.1:80/gk/feed.xml")  # the default port, written out
    assert c.own_site("HTTP://127.0.0.1/gk")
    assert not c.own_site("http://127.0.0.1:8080/gk/feed.xml")
    assert not c.own_site("https://127.0.0.1/gk/feed.xml")
    assert not c.own_site("http://localhost/gk/feed.xml")
    assert not c.own_site("http://127.0.0.1/gkx")  # a sibling path, not below ours
    assert not c.own_site("http://127.0.0.1/admin")
    assert not c.own_site("http://127.0.0.1/gk/..%2Fadmin")
    assert not c.own_site("http://127.0.0.1:80@127.0.0.1:22/gk")  # userinfo, then port 22
    assert c.own_item("http://127.0.0.1:80/gk/items/3") == 3
    assert c.own_item("http://127.0.0.1:8080/gk/items/3") is None
    # An http link to our https site on the default ports is answered from the database (no
    # request is made); an http link when our https site has its own port is not ours.
    assert (
        own_site_checker(session, "https://gk.example.gov.cn").own_item(
            "http://gk.example.gov.cn/items/3"
        )
        == 3
    )
    assert (
        own_site_checker(session, "https://gk.example.gov.cn:8443").own_item(
            "http://gk.example.gov.cn/items/3"
        )
        is None
    )


async def test_own_base_path_limits_what_is_fetched_on_an_internal_host(
    site: Site, session: aiohttp.ClientSession
) -> None:
    c = own_site_checker(session, site.url("/chain"))
    inside, outside = site.url("/chain/3"), site.url("/ok")
    escaped = f"{site.url('/chain')}/..%2Fok"
    answers = await c([inside, outside, escaped])
    assert answers[inside] is None and site.hits["/chain/0"] == 1  # redirects below the base
    for url in (outside, escaped):
        assert "内部网络地址" in must(answers[url]).message
    assert site.hits["/ok"] == 0


async def test_redirect_to_the_own_host_on_another_port_is_refused(
    site: Site, other: Site, session: aiohttp.ClientSession
) -> None:
    c = own_site_checker(session, base_of(site))
    hidden = other.url("/ok")
    via_redirect = str(site.server.make_url("/redirect").with_query(to=hidden))
    via_name = str(
        site.server.make_url("/redirect").with_query(to=f"http://localhost:{other.server.port}/ok")
    )
    to_own = str(site.server.make_url("/redirect").with_query(to=site.url("/chain/1")))
    answers = await c([via_redirect, via_name, to_own])
    problem = must(answers[via_redirect])
    assert problem.severity == "block"
    assert f"重定向到内部网络地址 {hidden}，不予访问" in problem.message
    assert via_redirect in problem.message
    assert "重定向到内部网络地址" in must(answers[via_name]).message
    assert sum(other.hits.values()) == 0  # neither hop reached the service beside our site
    assert answers[to_own] is None and site.hits["/chain/0"] == 1  # our own site: followed


async def test_submit_refuses_a_link_to_the_own_host_on_another_port(
    site: Site, other: Site, session: aiohttp.ClientSession, config: Config, staff: Staff
) -> None:
    ours = config.model_copy(
        update={"app": config.app.model_copy(update={"public_base_url": base_of(site)})}
    )
    links = LinkChecker.from_config(session, ours, retracted_lookup=retracted_items)
    gone = await make_item(ItemStatus.RETRACTED)
    beside, own = other.url("/ok"), site.url(f"/items/{gone}")
    body = f"详见[内部系统]({beside})与[原公告]({own})。"
    item = await notice_with(body, "关于系统迁移的通知", staff, ours)
    outcome = await lifecycle.submit(item.id, staff.editor, ours, links)
    assert outcome.item.status == "returned"
    by_rule = {f.rule: f for f in outcome.findings}
    refused = by_rule["links.broken"]
    assert "指向内部网络地址" in refused.message and beside in refused.message
    assert body[refused.span[0] : refused.span[1]] == beside
    assert f"#{gone}" in by_rule["links.retracted"].message
    assert sum(other.hits.values()) == 0 and sum(site.hits.values()) == 0
