"""The public website over real HTTP: feeds in three formats per column and for all, item
pages, conditional GET, retraction (410) and what must stay hidden (404)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import feedparser
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.config import Config
from bot.items import lifecycle
from bot.items.schemas import ItemCreate, ItemPatch
from bot.models import Delivery, Item, Kind
from bot.web.keys import SITE
from tests.conftest import Staff, make_config
from tests.web.conftest import Publish, build_app, run_dispatcher

XML_TYPES = {"atom": "application/atom+xml", "rss": "application/rss+xml"}
SHANGHAI = ZoneInfo("Asia/Shanghai")
VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}


class _Structure(HTMLParser):
    """A small HTML5 structure check: doctype first, every non-void element closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.doctype = ""
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.lang = ""
        self.text: list[str] = []

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html":
            self.lang = dict(attrs).get("lang") or ""
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <img ... /> as markdown-it writes it: a void element's optional slash, no end tag.
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_html(page: str) -> str:
    """Assert the page is a well-formed zh-CN HTML5 document; return its visible text."""
    parser = _Structure()
    parser.feed(page)
    parser.close()
    assert parser.doctype.lower() == "doctype html"
    assert parser.lang == "zh-CN"
    assert parser.errors == [] and parser.stack == [], (parser.errors, parser.stack)
    return "".join(parser.text)


async def fetch_feed(client: TestClient[Any, Any], path: str) -> tuple[Any, dict[str, str]]:
    """GET a feed, check its content type, and parse it (feedparser for XML, JSON for .json)."""
    resp = await client.get(path)
    assert resp.status == 200, path
    body = await resp.read()
    fmt = path.rsplit(".", 1)[1]
    if fmt == "json":
        assert resp.headers["Content-Type"] == "application/feed+json; charset=utf-8"
        return json.loads(body), dict(resp.headers)
    assert resp.headers["Content-Type"] == f"{XML_TYPES[fmt]}; charset=utf-8"
    parsed = feedparser.parse(body)
    assert not parsed.bozo, (path, parsed.get("bozo_exception"))
    return parsed, dict(resp.headers)


