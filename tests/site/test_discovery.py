"""How the public site is found and shared (issue 23): sitemap.xml read with an XML parser
lists exactly the public items (not drafts, not retracted ones) and every public page with a
lastmod; robots.txt points to it; the favicon answers; every public page names its canonical
address; item pages carry the description and Open Graph tags; and the shown configuration is
part of the page bytes."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from html.parser import HTMLParser
from xml.etree import ElementTree

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import users
from bot.config import Config
from bot.inbox import qa
from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from bot.models import Item
from tests.conftest import Staff, add_test_user, make_config
from tests.inbox.test_qa import answered
from tests.web.conftest import Publish, SiteClient, build_app
from tests.web.public.test_pages import check_html

Client = TestClient[web.Request, web.Application]
BASE = "http://127.0.0.1:8080"
NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}
# W3C Datetime with seconds and a zone, as the sitemaps.org protocol takes it.
W3C = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:Z|[+-]\d\d:\d\d)")


class _Head(HTMLParser):
    """The <link> and <meta> elements of a page, as an HTML parser sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[dict[str, str]] = []
        self.metas: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "link":
            self.links.append(values)
        elif tag == "meta":
            self.metas.append(values)


def head_of(page: str) -> _Head:
    parser = _Head()
    parser.feed(page)
    parser.close()
    return parser


def canonicals(page: str) -> list[str]:
    return [link["href"] for link in head_of(page).links if link.get("rel") == "canonical"]


def meta(page: str, attribute: str, name: str) -> list[str]:
    return [m.get("content", "") for m in head_of(page).metas if m.get(attribute) == name]


async def sitemap(client: Client) -> dict[str, str]:
    """sitemap.xml as an XML parser reads it: each <loc> and its <lastmod>."""
    resp = await client.get("/sitemap.xml")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/xml; charset=utf-8"
    root = ElementTree.fromstring(await resp.read())
    assert root.tag == "{http://www.sitemaps.org/schemas/sitemap/0.9}urlset"
    out = {}
    for url in root.findall("sm:url", NS):
        loc = url.findtext("sm:loc", namespaces=NS)
        lastmod = url.findtext("sm:lastmod", namespaces=NS)
        assert loc and lastmod and W3C.fullmatch(lastmod), (loc, lastmod)
        assert loc not in out, f"{loc} listed twice"
        out[loc] = lastmod
    return out


def items_in(urls: dict[str, str]) -> set[int]:
    return {int(u.rsplit("/", 1)[1]) for u in urls if u.startswith(f"{BASE}/items/")}


async def test_sitemap_lists_exactly_the_public_items_not_drafts_nor_retracted_ones(
    config: Config,
    staff: Staff,
    publish: Publish,
    retract: Callable[[int], Awaitable[Item]],
    client: Client,
) -> None:
    kept = await publish(title="关于保留的通知")
    policy = await publish(
        title="某某管理办法", kind="policy", written_on="2026-01-05", topic="综合政务"
    )
    gone = await publish(title="关于撤稿的通知")
    draft = await lifecycle.create_item(
        ItemCreate(kind="notice", title="草稿通知", body="草稿"), staff.editor, config
    )
    submitted = await lifecycle.create_item(
        ItemCreate(kind="notice", title="待审通知", body="待审"), staff.editor, config
    )
    await lifecycle.submit(submitted.id, staff.editor, config)
    await retract(gone.id)
    urls = await sitemap(client)
    # The policy's interpretation was created by publish() but never published: a draft too.
    assert items_in(urls) == {kept.id, policy.id}
    assert draft.id not in items_in(urls) and submitted.id not in items_in(urls)
    expected_pages = {
        f"{BASE}/",
        f"{BASE}/sitemap",
        f"{BASE}/qa",
        f"{BASE}/feedback",
        f"{BASE}/faq",
        *(f"{BASE}/columns/{c}" for c in config.columns),
    }
    assert expected_pages <= set(urls)
    assert set(urls) - expected_pages == {f"{BASE}/items/{kept.id}", f"{BASE}/items/{policy.id}"}
    # Every address listed answers 200.
    for url in urls:
        assert (await client.get(url.removeprefix(BASE))).status == 200, url
    # lastmod follows the content: a validity mark moves the item's, not the other's.
    before = urls[f"{BASE}/items/{policy.id}"]
    await lifecycle.set_validity(policy.id, staff.reviewer, "repealed", "已废止")
    after = await sitemap(client)
    assert after[f"{BASE}/items/{policy.id}"] >= before
    assert after[f"{BASE}/items/{kept.id}"] == urls[f"{BASE}/items/{kept.id}"]


