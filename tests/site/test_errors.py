"""Every error the public site answers is a Chinese page with the site's header and a way back
(issue 23): one test per status (400, 404, 405, 410, 413, 429, 500) over real HTTP, and the
paths that keep their own errors (/api in JSON, /console as before)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import db
from bot.config import Config
from bot.models import Item
from bot.site.cache import Result
from bot.web.keys import SITE
from tests.conftest import make_config
from tests.web.conftest import Publish, SiteClient, build_app
from tests.web.public.test_pages import check_html

Client = TestClient[web.Request, web.Application]


async def error_page(resp: Any, status: int, *phrases: str) -> str:
    """Assert `resp` is the site's Chinese page of `status`: the header with the agency and
    the columns, the phrases asked for, a way back home; return its visible text."""
    page = await resp.text()
    assert resp.status == status, page[:500]
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    text = " ".join(check_html(page).split())
    assert '<header class="site">' in page and 'aria-label="栏目导航"' in page
    assert "/columns/notice" in page  # the header's column links
    assert "返回首页" in text and 'href="http://127.0.0.1:8080/"' in page
    for phrase in phrases:
        assert phrase in text, (phrase, text)
    return text


@pytest.fixture
async def small_body_client(sqlite_url: str) -> AsyncIterator[Client]:
    """A site whose request bodies may be at most 2 KB and whose 留言 look-ups are limited to
    one a minute per address."""
    cfg = make_config(
        sqlite_url,
        web={"max_body_bytes": 2048},
        inbox={"form": {"lookup_limit": 1, "lookup_window_seconds": 60}},
    )
    await db.init(cfg, check_schema=False)
    await db.upgrade()
    async with SiteClient(TestServer(build_app(cfg), host="127.0.0.1")) as client:
        yield client
    await db.close()


async def test_400_a_bad_query_or_form_is_a_chinese_page_naming_the_problem(
    client: Client,
) -> None:
    resp = await client.get("/columns/notice?page=abc")
    await error_page(resp, 400, "请求有误", "参数「页码」（page）应为正整数", "返回通知公告")
    # A form body that cannot be parsed (bot/web/inputs.py read_form) gets the page too.
    resp = await client.post(
        "/feedback/status",
        data=b"--x\r\nbroken\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    await error_page(resp, 400, "表单无法解析")


async def test_404_any_unknown_public_path_is_the_chinese_page_built_once(client: Client) -> None:
    for path in ("/nowhere", "/items/", "/columns/nosuch", "/assets/nosuch.css", "/feeds/x"):
        await error_page(await client.get(path), 404, "页面不存在")
    site = client.app[SITE]
    builds = site.cache.builds
    resp = await client.get("/another/unknown/path?x=1")
    await error_page(resp, 404, "页面不存在")
    assert resp.headers["Cache-Control"] == "no-cache"
    assert site.cache.builds == builds  # the unmatched paths share one built page
    head = await client.head("/nowhere")
    assert head.status == 404


async def test_405_a_method_the_path_does_not_take_names_the_ones_it_does(
    client: Client,
) -> None:
    resp = await client.post("/")
    await error_page(resp, 405, "请求方式不受支持")
    assert resp.headers["Allow"] == "GET,HEAD"
    resp = await client.delete("/feedback")
    await error_page(resp, 405, "请求方式不受支持")
    assert resp.headers["Allow"] == "GET,HEAD,POST"


async def test_410_a_retracted_item_is_the_chinese_page_with_the_way_back(
    publish: Publish, retract: Callable[[int], Awaitable[Item]], client: Client
) -> None:
    item = await publish(title="关于即将撤稿的通知")
    await retract(item.id)
    resp = await client.get(f"/items/{item.id}")
    await error_page(resp, 410, "该信息已撤稿", "网站地图")


async def test_413_a_body_over_the_limit_is_the_chinese_page(small_body_client: Client) -> None:
    resp = await small_body_client.post("/feedback", data={"content": "问" * 2000})
    await error_page(resp, 413, "提交的内容过大", "最多 2 KB")


async def test_429_too_many_look_ups_is_the_chinese_page_with_retry_after(
    small_body_client: Client,
) -> None:
    assert (await small_body_client.get("/feedback/status?code=ABCDEFGH")).status == 404
    resp = await small_body_client.get("/feedback/status?code=ABCDEFGH")
    await error_page(resp, 429, "访问过于频繁", "查询过于频繁，请 1 分钟后再试", "返回留言页面")
    assert int(resp.headers["Retry-After"]) > 0


async def test_500_a_failing_page_is_logged_and_answered_with_the_chinese_page(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    app = build_app(config)

    async def broken(key: str) -> Result:
        raise RuntimeError("the item builder broke")

    app[SITE].register("item", broken)  # the real route and guard; a builder that fails
    caplog.set_level(logging.ERROR, logger="bot.web.public.errors")
    async with SiteClient(TestServer(app, host="127.0.0.1")) as client:
        resp = await client.get("/items/1")
        await error_page(resp, 500, "服务器内部错误", "已记录日志")
        assert resp.headers["Cache-Control"] == "no-cache"
        assert "Content-Security-Policy" in resp.headers
    (record,) = [r for r in caplog.records if "public page failed" in r.getMessage()]
    assert "GET /items/1" in record.getMessage()
    assert record.exc_info is not None and "the item builder broke" in str(record.exc_info[1])


async def test_the_api_and_the_console_keep_their_own_errors(client: Client) -> None:
    resp = await client.get("/api/v1/nowhere")
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"
    resp = await client.post("/api/v1/openapi.json")
    assert resp.status == 405 and (await resp.json())["error"]["code"] == "method_not_allowed"
    resp = await client.get("/console/nowhere", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/console/login?next=")
    resp = await client.delete("/console/login")
    page = await resp.text()
    assert resp.status == 405 and "GET" in resp.headers["Allow"]
    assert '<header class="site">' not in page and "请求方式不受支持" in page
