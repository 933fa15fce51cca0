"""Sources (bot/sources/pull.py): upstream feeds served by a real aiohttp server on 127.0.0.1 become
submitted, pre-reviewed items with the upstream approver recorded; conditional GET, malformed
feeds and entries, entity-laden bodies, upstream edits, restarts and concurrent pulls."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import feedparser
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from bot import db
from bot.config import SOURCE_HTML_TAGS, Config, ConfigError
from bot.items import lifecycle
from bot.items.render import Renderer
from bot.models import AuditEvent, Delivery, Item, ItemStatus, ItemVersion, SourceEntry, User
from bot.sources.html import to_markdown
from bot.sources.pull import pull_all, pull_source
from channels.base import Content
from channels.feed import FeedEntry, FeedMeta, atom, rss
from tests.conftest import Staff, create_staff, make_config

APPROVER = "上海市行政规范性文件库"


@dataclass
class Upstream:
    """A feed server: documents by path, an ETag per document when wanted, and a log."""

    server: TestServer
    docs: dict[str, tuple[bytes, str, str]] = field(default_factory=dict)
    hits: list[tuple[str, int]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    def put(self, path: str, body: bytes | str, etag: str = "", ctype: str = "") -> str:
        data = body.encode() if isinstance(body, str) else body
        self.docs[path] = (data, ctype or "application/atom+xml; charset=utf-8", etag)
        return self.url(path)


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    holder: dict[str, Upstream] = {}

    async def serve(request: web.Request) -> web.StreamResponse:
        up = holder["up"]
        path = request.path
        if path == "/loop":
            raise web.HTTPFound("/loop")
        if path == "/slow":
            await asyncio.sleep(2)
        if path not in up.docs:
            up.hits.append((path, 404))
            raise web.HTTPNotFound()
        body, ctype, etag = up.docs[path]
        if etag and request.headers.get("If-None-Match") == etag:
            up.hits.append((path, 304))
            return web.Response(status=304, headers={"ETag": etag})
        up.hits.append((path, 200))
        headers = {"ETag": etag} if etag else {}
        return web.Response(body=body, headers={**headers, "Content-Type": ctype})

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    holder["up"] = Upstream(server)
    yield holder["up"]
    await server.close()


def atom_feed(*entries: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>上游</title><id>urn:up</id>'
        "<updated>2026-03-01T00:00:00Z</updated>" + "".join(entries) + "</feed>"
    )


def entry(
    key: str,
    title: str | None = "关于调整办事大厅服务时间的通知",
    content: str = "&lt;p&gt;即日起办事大厅服务时间调整为工作日九时至十七时。&lt;/p&gt;",
    updated: str = "2026-03-01T00:00:00Z",
    category: str = "",
    link: str = "",
    title_type: str = "text",
) -> str:
    title_xml = f'<title type="{title_type}">{title}</title>' if title is not None else ""
    cat = f'<category term="{category}"/>' if category else ""
    href = link or f"https://upstream.example.cn/docs/{key}.html"
    return (
        f'<entry><id>urn:doc:{key}</id>{title_xml}<link href="{href}"/>'
        f'<updated>{updated}</updated>{cat}<content type="html">{content}</content></entry>'
    )


def source(url: str, **extra: Any) -> dict[str, Any]:
    return {"name": "gfxwj", "url": url, "approver": APPROVER, **extra}


async def configured(cfg: Config, *sources: dict[str, Any]) -> Config:
    """The test database's config with these [[sources]]."""
    return make_config(cfg.database.url, sources=list(sources))  # type: ignore[arg-type]


async def test_second_pull_with_etag_is_304_and_creates_nothing(
    config: Config, upstream: Upstream
) -> None:
    url = upstream.put("/feed.xml", atom_feed(entry("a"), entry("b", "第二份通知")), etag='"v1"')
    cfg = await configured(config, source(url))

    first = (await pull_all(cfg))[0]
    second = (await pull_all(cfg))[0]

    assert (first.count("new"), first.http_status) == (2, 200)
    assert second.not_modified and second.http_status == 304 and second.entries == []
    assert upstream.hits == [("/feed.xml", 200), ("/feed.xml", 304)]
    assert await Item.all().count() == 2
    assert await SourceEntry.all().count() == 2


