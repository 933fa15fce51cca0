"""The website's search (一网通查, /search) and its answer first (一网通答) over a real server and
SQLite database, items taken through the real lifecycle and dispatcher: a word of a body finds
its item with the word marked; filters, grouped counts and pagination that keeps the filters;
a retracted item is never found and a repealed one is labelled; a question the FAQ answers is
answered first, with its source and how sure the match is, and 没有解决？去留言 prefills the
form; every hostile query and filter answers a normal page, never 500; the per-address rate
limit answers 429 with Retry-After; a search that finds nothing is counted masked and shown on
the 数据看板."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from html import unescape
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from bot.config import Config
from bot.items import lifecycle
from bot.models import Faq, Item, SearchMiss
from bot.search import index
from bot.web.app import SERVER_LIMITS
from tests.conftest import Staff, make_config
from tests.web.conftest import Publish, SiteClient, build_app
from tests.web.console.test_auth import login
from tests.web.public.test_pages import check_html

Client = TestClient[web.Request, web.Application]
BODY = (
    "各区金融工作局：\n\n为规范**融资担保机构**经营，现就小微企业贷款担保费率有关事项通知如下。"
    "\n\n一、担保费率原则上不超过百分之一点五。"
)
FAQ_QUESTION = "如何申请政府信息公开？"
FAQ_ANSWER = "可以通过本网站「依申请公开」栏目在线提交申请表，也可以到办公室当面提交书面申请。"
HITS = re.compile(r'<ol class="hits"[^>]*>(.*?)</ol>', re.S)
HIT_LINKS = re.compile(r'<h3><a href="[^"]*?(/items/\d+|/qa/\d+|/faq#faq-\d+)">')


async def page(client: Client, path: str | URL, status: int = 200) -> str:
    resp = await client.get(path)
    text = await resp.text()
    assert resp.status == status, (path, resp.status, text[:500])
    return text


def found(html: str) -> list[str]:
    """The addresses of the results listed, in order."""
    listed = HITS.search(html)
    return HIT_LINKS.findall(listed.group(1)) if listed else []


def visible(html: str) -> str:
    return " ".join(check_html(html).split())


async def with_faq(question: str = FAQ_QUESTION, answer: str = FAQ_ANSWER) -> Faq:
    faq = await Faq.create(question=question, answer=answer, keywords=["依申请公开"])
    await index.reindex()  # what `gongkai search reindex` does after an FAQ change
    return faq


@contextlib.asynccontextmanager
async def serving(cfg: Config) -> AsyncIterator[Client]:
    """The app of `cfg` on a server with the limits `gongkai run` serves with."""
    server = TestServer(build_app(cfg), host="127.0.0.1")
    await server.start_server(**SERVER_LIMITS)
    async with SiteClient(server) as c:
        yield c


@pytest.fixture
async def small_pages(config: Config, sqlite_url: str) -> AsyncIterator[Client]:
    """The app with five results a page (the configured minimum)."""
    async with serving(make_config(sqlite_url, search={"page_size": 5})) as c:
        yield c


async def test_a_word_of_an_items_body_finds_it_with_the_word_marked(
    client: Client, publish: Publish
) -> None:
    item = await publish(title="关于降低小微企业融资担保费率的通知", body=BODY)
    await publish(title="关于开展政务公开培训的通知", body="请各处室派员参加培训。")
    resp = await client.get("/search?q=" + quote("担保费率"))
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    html = await resp.text()
    text = visible(html)
    assert found(html) == [f"/items/{item.id}"]
    assert "共 1 条结果" in text
    assert "<mark>担保费率</mark>" in html  # in the snippet (and the title)
    assert 'role="search"' in html and 'value="担保费率"' in html  # the box says what was asked
    assert "一网通答" not in text  # not a question, and no FAQ matched


async def test_the_header_and_the_home_page_carry_a_search_form(
    client: Client, publish: Publish
) -> None:
    item = await publish()
    for path in ("/", f"/items/{item.id}", "/sitemap", "/faq", "/feedback"):
        html = await page(client, path)
        assert re.search(r'<form class="[^"]*search[^"]*" role="search"[^>]*method="get"', html)
        assert 'action="http://127.0.0.1:8080/search"' in html, path
    assert 'href="http://127.0.0.1:8080/search"' in await page(client, "/sitemap")


async def test_filters_group_counts_and_pagination_keep_each_other(
    small_pages: Client, publish: Publish, staff: Staff, config: Config
) -> None:
    notices = [
        await publish(title=f"关于担保费率调整的第{n}号通知", body=BODY) for n in range(1, 7)
    ]
    policy = await publish(
        title="融资担保费率管理办法", kind="policy", body=BODY, written_on="2021-03-01"
    )
    faq = await with_faq("担保费率是多少？", "担保费率原则上不超过百分之一点五。")
    await lifecycle.set_validity(policy.id, staff.reviewer, "repealed", "已废止")

    html = await page(small_pages, "/search?q=" + quote("担保费率"))
    text = visible(html)
    assert "共 8 条结果，第 1/2 页" in text
    for label in ("全部（8）", "公开信息（7）", "政策文件（1）", "通知公告（6）", "常见问题（1）"):
        assert label in text, label
    assert len(found(html)) == 5
    # The next page keeps the words; the last shows what remains.
    second = re.search(r'href="([^"]+)" rel="next"', html)
    assert second
    html2 = await page(small_pages, URL(unescape(second.group(1)), encoded=True).path_qs)
    assert "第 2/2 页" in visible(html2) and len(found(html2)) == 3
    assert set(found(html) + found(html2)) == {
        *(f"/items/{n.id}" for n in notices),
        f"/items/{policy.id}",
        f"/faq#faq-{faq.id}",
    }

    # A kind: its results only, the other groups still offered (as links that filter).
    html = await page(small_pages, "/search?q=" + quote("担保费率") + "&kind=item:policy")
    text = visible(html)
    assert found(html) == [f"/items/{policy.id}"]
    assert "共 1 条结果（已筛选）" in text and "通知公告（6）" in text
    assert "（已废止）" in text  # the repealed policy is labelled
    assert re.search(r'href="[^"]*kind=item%3Anotice"[^>]*>通知公告（6）', html)

    # Validity: 有效 leaves the repealed policy out, 已废止 keeps only it.
    html = await page(small_pages, "/search?q=" + quote("担保费率") + "&validity=valid&page=2")
    assert "共 7 条结果（已筛选），第 2/2 页" in visible(html)
    assert f"/items/{policy.id}" not in found(html)
    next_back = re.search(r'href="([^"]+)" rel="prev"', html)
    assert next_back and "validity=valid" in next_back.group(1)  # the pager keeps the filter
    html = await page(small_pages, "/search?q=" + quote("担保费率") + "&validity=repealed")
    assert found(html) == [f"/items/{policy.id}"]

    # Column and year (成文日期 of the policy; the notices' publication year).
    html = await page(small_pages, "/search?q=" + quote("担保费率") + "&column=policy")
    assert found(html) == [f"/items/{policy.id}"]
    html = await page(small_pages, "/search?q=" + quote("担保费率") + "&year=2021")
    assert found(html) == [f"/items/{policy.id}"]
    year = notices[0].published_at.year if notices[0].published_at else 0
    html = await page(small_pages, "/search?q=" + quote("担保费率") + f"&year={year}&kind=item")
    assert "共 6 条结果（已筛选）" in visible(html)


async def test_a_retracted_item_is_never_found(
    client: Client, publish: Publish, retract: Callable[[int], Awaitable[Item]]
) -> None:
    kept = await publish(title="关于降低小微企业融资担保费率的通知", body=BODY)
    gone = await publish(title="关于担保费率的补充通知", body=BODY, doc_number="沪金管〔2026〕9号")
    assert set(found(await page(client, "/search?q=" + quote("担保费率")))) == {
        f"/items/{kept.id}",
        f"/items/{gone.id}",
    }
    await retract(gone.id)
    for words in ("担保费率", "补充通知", "沪金管〔2026〕9号"):
        html = await page(client, "/search?q=" + quote(words))
        assert f"/items/{gone.id}" not in html and "补充通知" not in visible(html).replace(
            f"{words} - 搜索结果", ""
        ), words


async def test_a_question_the_faq_answers_is_answered_first_with_its_source(
    client: Client, publish: Publish
) -> None:
    await publish(title="政府信息公开工作要点", body="做好政府信息公开和依申请公开工作。")
    faq = await with_faq()
    html = await page(client, "/search?q=" + quote("怎么申请政府信息公开？"))
    text = visible(html)
    answer = html.index('class="answer"')
    assert answer < html.index('id="results-heading"')  # the answer first
    box = html[answer : html.index("</section>", answer)]
    assert FAQ_ANSWER in unescape(re.sub(r"<[^>]+>", "", box))  # the whole answer, marked
    assert "<mark>申请</mark>" in box
    assert f'href="http://127.0.0.1:8080/faq#faq-{faq.id}"' in box
    assert re.search(r"匹配度：<strong>[高中]</strong>", box)
    prefill = re.search(r'href="([^"]*/feedback\?content=[^"]*)">没有解决？去留言', box)
    assert prefill
    assert "一网通答" in text

    # The link opens the form with the question in it.
    form = await page(client, URL(unescape(prefill.group(1))).path_qs)
    assert re.search(r'<textarea id="content"[^>]*>怎么申请政府信息公开？</textarea>', form)
    # The FAQ page holds the anchor the answer links to.
    faq_page = await page(client, "/faq")
    assert f'id="faq-{faq.id}"' in faq_page and FAQ_ANSWER in unescape(faq_page)


async def test_a_question_nothing_answers_well_gets_results_but_no_answer(
    client: Client, publish: Publish
) -> None:
    item = await publish(title="关于降低小微企业融资担保费率的通知", body=BODY)
    await with_faq()
    html = await page(client, "/search?q=" + quote("担保费率的计算公式和减免申报材料清单是什么？"))
    assert 'class="answer"' not in html
    assert f"/items/{item.id}" in found(html)


async def test_a_question_an_item_answers_shows_its_passage(
    client: Client, publish: Publish
) -> None:
    item = await publish(title="关于降低小微企业融资担保费率的通知", body=BODY)
    html = await page(client, "/search?q=" + quote("小微企业担保费率不超过多少？"))
    answer = html.index('class="answer"')
    box = html[answer : html.index("</section>", answer)]
    assert f'href="http://127.0.0.1:8080/items/{item.id}"' in box
    assert "百分之一点五" in box  # the paragraph that answers, not the first one


HOSTILE_QUERIES = [
    "q=%22",
    "q=%22%22%22",
    "q=*",
    "q=%E6%8B%85%E4%BF%9D*",
    "q=NEAR(",
    "q=NEAR(%E6%8B%85%E4%BF%9D%20%E8%B4%B9%E7%8E%87)",
    "q=AND",
    "q=OR",
    "q=%E6%8B%85%E4%BF%9D%20AND%20OR%20NOT%20%E8%B4%B9%E7%8E%87",
    "q=title_tokens%3A%E6%8B%85%E4%BF%9D",
    "q='%20OR%201%3D1%20--",
    "q=%5C",
    "q=%25",
    "q=!%26%7C%3A*%3C-%3E",
    "q=%ED%A0%80",  # a lone surrogate, as UTF-8 would write it (not UTF-8)
    "q=%ED%A0%80%E6%8B%85%E4%BF%9D",
    "q=%FF%FE%FD",
    "q=%E6%8B%85",  # a character cut short
    "q=%00",
    "q=%E6%8B%85%00%E4%BF%9D",
    "q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "q=" + "%E6%8B%85%E4%BF%9D" * 5000,  # 10,000 characters
    "q=" + "a%20" * 5000,
    "q=",
    "q=%20%20",
    "",
    "q=a&q=b",
    "q=x&year=abc",
    "q=x&year=20211",
    "q=x&year=0000",
    "q=x&year=%ED%A0%80",
    "q=x&page=-1",
    "q=x&page=0",
    "q=x&page=abc",
    "q=x&page=99999999999",
    "q=%E6%8B%85%E4%BF%9D&page=999999",
    "q=x&kind=nope",
    "q=x&kind=item%3Anope",
    "q=x&kind=%00",
    "q=x&column=nope",
    "q=x&column=%ED%A0%80",
    "q=x&validity=bogus",
    "q=x&validity=all",
    "q=x&" + "kind=" + "k" * 10_000,
]


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
async def test_every_hostile_query_answers_a_normal_page(
    client: Client, publish: Publish, query: str
) -> None:
    await publish(title="关于降低小微企业融资担保费率的通知", body=BODY)
    resp = await client.get(URL(f"/search?{query}", encoded=True))
    html = await resp.text()
    assert resp.status == 200, html[:500]
    text = visible(html)
    assert "站内搜索" in text and "服务器内部错误" not in text
    assert "<script>alert" not in html


async def test_a_hostile_query_is_said_back_with_what_was_done_to_it(client: Client) -> None:
    long = "担保" * 5000
    text = visible(await page(client, "/search?q=" + quote(long)))
    assert "搜索词过长，只按前 100 个字查找" in text
    text = visible(await page(client, URL("/search?q=x&year=abc&page=-1", encoded=True)))
    assert "「年份」参数「abc」无效" in text and "「页码」参数「-1」无效" in text
    text = visible(await page(client, URL("/search?q=x&kind=nope&column=nope", encoded=True)))
    assert "「类别」参数「nope」无效" in text and "「栏目」参数「nope」无效" in text
    text = visible(await page(client, URL("/search?q=%ED%A0%80x", encoded=True)))
    assert "搜索词中有无法识别的字符，已去除" in text


async def test_raw_bytes_in_the_request_line_are_refused_by_http_never_500(client: Client) -> None:
    """Bytes outside ASCII sent raw (not percent-encoded, as no browser sends them; invalid
    UTF-8 among them): the HTTP parser refuses the request line with 400 before any handler
    runs (RFC 9112: a request-target is ASCII). Percent-encoded, the same bytes get the
    normal page (HOSTILE_QUERIES)."""
    assert client.server.port is not None
    for raw in (b"\xed\xa0\x80", b"\xff\xfe", b"\xe6\x8b", "担保".encode()):
        reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
        writer.write(
            b"GET /search?q=" + raw + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        await writer.drain()
        status_line = await reader.readline()
        await reader.read()
        writer.close()
        await writer.wait_closed()
        assert int(status_line.split()[1]) == 400, status_line


@pytest.fixture
async def limited(config: Config, sqlite_url: str) -> AsyncIterator[Client]:
    """The app with three searches a minute per client, behind a trusted proxy."""
    cfg = make_config(
        sqlite_url,
        search={"rate_limit": 3, "rate_window_seconds": 60},
        web={"trusted_proxies": ["127.0.0.1"]},
    )
    async with serving(cfg) as c:
        yield c


async def test_too_many_searches_from_one_address_get_429_with_retry_after(
    limited: Client,
) -> None:
    one = {"X-Forwarded-For": "203.0.113.7"}
    for _ in range(3):
        assert (await limited.get("/search?q=abc", headers=one)).status == 200
    resp = await limited.get("/search?q=abc", headers=one)
    assert resp.status == 429
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    text = visible(await resp.text())
    assert "访问过于频繁" in text and "搜索过于频繁" in text
    # Another visitor behind the same proxy is not held back; the empty search form is free.
    assert (
        await limited.get("/search?q=abc", headers={"X-Forwarded-For": "203.0.113.8"})
    ).status == 200
    assert (await limited.get("/search", headers=one)).status == 200


async def test_a_search_that_finds_nothing_is_counted_masked_and_shown_on_the_dashboard(
    cclient: Client, cstaff: Staff
) -> None:
    missed = "13812345678的办理进度查询"
    for _ in range(2):
        html = await page(cclient, "/search?q=" + quote(missed))
        assert "共 0 条结果" in visible(html) and "没有找到结果" in visible(html)
    await page(cclient, "/search?q=" + quote("不存在的词语"))
    await page(cclient, "/search?q=" + quote("别的词语") + "&kind=faq")  # filtered: not counted
    rows = {r.query: r.count for r in await SearchMiss.all()}
    assert rows == {"138****5678的办理进度查询": 2, "不存在的词语": 1}
    assert not any("12345678" in q for q in rows)

    await login(cclient, "alice", "Pw-alpha-2026")
    dashboard = await page(cclient, "/console/dashboard")
    text = visible(dashboard)
    assert "检索无结果的词" in text
    table = dashboard[dashboard.index('id="h-misses"') :]
    assert re.search(r"138\*\*\*\*5678的办理进度查询</th><td>2</td>", table)
    assert "13812345678" not in dashboard
    assert table.index("138****5678") < table.index("不存在的词语")


async def test_the_feedback_form_is_prefilled_from_content_within_bounds(
    client: Client, config: Config
) -> None:
    html = await page(client, "/feedback?content=" + quote("如何申请公开？"))
    assert re.search(r'<textarea id="content"[^>]*>如何申请公开？</textarea>', html)
    html = await page(client, URL("/feedback?content=a%00b", encoded=True))
    assert re.search(r'<textarea id="content"[^>]*></textarea>', html)
    html = await page(client, URL("/feedback?content=%ED%A0%80", encoded=True))
    assert re.search(r'<textarea id="content"[^>]*></textarea>', html)
    limit = config.inbox.form.max_chars
    html = await page(client, "/feedback?content=" + "x" * (limit + 50))
    shown = re.search(r'<textarea id="content"[^>]*>(x*)</textarea>', html)
    assert shown and len(shown.group(1)) == limit
    html = await page(client, "/feedback?content=" + quote("<b>粗体</b>"))
    assert "&lt;b&gt;粗体&lt;/b&gt;" in html and "<b>粗体" not in html