async def test_sitemap_lists_the_selected_qa_entries_but_not_withdrawn_ones(
    config: Config, staff: Staff, client: Client
) -> None:
    await add_test_user("mia", ["moderator"], "Pw-lima-2026", "system:test", office="办公室")
    mod = await users.actor_for_user("mia")
    first = await answered(config, mod, "请问公开目录在哪里查询？", "在网站首页查询。")
    second = await answered(config, mod, "请问如何申请公开？", "请通过依申请公开渠道提交。")
    shown = await qa.select(first.id, mod)
    withdrawn = await qa.select(second.id, mod)
    await qa.withdraw(withdrawn.id, mod, "内容已过时")
    urls = await sitemap(client)
    assert f"{BASE}/qa/{shown.id}" in urls and f"{BASE}/qa/{withdrawn.id}" not in urls
    assert urls[f"{BASE}/qa"] >= urls[f"{BASE}/qa/{shown.id}"]


async def test_robots_txt_points_to_the_sitemap_and_keeps_out_the_console_and_api(
    client: Client,
) -> None:
    resp = await client.get("/robots.txt")
    assert resp.status == 200 and resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    lines = (await resp.text()).splitlines()
    assert lines[0] == "User-agent: *"
    assert {"Disallow: /console", "Disallow: /api", "Disallow: /search"} <= set(lines)
    assert f"Sitemap: {BASE}/sitemap.xml" in lines
    assert not any(line == "Disallow: /" for line in lines)


async def test_the_favicon_answers_as_an_icon_and_as_svg(client: Client) -> None:
    resp = await client.get("/favicon.ico")
    body = await resp.read()
    assert resp.status == 200 and resp.headers["Content-Type"] == "image/x-icon"
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO header: reserved 0, type 1 (icon)
    svg = await client.get("/assets/favicon.svg")
    assert svg.status == 200 and svg.headers["Content-Type"] == "image/svg+xml"
    assert "<svg" in await svg.text()
    etag = resp.headers["ETag"]
    again = await client.get("/favicon.ico", headers={"If-None-Match": etag})
    assert again.status == 304
    share = await client.get("/assets/share.png")
    assert share.status == 200 and (await share.read())[:8] == b"\x89PNG\r\n\x1a\n"


async def test_every_public_page_names_its_canonical_address_and_a_description(
    publish: Publish, client: Client
) -> None:
    item = await publish(title="关于规范化的通知")
    pages = {
        "/": f"{BASE}/",
        "/sitemap": f"{BASE}/sitemap",
        "/columns/notice": f"{BASE}/columns/notice",
        "/columns/notice?year=2026&page=1": f"{BASE}/columns/notice?year=2026",
        f"/items/{item.id}": f"{BASE}/items/{item.id}",
        "/qa": f"{BASE}/qa",
        "/feedback": f"{BASE}/feedback",
        "/feedback/status": f"{BASE}/feedback/status",
    }
    for path, canonical in pages.items():
        resp = await client.get(path)
        page = await resp.text()
        assert resp.status == 200, path
        check_html(page)
        assert canonicals(page) == [canonical], path
        (description,) = meta(page, "name", "description")
        assert description.strip(), path
    # An error page names no canonical address.
    assert canonicals(await (await client.get("/nowhere")).text()) == []


async def test_item_pages_carry_open_graph_tags_with_the_first_image_or_the_default(
    publish: Publish, client: Client
) -> None:
    plain = await publish(title="关于分享的通知", summary="分享时显示的摘要。")
    pictured = await publish(
        title="关于带图的通知", body="正文第一段。\n\n![现场照片](/media/photo.png)\n\n第二段。"
    )
    page = await (await client.get(f"/items/{plain.id}")).text()
    assert meta(page, "property", "og:title") == ["关于分享的通知"]
    assert meta(page, "property", "og:description") == ["分享时显示的摘要。"]
    assert meta(page, "name", "description") == ["分享时显示的摘要。"]
    assert meta(page, "property", "og:url") == [f"{BASE}/items/{plain.id}"]
    assert meta(page, "property", "og:image") == [f"{BASE}/assets/share.png"]
    page = await (await client.get(f"/items/{pictured.id}")).text()
    assert meta(page, "property", "og:image") == [f"{BASE}/media/photo.png"]
    (description,) = meta(page, "property", "og:description")
    assert description.startswith("正文第一段。") and "<" not in description


async def test_the_shown_site_configuration_is_part_of_the_page_bytes(
    config: Config, client: Client
) -> None:
    before = await client.get("/")
    assert before.status == 200
    renamed = make_config(
        config.database.url, site={"agency": "某某市某某局", "share_image": "/assets/x.png"}
    )
    async with SiteClient(TestServer(build_app(renamed), host="127.0.0.1")) as other:
        after = await other.get("/")
        assert "主办单位：某某市某某局" in await after.text()
    assert after.headers["ETag"] != before.headers["ETag"]
    assert after.headers["Last-Modified"] >= before.headers["Last-Modified"]