async def test_entries_enter_submitted_prereviewed_with_upstream_approver(
    config: Config, upstream: Upstream
) -> None:
    url = upstream.put("/feed.xml", atom_feed(entry("a")))
    cfg = await configured(config, source(url, office="办公室"))

    result = (await pull_all(cfg))[0]

    item = await Item.get(id=result.entries[0].item_id).prefetch_related("author")
    assert result.entries[0].outcome == "new"
    assert item.status == ItemStatus.IN_REVIEW.value  # pre-review passed: awaits our reviewer
    assert item.source == "gfxwj:https://upstream.example.cn/docs/a.html"
    assert (item.kind, item.column, item.office) == ("notice", "notice", "办公室")
    assert item.author.username == "source.gfxwj" and not item.author.active
    version = await ItemVersion.get(item_id=item.id, version=1)
    assert version.approved_by == APPROVER and version.created_by == "source:gfxwj"
    assert version.approved_at == datetime(2026, 3, 1, tzinfo=UTC)
    events = {e.action: e for e in await AuditEvent.filter(target_id=str(item.id))}
    assert {"item.create", "item.submit", "item.prereview_passed", "item.source_import"} <= set(
        events
    )
    assert events["item.source_import"].details["approver"] == APPROVER
    assert events["item.source_import"].details["entry_key"] == "urn:doc:a"


async def test_broken_entries_are_reported_and_good_ones_taken_without_unsafe_content(
    config: Config, upstream: Upstream
) -> None:
    entities = entry(
        "entities",
        "办法 &amp;lt;script&amp;gt; &#x4E2D;",
        "&lt;p&gt;正文 &amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt; &#x4E2D;文"
        "&lt;/p&gt;&lt;script&gt;steal()&lt;/script&gt;",
        title_type="html",
    )
    cdata = entry(
        "cdata",
        "CDATA 条目",
        '<![CDATA[<h2>第一条</h2><p>内容<b>加粗</b><a href="javascript:alert(2)">坏链</a>'
        '<img src="x" onerror="alert(3)"><script>alert(4)</script>'
        '<a href="https://www.gov.cn/">好链</a></p>]]>',
    )
    untitled = entry("untitled", title=None)
    # an unescaped & makes the document malformed (bozo); feedparser's loose parser goes on
    broken = entry("bozo", "含 & 的标题")
    url = upstream.put("/feed.xml", atom_feed(entities, untitled, cdata, broken))
    cfg = await configured(config, source(url))

    result = (await pull_all(cfg))[0]

    assert result.warning  # the bozo reason is reported
    outcomes = {e.entry: e for e in result.entries}
    failed = [e for e in result.entries if e.outcome == "failed"]
    assert len(failed) == 1 and "标题" in failed[0].reason
    assert "urn:doc:untitled" in failed[0].entry or "untitled.html" in failed[0].entry
    assert result.count("new") == 3, outcomes
    items = {i.title: i for i in await Item.all()}
    assert "办法 <script> 中" in items  # the text of an HTML title: entities decoded once
    assert "含 & 的标题" in items
    body = items["办法 <script> 中"].body
    cdata_body = items["CDATA 条目"].body
    for stored in (body, cdata_body):
        assert "<" not in stored  # text angle brackets are stored as entities
        assert "steal" not in stored and "javascript" not in stored
        assert "onerror" not in stored and "alert(4)" not in stored
    assert "中文" in body
    html = Renderer(cfg).body_html(body)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html
    cdata_html = Renderer(cfg).body_html(cdata_body)
    assert "<h2>第一条</h2>" in cdata_html and "<strong>加粗</strong>" in cdata_html
    assert '<a href="https://www.gov.cn/">好链</a>' in cdata_html
    assert "坏链" in cdata_html and "alert" not in cdata_html


