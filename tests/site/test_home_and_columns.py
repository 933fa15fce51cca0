"""The home page and the column pages over real HTTP (issue 23): what the home page lists and
shows from [site], column pages that page, filter by year, kind and validity and refuse bad
parameters in Chinese, and both served from what was built (no query on a second request)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import db
from bot.config import Config
from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from bot.web.keys import SITE
from tests.conftest import Staff, create_staff, make_config
from tests.web.conftest import SiteClient, build_app, run_dispatcher, site_caught_up
from tests.web.public.test_pages import check_html

Client = TestClient[web.Request, web.Application]
THIS_YEAR = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).year
SITE_KEYS = {
    "agency": "上海市某某管理局",
    "logo": "/assets/logo.png",
    "site_code": "3100000099",
    "icp": "沪ICP备12345678号",
    "police_record": "沪公网安备 31010102000001号",
    "party_gov_mark_image": "https://bszs.conac.cn/mark.png",
    "party_gov_mark_url": "https://bszs.conac.cn/sitename?id=1",
    "application_url": "https://zwgk.example.gov.cn/apply",
    "error_report_url": "https://zfwzzc.www.gov.cn/check_web/errorInfo?site=3100000099",
    "guide": "/columns/notice",
    "rules": "/items/1",
    "annual_reports": "https://example.gov.cn/reports",
    "home_items": 2,
    "page_size": 5,
}
# A column holding two kinds, so that its page filters by kind and (policies) by validity.
COLUMNS = {
    "docs": {"name": "文件", "kinds": ["policy", "notice"]},
    "notice": {"name": "通知公告", "kinds": ["notice"]},
    "interpretation": {"name": "政策解读", "kinds": ["interpretation"]},
    "consultation": {"name": "意见征集", "kinds": ["consultation"]},
}
POLICY = {"kind": "policy", "written_on": "2026-01-05", "topic": "综合政务"}


@pytest.fixture
async def sited(sqlite_url: str) -> AsyncIterator[Config]:
    cfg = make_config(sqlite_url, site=SITE_KEYS, columns=COLUMNS)
    await db.init(cfg, check_schema=False)
    await db.upgrade()
    yield cfg
    await db.close()


@pytest.fixture
async def sited_staff(sited: Config) -> Staff:
    return await create_staff()


@pytest.fixture
async def sited_client(sited: Config) -> AsyncIterator[Client]:
    async with SiteClient(TestServer(build_app(sited), host="127.0.0.1")) as client:
        yield client


async def page_text(client: Client, path: str, status: int = 200) -> tuple[str, str]:
    resp = await client.get(path)
    page = await resp.text()
    assert resp.status == status, (path, page[:400])
    return page, " ".join(check_html(page).split())


def item_links(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="[^"]*/items/(\d+)"', page)]


async def test_home_lists_the_newest_items_of_each_column_and_links_to_the_columns(
    sited: Config, sited_staff: Staff, sited_client: Client
) -> None:
    publish = _publisher(sited, sited_staff)
    notices = [await publish(title=f"第{n}号通知", column="notice") for n in range(3)]
    asked = await publish(title="关于征求意见的公告", kind="consultation", column="consultation")
    page, text = await page_text(sited_client, "/")
    # [site] home_items = 2: the two newest notices, newest first; the oldest only on its column
    shown = item_links(page[page.index('id="latest-heading"') :])
    assert shown == [notices[2].id, notices[1].id, asked.id]
    assert notices[0].id not in shown and asked.id in shown
    for label in ("政府信息公开", "法定主动公开内容", "最新信息", "政民互动", "本栏目暂无信息"):
        assert label in text, label
    for path in ("/columns/docs", "/columns/notice", "/feedback", "/feedback/status", "/qa"):
        assert f'href="http://127.0.0.1:8080{path}"' in page, path
    assert "更多通知公告" in text


async def test_home_shows_the_configured_agency_links_and_footer_records(
    sited_client: Client,
) -> None:
    page, text = await page_text(sited_client, "/")
    assert "<h1>上海市某某管理局政府信息公开</h1>" in page
    assert '<img class="logo" src="http://127.0.0.1:8080/assets/logo.png" alt="">' in page
    assert "主办单位：上海市某某管理局" in text and "网站标识码：3100000099" in text
    assert '<a href="https://beian.miit.gov.cn/">沪ICP备12345678号</a>' in page
    assert "https://beian.mps.gov.cn/#/query/webSearch?code=31010102000001" in page
    assert 'alt="党政机关网站标识"' in page and "https://bszs.conac.cn/sitename?id=1" in page
    for label, href in (
        ("依申请公开", "https://zwgk.example.gov.cn/apply"),
        ("我为政府网站找错", "https://zfwzzc.www.gov.cn/check_web/errorInfo?site=3100000099"),
        ("政府信息公开指南", "http://127.0.0.1:8080/columns/notice"),
        ("政府信息公开制度", "http://127.0.0.1:8080/items/1"),
        ("政府信息公开工作年度报告", "https://example.gov.cn/reports"),
    ):
        assert f'<a href="{href}">{label}</a>' in page, label
    assert "决策公开" not in text  # not configured: not shown
    assert "<title>首页 - 上海市某某管理局</title>" in page


async def test_without_site_keys_nothing_unset_is_shown(client: Client) -> None:
    page, text = await page_text(client, "/")
    for absent in ("网站标识码", "ICP", "公安备案", "党政机关网站标识", "依申请公开", "找错"):
        assert absent not in text, absent
    assert "主办单位：公开" in text and 'class="logo"' not in page
    assert "网站地图" in text and 'action="http://127.0.0.1:8080/search"' in page  # 一网通查


async def test_column_pages_page_newest_first_with_title_number_and_date(
    sited: Config, sited_staff: Staff, sited_client: Client
) -> None:
    publish = _publisher(sited, sited_staff)
    made = [
        await publish(title=f"第{n}批事项的通知", column="notice", doc_number=f"沪某〔2026〕{n}号")
        for n in range(1, 7)
    ]
    first, text = await page_text(sited_client, "/columns/notice")
    assert item_links(first) == [i.id for i in reversed(made)][:5]  # page_size = 5
    assert "共 6 条，第 1/2 页" in text and "沪某〔2026〕6号" in text
    assert f"{THIS_YEAR}-" in text and '<th scope="col">文号</th>' in first
    assert 'rel="next" href="http://127.0.0.1:8080/columns/notice?page=2"' in first
    assert '<link rel="canonical" href="http://127.0.0.1:8080/columns/notice">' in first
    second, text = await page_text(sited_client, "/columns/notice?page=2")
    assert item_links(second) == [made[0].id] and "第 2/2 页" in text
    assert '<link rel="canonical" href="http://127.0.0.1:8080/columns/notice?page=2">' in second
    # The column's own feeds, linked and announced for discovery.
    for fmt, kind in (("atom", "application/atom+xml"), ("rss", "application/rss+xml")):
        url = f"http://127.0.0.1:8080/feeds/notice.{fmt}"
        assert f'<link rel="alternate" type="{kind}" title="通知公告（' in first
        assert f'href="{url}"' in first
    await page_text(sited_client, "/columns/notice?page=3", 404)


async def test_column_pages_filter_by_year_kind_and_validity(
    sited: Config, sited_staff: Staff, sited_client: Client
) -> None:
    publish = _publisher(sited, sited_staff)
    policy = await publish(title="某某管理办法", column="docs", **POLICY)
    repealed = await publish(title="旧的管理办法", column="docs", **POLICY)
    notice = await publish(title="关于办法实施的通知", column="docs")
    await lifecycle.set_validity(repealed.id, sited_staff.reviewer, "repealed", "已被新办法取代")
    everything, text = await page_text(sited_client, "/columns/docs")
    assert set(item_links(everything)) == {policy.id, repealed.id, notice.id}
    assert "（已废止）" in text and 'id="filter-kind"' in everything
    assert 'id="filter-validity"' in everything and f'<option value="{THIS_YEAR}">' in everything
    cases: list[tuple[str, set[int]]] = [
        (f"year={THIS_YEAR}", {policy.id, repealed.id, notice.id}),
        ("year=2001", set()),
        ("kind=policy", {policy.id, repealed.id}),
        ("kind=notice", {notice.id}),
        ("validity=repealed", {repealed.id}),
        ("validity=valid", {policy.id, notice.id}),
        (f"kind=policy&validity=valid&year={THIS_YEAR}", {policy.id}),
        ("year=&kind=&validity=", {policy.id, repealed.id, notice.id}),  # the form's 全部
    ]
    for query, expected in cases:
        page, text = await page_text(sited_client, f"/columns/docs?{query}")
        assert set(item_links(page)) == expected, query
        if not expected:
            assert "没有符合筛选条件的信息" in text
    # The notice column holds one kind and no policies: no kind or validity filter to offer.
    page, _ = await page_text(sited_client, "/columns/notice")
    assert 'id="filter-kind"' not in page and 'id="filter-validity"' not in page


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("page=0", "参数「页码」（page）应为正整数（收到「0」）"),
        ("page=abc", "参数「页码」（page）应为正整数"),
        ("page=-1", "参数「页码」"),
        ("year=99", "参数「年份」（year）应为四位数的年份"),
        ("year=1800", "参数「年份」"),
        ("kind=wechat", "参数「类别」（kind）应为本栏目的类别之一：policy（政策文件）"),
        ("kind=interpretation", "参数「类别」"),
        ("validity=maybe", "参数「有效性」（validity）应为以下之一：valid（有效）"),
        ("validity=%00", "参数「有效性」"),
    ],
)
async def test_bad_column_parameters_are_a_chinese_400_naming_them(
    sited_client: Client, query: str, named: str
) -> None:
    _, text = await page_text(sited_client, f"/columns/docs?{query}", 400)
    assert named in text and "返回文件" in text


async def test_an_unknown_column_or_a_page_past_the_last_is_a_chinese_404(
    sited_client: Client,
) -> None:
    for path in ("/columns/nosuch", "/columns/policy", "/columns/docs?page=2", "/columns/"):
        _, text = await page_text(sited_client, path, 404)
        assert "页面不存在" in text, path


async def test_home_and_column_pages_are_served_from_what_was_built(
    sited: Config, sited_staff: Staff, sited_client: Client
) -> None:
    publish = _publisher(sited, sited_staff)
    item = await publish(title="关于缓存的通知", column="notice")
    paths = ("/", "/columns/notice", "/columns/notice?year=" + str(THIS_YEAR), "/sitemap")
    for path in paths:
        assert (await sited_client.get(path)).status == 200
    site = sited_client.app[SITE]
    builds = site.cache.builds
    await db.close()  # no query can be made now: the pages come from memory
    try:
        for path in paths:
            async with sited_client.session.get(sited_client.make_url(path)) as resp:
                assert resp.status == 200, path
                assert "关于缓存的通知" in await resp.text() or path == "/sitemap"
        assert site.cache.builds == builds
    finally:
        await db.init(sited, check_schema=False)
    await site_caught_up(sited_client.app)
    # A new item is a site change: the pages are built again and show it.
    newer = await publish(title="关于缓存更新的通知", column="notice")
    page, _ = await page_text(sited_client, "/columns/notice")
    assert item_links(page) == [newer.id, item.id]


def _publisher(config: Config, staff: Staff) -> Any:
    """Publish through the lifecycle and the dispatcher (tests/web/conftest.py's publish, for
    a configuration of this module's own)."""

    async def publish(**fields: Any) -> Any:
        data: dict[str, Any] = {
            "kind": "notice",
            "title": "关于开展政务公开工作的通知",
            "body": "各处室：请做好政务公开工作。",
            "office": "办公室",
        }
        data.update(fields)
        item = await lifecycle.create_item(ItemCreate.model_validate(data), staff.editor, config)
        if item.kind == "policy":
            reading = {
                "kind": "interpretation",
                "title": f"《{item.title}》解读",
                "body": "解读正文",
                "related_id": item.id,
                "interpretation_forms": ["图解"],
            }
            await lifecycle.create_item(ItemCreate.model_validate(reading), staff.editor, config)
        outcome = await lifecycle.submit(item.id, staff.editor, config)
        assert not [f for f in outcome.findings if f.blocks], outcome.findings
        await lifecycle.approve(item.id, staff.reviewer, config)
        await run_dispatcher(config)
        return item

    return publish