def http_date(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def entry_titles(doc: Any) -> list[str]:
    if isinstance(doc, dict):
        return [i["title"] for i in doc["items"]]
    return [e.title for e in doc.entries]


async def test_approved_item_reaches_every_feed_and_its_public_page_end_to_end(
    config: Config, staff: Staff, client: TestClient[Any, Any]
) -> None:
    data = ItemCreate(
        kind=Kind.NOTICE,
        title="关于开展2021年政务公开工作的通知",
        office="办公室",
        doc_number="沪金管〔2021〕1号",
        summary="政务公开工作安排",
        body="各处室：\n\n请按照**工作要点**做好政务公开工作。",
    )
    item = await lifecycle.create_item(data, staff.editor, config)
    await lifecycle.submit(item.id, staff.editor, config)
    await lifecycle.approve(item.id, staff.reviewer, config)
    assert await run_dispatcher(config) == 1
    delivery = await Delivery.get(item_id=item.id, channel="feed")
    assert delivery.status == "done" and delivery.finished_at is not None
    link = f"{config.app.public_base_url}/items/{item.id}"

    for column in ("all", "notice"):
        for fmt in ("atom", "rss"):
            parsed, _ = await fetch_feed(client, f"/feeds/{column}.{fmt}")
            assert parsed.feed.language == "zh-CN"
            assert len(parsed.entries) == 1
            entry = parsed.entries[0]
            assert entry.title == data.title
            assert entry.link == link
            assert "<strong>工作要点</strong>" in entry.content[0].value
            assert entry.published_parsed is not None
        doc, _ = await fetch_feed(client, f"/feeds/{column}.json")
        assert doc["version"] == "https://jsonfeed.org/version/1.1"
        assert doc["feed_url"] == f"{config.app.public_base_url}/feeds/{column}.json"
        assert [(i["title"], i["url"], i["id"]) for i in doc["items"]] == [(data.title, link, link)]
        assert datetime.fromisoformat(doc["items"][0]["date_published"]) == delivery.finished_at

    resp = await client.get(f"/items/{item.id}")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    page = await resp.text()
    text = check_html(page)
    assert f"<h1>{data.title}</h1>" in page
    assert "<strong>工作要点</strong>" in page
    assert "沪金管〔2021〕1号" in text and "办公室" in text and "通知公告" in text
    local_day = delivery.finished_at.astimezone(SHANGHAI).strftime("%Y-%m-%d")
    assert f"发布日期{local_day}" in text.replace("\n", "")


async def test_feed_answers_304_to_its_validators_and_200_with_new_etag_after_new_item(
    publish: Publish, client: TestClient[Any, Any]
) -> None:
    await publish(title="第一条通知")
    for path in ("/feeds/all.atom", "/feeds/notice.rss", "/feeds/all.json"):
        first = await client.get(path)
        assert first.status == 200
        etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]

        by_etag = await client.get(path, headers={"If-None-Match": etag})
        assert by_etag.status == 304
        assert await by_etag.read() == b""
        assert by_etag.headers["ETag"] == etag
        by_date = await client.get(path, headers={"If-Modified-Since": last_modified})
        assert by_date.status == 304
        assert await by_date.read() == b""
        other = await client.get(path, headers={"If-None-Match": '"something-else"'})
        assert other.status == 200

    before = await client.get("/feeds/all.atom")
    old_etag = before.headers["ETag"]
    await publish(title="第二条通知")
    after = await client.get("/feeds/all.atom", headers={"If-None-Match": old_etag})
    assert after.status == 200
    assert after.headers["ETag"] != old_etag
    parsed = feedparser.parse(await after.read())
    assert [e.title for e in parsed.entries] == ["第二条通知", "第一条通知"]
    newer = await client.get("/feeds/all.atom", headers={"If-None-Match": after.headers["ETag"]})
    assert newer.status == 304