async def test_entry_edited_upstream_becomes_a_new_version_not_a_second_item(
    any_config: Config, upstream: Upstream
) -> None:
    staff: Staff = await create_staff()
    url = upstream.put("/feed.xml", atom_feed(entry("a")))
    cfg = await configured(any_config, source(url))
    item_id = (await pull_all(cfg))[0].entries[0].item_id
    assert item_id is not None
    await lifecycle.approve(item_id, staff.reviewer, cfg)

    upstream.put(
        "/feed.xml",
        atom_feed(
            entry(
                "a",
                "关于调整办事大厅服务时间的通知（修订）",
                "&lt;p&gt;服务时间调整为九时至十八时。&lt;/p&gt;",
                updated="2026-03-05T00:00:00Z",
            )
        ),
    )
    result = (await pull_all(cfg))[0]

    assert [e.outcome for e in result.entries] == ["updated"]
    assert await Item.all().count() == 1
    item = await Item.get(id=item_id)
    assert item.version == 2 and item.status == ItemStatus.IN_REVIEW.value
    assert item.title.endswith("（修订）") and "十八时" in item.body
    v2 = await ItemVersion.get(item_id=item_id, version=2)
    assert v2.approved_by == APPROVER
    # the version-1 deliveries that had not gone out were cancelled by the edit
    assert {d.status for d in await Delivery.filter(item_id=item_id)} == {"cancelled"}
    assert await AuditEvent.filter(action="item.source_update", target_id=str(item_id)).count() == 1

    unchanged = (await pull_all(cfg))[0]
    assert [e.outcome for e in unchanged.entries] == ["skipped"]
    assert (await Item.get(id=item_id)).version == 2


async def test_restart_imports_nothing_twice(any_config: Config, upstream: Upstream) -> None:
    url = upstream.put("/feed.xml", atom_feed(entry("a"), entry("b", "第二份通知")))
    cfg = await configured(any_config, source(url))
    await pull_all(cfg)

    # A new process: the connection and every in-memory object are gone; only the database is
    # left. The server sends no validators, so the whole feed comes again, with one new entry.
    await db.close()
    await db.init(cfg)
    upstream.put(
        "/feed.xml", atom_feed(entry("c", "第三份通知"), entry("a"), entry("b", "第二份通知"))
    )
    async with aiohttp.ClientSession() as session:
        result = await pull_source(cfg, cfg.sources[0], session)

    assert sorted(e.outcome for e in result.entries) == ["new", "skipped", "skipped"]
    assert await Item.all().count() == 3
    assert await SourceEntry.all().count() == 3
    assert await User.filter(username="source.gfxwj").count() == 1


async def test_concurrent_pulls_import_each_entry_once(
    any_config: Config, upstream: Upstream
) -> None:
    feed = atom_feed(*(entry(f"e{n}", f"通知第{n}号") for n in range(6)))
    url = upstream.put("/feed.xml", feed)
    cfg = await configured(any_config, source(url))

    async with aiohttp.ClientSession() as session:
        one, two = await asyncio.gather(
            pull_source(cfg, cfg.sources[0], session), pull_source(cfg, cfg.sources[0], session)
        )

    assert one.count("failed") == two.count("failed") == 0
    assert one.count("new") + two.count("new") == 6
    assert one.count("skipped") + two.count("skipped") == 6
    assert await Item.all().count() == 6
    assert await SourceEntry.all().count() == 6


async def test_rules_map_kind_and_column_first_match_wins(
    config: Config, upstream: Upstream
) -> None:
    entries = [
        entry("p", "上海市促进普惠金融发展的实施办法", category="规范性文件"),
        entry("i", "《实施办法》政策解读", category="规范性文件"),
        entry("e", "行政处罚决定书", link="https://upstream.example.cn/zfgs/e.html"),
        entry("n", "其他通知"),
    ]
    url = upstream.put("/feed.xml", atom_feed(*entries))
    cfg = await configured(
        config,
        source(
            url,
            rules=[
                {"title": "解读", "kind": "interpretation"},
                {"category": "规范性文件", "kind": "policy", "office": "政策法规处"},
                {"link": r"/zfgs/", "kind": "enforcement", "column": "enforcement"},
            ],
        ),
    )

    await pull_all(cfg)

    got = {i.title: (i.kind, i.column, i.office) for i in await Item.all()}
    assert got == {
        "上海市促进普惠金融发展的实施办法": ("policy", "policy", "政策法规处"),
        "《实施办法》政策解读": ("interpretation", "interpretation", ""),
        "行政处罚决定书": ("enforcement", "enforcement", ""),
        "其他通知": ("notice", "notice", ""),
    }


