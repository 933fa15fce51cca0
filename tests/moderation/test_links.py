"""The link rule: extraction from realistic Chinese Markdown (with spans on the original text),
and how checker answers become findings."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from moderation.findings import LinkProblem, ReviewContext
from moderation.rules import links
from moderation.rules.links import check, extract_links

BODY = """# 关于做好2024年度政府信息公开工作的通知

各区人民政府，市政府各委、办、局：

根据《中华人民共和国政府信息公开条例》
（[全文](https://www.gov.cn/zhengce/2019-04/15/content_5382991.htm "条例全文")），现将有关事项通知如下。详见https://www.example.gov.cn/xxgk/2024/notice.html。

附件：![流程图](/static/flow.png)、<https://www.example.gov.cn/files/附件1.pdf>

咨询电话：[010-12345678](tel:01012345678)，邮箱 <mailto:xxgk@example.gov.cn>，
返回[页首](#top)。旧版页面（http://old.example.gov.cn/index.jsp）已停用。

<a href="https://www.example.gov.cn/a">链接A</a> <img src='https://img.example.gov.cn/b.png'>
"""


def at(text: str, span: tuple[int, int]) -> str:
    return text[span[0] : span[1]]


def test_extracts_every_kind_of_link_with_spans_on_the_original_text() -> None:
    found = extract_links({"summary": "", "body": BODY})
    urls = [url for _, url, _ in found]
    assert urls == [
        "https://www.gov.cn/zhengce/2019-04/15/content_5382991.htm",
        "https://www.example.gov.cn/xxgk/2024/notice.html",
        "/static/flow.png",
        "https://www.example.gov.cn/files/附件1.pdf",
        "tel:01012345678",
        "mailto:xxgk@example.gov.cn",
        "#top",
        "http://old.example.gov.cn/index.jsp",
        "https://www.example.gov.cn/a",
        "https://img.example.gov.cn/b.png",
    ]
    for field, url, span in found:
        assert field == "body"
        assert at(BODY, span) == url


def test_bare_url_stops_at_chinese_punctuation_and_trailing_sentence_marks() -> None:
    cases = {
        "详见https://a.gov.cn/x，或致电。": "https://a.gov.cn/x",
        "网址：https://a.gov.cn/x；": "https://a.gov.cn/x",
        "见 https://a.gov.cn/x. 谢谢": "https://a.gov.cn/x",
        "（https://a.gov.cn/x）": "https://a.gov.cn/x",
        "(see https://a.gov.cn/x)": "https://a.gov.cn/x",
        "https://en.wikipedia.org/wiki/Foo_(bar)": "https://en.wikipedia.org/wiki/Foo_(bar)",
        "**https://a.gov.cn/x**加粗": "https://a.gov.cn/x",
        "https://a.gov.cn/search?q=1&page=2#r": "https://a.gov.cn/search?q=1&page=2#r",
    }
    for text, expected in cases.items():
        [(_, url, span)] = extract_links({"body": text})
        assert url == expected, text
        assert at(text, span) == expected


def test_link_text_is_not_extracted_again_and_summary_is_scanned() -> None:
    snap = {
        "summary": "摘要见http://a.gov.cn/s",
        "body": "[https://shown.gov.cn](https://target.gov.cn/p)",
    }
    found = extract_links(snap)
    assert [(f, u) for f, u, _ in found] == [
        ("summary", "http://a.gov.cn/s"),
        ("body", "https://target.gov.cn/p"),
    ]


def test_angle_bracket_destination_and_nested_brackets_in_link_text() -> None:
    body = "[《办法》[2024]3号](<https://a.gov.cn/办法 全文.pdf>) 和 [第[1]条](https://a.gov.cn/1)"
    found = extract_links({"body": body})
    assert [u for _, u, _ in found] == ["https://a.gov.cn/办法 全文.pdf", "https://a.gov.cn/1"]
    assert all(at(body, span) == url for _, url, span in found)


def test_full_width_and_invisible_characters_do_not_hide_a_link() -> None:
    body = "请访问ｈｔｔｐｓ：／／ｅｘａｍｐｌｅ．ｇｏｖ．ｃｎ／ａ，谢谢。另见https://b.gov\u200b.cn/x。"
    found = extract_links({"body": body})
    assert [u for _, u, _ in found] == ["https://example.gov.cn/a", "https://b.gov.cn/x"]
    spans = [span for _, _, span in found]
    assert at(body, spans[0]) == "ｈｔｔｐｓ：／／ｅｘａｍｐｌｅ．ｇｏｖ．ｃｎ／ａ"
    assert at(body, spans[1]) == "https://b.gov\u200b.cn/x"


def test_fetchable_only_for_absolute_http_links() -> None:
    assert links.fetchable("https://a.gov.cn/x")
    assert links.fetchable("HTTP://a.gov.cn")
    for url in ("/items/3", "#top", "mailto:a@b.cn", "tel:12345", "https://", "ftp://a.cn/f"):
        assert not links.fetchable(url), url


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_spans_always_point_at_the_url_in_the_original_text(text: str) -> None:
    for _, url, (start, end) in extract_links({"body": text}):
        assert 0 <= start < end <= len(text)
        original = text[start:end]
        # What is there is the URL itself, unless it was folded from full-width/invisible form.
        assert original == url or len(original) >= len(url)


# --- findings -----------------------------------------------------------------------------


class Recorder:
    """A LinkCheck returning fixed answers and remembering what it was asked."""

    def __init__(self, answers: dict[str, LinkProblem | None]) -> None:
        self.answers = answers
        self.asked: list[list[str]] = []

    async def __call__(self, urls: list[str]) -> dict[str, LinkProblem | None]:
        self.asked.append(urls)
        return {url: self.answers.get(url) for url in urls}


def context(check_links: Any) -> ReviewContext:
    return ReviewContext(
        channels=("site",), public_channels=frozenset({"site"}), columns={}, check_links=check_links
    )


async def test_no_link_checker_means_no_findings_offline() -> None:
    assert await check({"body": "https://a.gov.cn/404"}, context(None)) == []


async def test_only_absolute_http_links_are_asked_about_once_each() -> None:
    rec = Recorder({})
    body = "[a](https://a.gov.cn) [b](/rel) [c](#x) <mailto:a@b.cn> [t](tel:1) https://a.gov.cn"
    assert await check({"body": body}, context(rec)) == []
    assert rec.asked == [["https://a.gov.cn"]]


async def test_checker_problems_become_findings_at_each_occurrence() -> None:
    body = "见[通知](https://a.gov.cn/404)和[解读](https://gk.gov.cn/items/7)；再见https://a.gov.cn/404"
    rec = Recorder(
        {
            "https://a.gov.cn/404": links.broken("https://a.gov.cn/404", 404, "Not Found"),
            "https://gk.gov.cn/items/7": links.retracted("https://gk.gov.cn/items/7", 7),
        }
    )
    findings = await check({"body": body}, context(rec))
    assert [(f.rule, f.severity, at(body, f.span or (0, 0))) for f in findings] == [
        ("links.broken", "block", "https://a.gov.cn/404"),
        ("links.retracted", "block", "https://gk.gov.cn/items/7"),
        ("links.broken", "block", "https://a.gov.cn/404"),
    ]
    assert findings[0].message.startswith("链接无法访问：HTTP 404")
    assert "已撤稿的条目 #7" in findings[1].message
    assert all(f.blocks for f in findings)


async def test_timeout_is_a_warning_not_a_broken_link() -> None:
    url = "https://slow.gov.cn/x"
    findings = await check({"body": url}, context(Recorder({url: links.timed_out(url, 5)})))
    [f] = findings
    assert (f.rule, f.severity) == ("links.timeout", "warn")
    assert f.needs_override and not f.blocks
    assert "链接检查超时" in f.message and "请人工确认" in f.message
    assert "无法访问" not in f.message


async def test_plain_http_link_warns_and_suggests_https() -> None:
    findings = await check({"summary": "详见http://a.gov.cn/x。"}, context(Recorder({})))
    [f] = findings
    assert (f.rule, f.severity, f.field) == ("links.insecure", "warn", "summary")
    assert f.suggestion == "https://a.gov.cn/x"


async def test_forbidden_link_blocks_but_a_reviewer_may_override_it() -> None:
    url = "https://a.gov.cn/x"
    [f] = await check({"body": url}, context(Recorder({url: links.broken(url, 403)})))
    assert f.severity == "block" and f.overridable and not f.blocks


async def test_full_width_link_warns_and_is_checked_in_its_folded_form() -> None:
    rec = Recorder({})
    body = "ｈｔｔｐｓ：／／ａ．ｇｏｖ．ｃｎ"
    [f] = await check({"body": body}, context(rec))
    assert f.rule == "links.disguised" and f.suggestion == "https://a.gov.cn"
    assert rec.asked == [["https://a.gov.cn"]]