async def test_item_page_answers_304_to_its_etag(
    publish: Publish, client: TestClient[Any, Any]
) -> None:
    item = await publish()
    first = await client.get(f"/items/{item.id}")
    assert first.status == 200
    again = await client.get(f"/items/{item.id}", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status == 304 and await again.read() == b""
    since = await client.get(
        f"/items/{item.id}", headers={"If-Modified-Since": first.headers["Last-Modified"]}
    )
    assert since.status == 304


async def test_retracted_item_leaves_every_feed_and_its_page_answers_410_with_the_date(
    config: Config,
    publish: Publish,
    retract: Callable[[int], Awaitable[Item]],
    client: TestClient[Any, Any],
) -> None:
    kept = await publish(title="保留的通知")
    gone = await publish(title="将被撤稿的通知")
    before = await client.get("/feeds/all.atom")
    old_etag = before.headers["ETag"]
    assert "将被撤稿的通知" in entry_titles(feedparser.parse(await before.read()))

    item = await retract(gone.id)
    assert item.status == "retracted" and item.retracted_at is not None
    retraction = await Delivery.get(item_id=gone.id, channel="feed", action="retract")
    assert retraction.status == "done"

    for column in ("all", "notice"):
        for fmt in ("atom", "rss", "json"):
            doc, _ = await fetch_feed(client, f"/feeds/{column}.{fmt}")
            assert entry_titles(doc) == ["保留的通知"], (column, fmt)
    # A client holding the old validators must get the new list, not 304.
    changed = await client.get("/feeds/all.atom", headers={"If-None-Match": old_etag})
    assert changed.status == 200
    resp = await client.get("/items/" + str(gone.id))
    assert resp.status == 410
    page = await resp.text()
    text = check_html(page)
    assert "撤稿" in text
    assert item.retracted_at.astimezone(SHANGHAI).strftime("%Y年%m月%d日") in text
    assert "将被撤稿的通知" not in page and "工作要点" not in page
    still = await client.get(f"/items/{kept.id}")
    assert still.status == 200


async def test_retraction_moves_feed_last_modified_for_if_modified_since_clients(
    publish: Publish, retract: Callable[[int], Awaitable[Item]], client: TestClient[Any, Any]
) -> None:
    first = await publish(title="先发布的通知")
    await publish(title="后发布的通知")
    # Both went out an hour ago and the site's templates are older (test setup), so the
    # retraction is clearly later.
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    await Delivery.filter(channel="feed").update(finished_at=hour_ago)
    client.app[SITE].epoch = hour_ago - timedelta(days=1)  # as if deployed the day before
    before = await client.get("/feeds/all.rss")
    assert before.headers["Last-Modified"] == http_date(hour_ago)

    await retract(first.id)
    retracted = await Item.get(id=first.id)
    assert retracted.retracted_at is not None
    # A client that only sends If-Modified-Since must not be told to keep the retracted entry.
    resp = await client.get(
        "/feeds/all.rss", headers={"If-Modified-Since": before.headers["Last-Modified"]}
    )
    assert resp.status == 200
    assert resp.headers["Last-Modified"] == http_date(retracted.retracted_at)
    assert entry_titles(feedparser.parse(await resp.read())) == ["后发布的通知"]


async def test_item_not_published_on_the_feed_is_404(
    config: Config, staff: Staff, client: TestClient[Any, Any]
) -> None:
    draft = await lifecycle.create_item(
        ItemCreate(kind=Kind.NOTICE, title="草稿通知", body="正文"), staff.editor, config
    )
    approved = await lifecycle.create_item(
        ItemCreate(kind=Kind.NOTICE, title="已批准未发送", body="正文"), staff.editor, config
    )
    await lifecycle.submit(approved.id, staff.editor, config)
    await lifecycle.approve(approved.id, staff.reviewer, config)  # no dispatcher run
    for item in (draft, approved):
        resp = await client.get(f"/items/{item.id}")
        assert resp.status == 404
        page = await resp.text()
        assert "页面不存在" in check_html(page)
        assert item.title not in page
    doc, _ = await fetch_feed(client, "/feeds/all.atom")
    assert entry_titles(doc) == []


@pytest.mark.parametrize(
    "path",
    [
        "/items/999",
        "/items/abc",
        "/items/1.5",
        "/items/-1",
        "/items/" + "9" * 40,
        "/items/١",  # int() reads this Arabic-Indic digit as 1, the item that exists
        "/feeds/nosuch.atom",
        "/feeds/nosuch.rss",
        "/feeds/nosuch.json",
        "/feeds/all.xml",
        "/feeds/notice.html",
    ],
)
async def test_unknown_item_id_or_feed_column_or_format_is_404(
    path: str, publish: Publish, client: TestClient[Any, Any]
) -> None:
    await publish()  # item #1 and every feed exist: only the path is wrong
    resp = await client.get(path)
    assert resp.status == 404
    assert "页面不存在" in await resp.text()


async def test_column_feed_contains_only_items_of_its_column(
    publish: Publish, client: TestClient[Any, Any]
) -> None:
    await publish(title="一条通知公告")
    await publish(kind="policy", column="policy", title="一份政策文件")
    await publish(kind="consultation", column="consultation", title="一项意见征集")
    for fmt in ("atom", "rss", "json"):
        notice, _ = await fetch_feed(client, f"/feeds/notice.{fmt}")
        policy, _ = await fetch_feed(client, f"/feeds/policy.{fmt}")
        interpretation, _ = await fetch_feed(client, f"/feeds/interpretation.{fmt}")
        everything, _ = await fetch_feed(client, f"/feeds/all.{fmt}")
        assert entry_titles(notice) == ["一条通知公告"]
        assert entry_titles(policy) == ["一份政策文件"]
        assert entry_titles(interpretation) == []
        assert entry_titles(everything) == ["一项意见征集", "一份政策文件", "一条通知公告"]


async def test_feed_holds_at_most_entries_per_feed_newest_first(
    sqlite_url: str, publish: Publish
) -> None:
    small = make_config(sqlite_url, channels={"feed": {"entries_per_feed": 2}})
    for n in range(3):
        await publish(title=f"通知{n}")
    async with TestClient(TestServer(build_app(small), host="127.0.0.1")) as client:
        doc, _ = await fetch_feed(client, "/feeds/all.atom")
    assert entry_titles(doc) == ["通知2", "通知1"]


async def test_feed_and_page_show_the_newest_published_version_after_an_edit(
    config: Config, staff: Staff, publish: Publish, client: TestClient[Any, Any]
) -> None:
    item = await publish(title="原标题")
    first_done = await Delivery.get(item_id=item.id, channel="feed")
    await lifecycle.edit_item(item.id, ItemPatch(title="修改后的标题"), staff.editor, config)
    # Until the new version is approved and published, the public keeps the old one.
    doc, _ = await fetch_feed(client, "/feeds/all.json")
    assert entry_titles(doc) == ["原标题"]
    await lifecycle.submit(item.id, staff.editor, config)
    await lifecycle.approve(item.id, staff.reviewer, config)
    await run_dispatcher(config)

    doc, _ = await fetch_feed(client, "/feeds/all.json")
    assert entry_titles(doc) == ["修改后的标题"]
    entry = doc["items"][0]
    assert datetime.fromisoformat(entry["date_published"]) == first_done.finished_at
    assert datetime.fromisoformat(entry["date_modified"]) > first_done.finished_at
    page = await (await client.get(f"/items/{item.id}")).text()
    assert "修改后的标题" in page and "原标题" not in page


async def test_page_escapes_markup_in_title_and_body(
    publish: Publish, client: TestClient[Any, Any]
) -> None:
    item = await publish(
        title="<script>alert(1)</script>标题", body='正文<img src=x onerror="alert(2)">结束'
    )
    page = await (await client.get(f"/items/{item.id}")).text()
    check_html(page)
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;标题" in page
    assert "&lt;img src=x" in page


async def test_enforcement_page_shows_structured_fields_table(
    publish: Publish, client: TestClient[Any, Any]
) -> None:
    item = await publish(
        kind="enforcement",
        column="enforcement",
        title="行政处罚决定公示",
        body="依法作出处罚。",
        enforcement={
            "authority": "上海市地方金融监督管理局",
            "target": "某小额贷款公司",
            "target_type": "legal_person",
            "category": "行政处罚",
            "facts": "未按规定报送统计数据",
            "basis": "《上海市地方金融监督管理条例》第四十一条",
            "decision": "警告并罚款人民币五万元",
            # decided today: well within the 7-working-day publication deadline
            "decision_date": datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat(),
            "document_number": "沪金罚〔2021〕3号",
        },
    )
    resp = await client.get(f"/items/{item.id}")
    assert resp.status == 200
    page = await resp.text()
    text = check_html(page)
    assert "<th>执法机关</th><td>上海市地方金融监督管理局</td>" in page
    assert "<th>处理决定</th><td>警告并罚款人民币五万元</td>" in page
    assert "行政执法公示" in text and "依法作出处罚。" in text
    doc, _ = await fetch_feed(client, "/feeds/enforcement.atom")
    assert "某小额贷款公司" in doc.entries[0].content[0].value


async def test_feeds_link_to_the_site_and_atom_names_an_author_for_entries_without_office(
    config: Config, publish: Publish, client: TestClient[Any, Any]
) -> None:
    await publish(office="", title="无处室的通知")
    site = f"{config.app.public_base_url}/"
    rss, _ = await fetch_feed(client, "/feeds/all.rss")
    assert rss.feed.link == site  # RSS <channel><link> is the site, not the feed document
    atom, _ = await fetch_feed(client, "/feeds/all.atom")
    assert atom.feed.link == site
    self_links = [ln.href for ln in atom.feed.links if ln.rel == "self"]
    assert self_links == [f"{config.app.public_base_url}/feeds/all.atom"]
    # RFC 4287: without an author on the entry, the feed must carry one.
    assert "author" not in atom.entries[0] or atom.entries[0].author == config.channels.feed.title
    assert atom.feed.author == config.channels.feed.title


async def test_policy_and_interpretation_pages_link_to_each_other(
    config: Config, staff: Staff, publish: Publish, client: TestClient[Any, Any]
) -> None:
    policy = await lifecycle.create_item(
        ItemCreate.model_validate(
            {
                "kind": "policy",
                "column": "policy",
                "title": "关于促进融资租赁发展的若干意见",
                "body": "第一条 为促进融资租赁行业健康发展，制定本意见。",
                "office": "法规处",
                "written_on": "2026-03-02",
                "topic": "财政、金融、审计",
            }
        ),
        staff.editor,
        config,
    )
    reading = await lifecycle.create_item(
        ItemCreate.model_validate(
            {
                "kind": "interpretation",
                "column": "interpretation",
                "title": "《关于促进融资租赁发展的若干意见》图解",
                "body": "一图读懂：意见明确了支持融资租赁企业服务实体经济的三项举措。",
                "related_id": policy.id,
                "interpretation_forms": ["图解"],
            }
        ),
        staff.editor,
        config,
    )
    for item in (policy, reading):
        await lifecycle.submit(item.id, staff.editor, config)
        await lifecycle.approve(item.id, staff.reviewer, config)
    await run_dispatcher(config)

    policy_page = await (await client.get(f"/items/{policy.id}")).text()
    reading_page = await (await client.get(f"/items/{reading.id}")).text()
    assert f'/items/{reading.id}">《关于促进融资租赁发展的若干意见》图解</a>' in policy_page
    assert f'/items/{policy.id}">关于促进融资租赁发展的若干意见</a>' in reading_page

    # A draft edit of the interpretation (new title, unlinked) is nothing public until it is
    # published: rebuilt pages (another item's publication changes the site) still show the
    # published link and title.
    draft = ItemPatch.model_validate({"title": "草稿中的新标题", "related_id": None})
    await lifecycle.edit_item(reading.id, draft, staff.editor, config)
    await publish(title="另一条通知")
    policy_page = await (await client.get(f"/items/{policy.id}")).text()
    assert f'/items/{reading.id}">《关于促进融资租赁发展的若干意见》图解</a>' in policy_page
    assert "草稿中的新标题" not in policy_page


async def test_repealed_policy_is_marked_on_its_page_and_in_feeds(
    config: Config, staff: Staff, publish: Publish, client: TestClient[Any, Any]
) -> None:
    item = await publish(kind="policy", column="policy", title="关于规范小额贷款公司经营的通知")
    before = await client.get("/feeds/policy.atom")
    etag = before.headers["ETag"]
    await lifecycle.set_validity(item.id, staff.reviewer, "repealed", "已被新规定替代")

    page = await (await client.get(f"/items/{item.id}")).text()
    assert "本文件已废止" in page
    resp = await client.get("/feeds/policy.atom", headers={"If-None-Match": etag})
    assert resp.status == 200  # the marking changes the feed
    doc = feedparser.parse(await resp.read())
    assert doc.entries[0].title == "关于规范小额贷款公司经营的通知（已废止）"
    with pytest.raises(lifecycle.InvalidItem, match="只有政策文件"):
        notice = await publish(title="一条通知")
        await lifecycle.set_validity(notice.id, staff.reviewer, "repealed", "")