async def test_own_rss_output_is_read_with_categories_and_office(
    config: Config, upstream: Upstream
) -> None:
    content = Content(
        item_id=7,
        version=1,
        kind="notice",
        kind_label="通知公告",
        column="notice",
        title="关于开展2026年普惠金融宣传月活动的通知",
        summary="宣传月活动安排",
        html="<p>各区金融工作部门：</p><ol><li>活动时间</li><li>活动内容</li></ol>",
        text="",
        url="https://jrj.example.cn/items/7",
        office="普惠金融处",
    )
    when = datetime(2026, 3, 2, tzinfo=UTC)
    meta = FeedMeta(
        "金融局",
        "",
        "https://jrj.example.cn/feeds/all",
        "https://jrj.example.cn",
        "x",
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    url = upstream.put(
        "/rss", rss(meta, [FeedEntry(content, when, when)]), ctype="application/rss+xml"
    )
    cfg = await configured(
        config, source(url, rules=[{"category": "通知公告", "column": "consultation"}])
    )

    result = (await pull_all(cfg))[0]

    item = await Item.get(id=result.entries[0].item_id)
    assert (item.kind, item.column) == ("notice", "consultation")  # matched by the label
    assert item.body == "各区金融工作部门：\n\n1. 活动时间\n2. 活动内容"
    assert item.source == "gfxwj:https://jrj.example.cn/items/7"
    assert atom(meta, [FeedEntry(content, when, when)])  # both of our formats are readable
    assert feedparser.parse(atom(meta, [FeedEntry(content, when, when)])).entries


async def test_entry_failing_prereview_is_returned_and_never_published(
    any_config: Config, upstream: Upstream
) -> None:
    staff: Staff = await create_staff()
    secret = entry("s", "内部通报", "&lt;p&gt;本文为内部资料，不得外传。&lt;/p&gt;")
    url = upstream.put("/feed.xml", atom_feed(secret, entry("ok")))
    cfg = await configured(any_config, source(url))

    result = (await pull_all(cfg))[0]

    returned = result.returned
    assert len(returned) == 1 and returned[0].outcome == "new"
    assert "内部" in returned[0].reason
    item = await Item.get(id=returned[0].item_id)
    assert item.status == ItemStatus.RETURNED.value and item.return_reason
    with pytest.raises(lifecycle.IllegalTransition):
        await lifecycle.approve(item.id, staff.reviewer, cfg)
    assert await Delivery.filter(item_id=item.id).count() == 0
    assert await AuditEvent.filter(action="item.return", target_id=str(item.id)).count() == 1


async def test_fetch_failures_are_reported_per_source_and_do_not_stop_others(
    config: Config, upstream: Upstream
) -> None:
    good = upstream.put("/feed.xml", atom_feed(entry("a")))
    big = upstream.put("/big.xml", atom_feed(entry("b", content="x" * 5000)))
    page = upstream.put("/page.html", "<html><body>不是订阅</body></html>", ctype="text/html")
    cfg = await configured(
        config,
        {**source(upstream.url("/loop")), "name": "loop", "max_redirects": 2},
        {**source(upstream.url("/slow")), "name": "slow", "timeout_seconds": 0.2},
        {**source(big), "name": "big", "max_bytes": 2048},
        {**source(page), "name": "page"},
        {**source(upstream.url("/missing")), "name": "missing"},
        {**source(good), "name": "good"},
        {**source(good), "name": "off", "enabled": False},
    )

    results = {r.source: r for r in await pull_all(cfg)}

    assert set(results) == {"loop", "slow", "big", "page", "missing", "good"}
    assert "重定向超过 2 次" in results["loop"].error
    assert "0.2 秒内未完成" in results["slow"].error
    assert "2048 字节上限" in results["big"].error
    assert "不是可识别的 RSS/Atom" in results["page"].error
    assert "HTTP 404" in results["missing"].error
    assert results["good"].count("new") == 1 and not results["good"].error
    assert await Item.all().count() == 1


async def test_due_only_skips_sources_pulled_within_their_interval(
    config: Config, upstream: Upstream
) -> None:
    url = upstream.put("/feed.xml", atom_feed(entry("a")))
    cfg = await configured(config, source(url, interval_minutes=60))

    assert len(await pull_all(cfg, due_only=True)) == 1
    assert await pull_all(cfg, due_only=True) == []
    assert len(await pull_all(cfg)) == 1  # an explicit pull ignores the interval


def test_config_refuses_unknown_columns_duplicate_names_and_bad_rules() -> None:
    base = {"name": "a", "url": "https://x.example.cn/feed", "approver": APPROVER}
    cases = [
        ([{**base, "column": "nope"}], "unknown column(s) nope"),
        ([base, base], "'a' is used twice"),
        ([{**base, "rules": [{"title": "(", "kind": "policy"}]}], "regular expression"),
        ([{**base, "rules": [{"kind": "policy"}]}], "at least one of category, title, link"),
        ([{**base, "rules": [{"title": "x"}]}], "at least one of kind, column, office"),
        ([{**base, "allowed_tags": ["p", "script"]}], "unsupported tags script"),
        ([{**base, "name": "Bad Name"}], "sources.0.name"),
        ([{**base, "url": "file:///etc/passwd"}], "http:// or https://"),
    ]
    for sources, message in cases:
        with pytest.raises(ConfigError) as caught:
            make_config("sqlite://:memory:", sources=sources)  # type: ignore[arg-type]
        assert message in str(caught.value), (sources, str(caught.value))


async def test_failing_entry_leaves_nothing_half_written_and_is_retried_next_pull(
    any_config: Config, upstream: Upstream
) -> None:
    url = upstream.put("/feed.xml", atom_feed(entry("a"), entry("b", "第二份通知")), etag='"v1"')
    # The webhook's secret is missing: pre-review (inside each entry's transaction, after the
    # SourceEntry row and the item were written) cannot build the channels and fails.
    broken = make_config(
        any_config.database.url,
        sources=[source(url)],  # type: ignore[list-item]
        channels={"webhook": {"enabled": True, "secret_env": "UNSET_SECRET"}},  # type: ignore[dict-item]
    )

    failed = (await pull_all(broken))[0]

    assert [e.outcome for e in failed.entries] == ["failed", "failed"]
    assert all("UNSET_SECRET" in e.reason and "/docs/" in e.entry for e in failed.entries)
    assert await Item.all().count() == 0
    assert await SourceEntry.all().count() == 0
    assert await AuditEvent.filter(target_type="item").count() == 0

    # The validators were not kept, so the next pull fetches the feed again and imports it
    fixed = (await pull_all(await configured(any_config, source(url))))[0]
    assert upstream.hits == [("/feed.xml", 200), ("/feed.xml", 200)]
    assert [e.outcome for e in fixed.entries] == ["new", "new"]
    assert await Item.all().count() == 2


async def test_returned_entry_corrected_upstream_goes_back_to_review(
    config: Config, upstream: Upstream
) -> None:
    secret = entry("s", "通报", "&lt;p&gt;本文为内部资料。&lt;/p&gt;")
    url = upstream.put("/feed.xml", atom_feed(secret))
    cfg = await configured(config, source(url))
    first = (await pull_all(cfg))[0].entries[0]
    assert first.returned

    fixed = entry("s", "通报", "&lt;p&gt;本文现予公开。&lt;/p&gt;", updated="2026-03-02T00:00:00Z")
    upstream.put("/feed.xml", atom_feed(fixed))
    second = (await pull_all(cfg))[0].entries[0]

    assert (second.outcome, second.item_id, second.returned) == ("updated", first.item_id, False)
    item = await Item.get(id=first.item_id)
    assert item.status == ItemStatus.IN_REVIEW.value and item.version == 1  # never approved
    assert item.body == "本文现予公开。" and item.return_reason == ""


_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_SPACES = re.compile(r"[ \t\r\n\f\u00a0]+")
_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"))
    | st.sampled_from(list("\\`*_[]<>|&#;-+=~.!()1 \n")),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_any_text_in_an_upstream_paragraph_renders_as_exactly_that_text(text: str) -> None:
    stored = to_markdown(f"<p>{html.escape(text)}</p>", SOURCE_HTML_TAGS)

    assert "<" not in stored
    rendered = _MARKDOWN.render(stored)
    wanted = _SPACES.sub(" ", text).strip()
    if not wanted:
        assert rendered == ""
        return
    assert rendered.startswith("<p>") and rendered.endswith("</p>\n"), (stored, rendered)
    assert html.unescape(rendered[3:-5]) == wanted, (stored, rendered)
