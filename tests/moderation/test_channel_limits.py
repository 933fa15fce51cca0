"""moderation.rules.channel_limits: title, summary, body and image limits per target channel."""

from __future__ import annotations

from typing import Any

from moderation.findings import ChannelRules, FindingData, RenderedSize, ReviewContext
from moderation.rules import channel_limits
from moderation.rules.channel_limits import count_images

RULES = {
    "wechat": ChannelRules(
        "微信公众号", title_max=64, summary_max=120, body_max=20_000, image_max=3
    ),
    "weibo": ChannelRules("微博", title_max=30, summary_max=140, body_max=2_000, image_max=9),
    "portal": ChannelRules("门户网站", title_max=200, summary_max=500),
}


def context(*channels: str) -> ReviewContext:
    return ReviewContext(
        channels=channels,
        public_channels=frozenset(RULES),
        columns={},
        channel_rules=RULES,
    )


def snapshot(**overrides: Any) -> dict[str, Any]:
    snap: dict[str, Any] = {
        "id": 3,
        "kind": "notice",
        "title": "关于2026年国庆节期间办事大厅开放安排的通知",
        "summary": "国庆节期间，办事大厅10月1日至7日暂停线下服务，网上办理渠道正常开放。",
        "body": "各有关单位：\n\n国庆节期间办事大厅暂停线下服务。\n\n![办事指南](https://example.gov.cn/a.png)",
        "channels": [],
    }
    snap.update(overrides)
    return snap


def run(snap: dict[str, Any], ctx: ReviewContext) -> list[FindingData]:
    return list(channel_limits.check(snap, ctx))


def test_item_within_every_limit_passes() -> None:
    assert run(snapshot(), context("wechat", "weibo", "portal")) == []


def test_title_over_one_channel_limit_blocks_naming_that_channel() -> None:
    title = "关于进一步做好2026年国庆节期间本市政务服务大厅线下窗口开放安排的通知"  # 36 characters
    assert len(title) == 36
    [finding] = run(snapshot(title=title), context("wechat", "weibo"))
    assert finding.blocks and finding.field == "title"
    assert "微博" in finding.message and "30" in finding.message


def test_title_exactly_at_the_limit_passes() -> None:
    assert run(snapshot(title="通" * 30), context("weibo")) == []


def test_zero_width_padding_counts_toward_the_length_the_channel_receives() -> None:
    title = "通" * 28 + "\u200b\u200b\u200b"
    assert [f.field for f in run(snapshot(title=title), context("weibo"))] == ["title"]


def test_summary_and_body_limits_block() -> None:
    findings = run(snapshot(summary="摘" * 141, body="正" * 2_001), context("weibo"))
    assert {(f.field, f.rule) for f in findings} == {
        ("summary", "channel_limits.length"),
        ("body", "channel_limits.length"),
    }
    assert all("微博" in f.message for f in findings)


def test_too_many_images_blocks_for_the_channel_that_limits_them() -> None:
    body = "\n".join(f"![图{i}](https://example.gov.cn/{i}.png)" for i in range(4))
    findings = run(snapshot(body=body), context("wechat", "weibo"))
    assert [(f.rule, "微信公众号" in f.message, "3 张" in f.message) for f in findings] == [
        ("channel_limits.images", True, True)
    ]


def test_reference_and_html_images_count_but_links_and_full_width_bang_do_not() -> None:
    body = "![图一][img1]\n<IMG src='b.png'>\n![图三](c.png)\n[链接](d.html)\n！[不是图](e.png)"
    assert count_images(body) == 3
    assert run(snapshot(body=body), context("wechat")) == []


def test_snapshot_channels_used_when_context_has_none_and_unknown_channels_skipped() -> None:
    snap = snapshot(title="题" * 40, channels=["weibo", "fax", 5])
    assert [f.field for f in run(snap, context())] == ["title"]
    assert run(snapshot(title="题" * 400), context("fax")) == []


def test_bad_input_never_crashes() -> None:
    ten_mb = "![图](a.png)正文" * 800_000
    findings = run(snapshot(body=ten_mb, title=None, summary=3), context("wechat"))
    assert {f.rule for f in findings} == {"channel_limits.length", "channel_limits.images"}
    assert run(snapshot(body="\x00\x1b[0m", channels=None), context()) == []


# WeChat as pre-review sees it: draft/add limits, a 微信标题 field and the rendered content size.
WECHAT = ChannelRules(
    "微信公众号",
    title_max=32,
    summary_max=128,
    content_max_chars=20_000,
    content_max_bytes=1_000_000,
    source_url_max_bytes=1024,
    title_field="wechat_title",
    title_field_label="微信标题",
)
TITLE_33 = "关于进一步做好2026年国庆节期间全市各政务服务大厅窗口开放的通知"


def wechat_context(rendered: RenderedSize | None = None) -> ReviewContext:
    return ReviewContext(
        channels=("wechat", "portal"),
        public_channels=frozenset({"wechat", "portal"}),
        columns={},
        channel_rules={"wechat": WECHAT, "portal": RULES["portal"]},
        rendered={"wechat": rendered} if rendered else {},
    )


def test_title_over_wechat_limit_asks_for_a_wechat_title_with_the_limit_and_length() -> None:
    assert len(TITLE_33) == 33
    [finding] = run(snapshot(title=TITLE_33), wechat_context())
    assert (finding.rule, finding.severity, finding.field) == (
        "channel_limits.title",
        "block",
        "title",
    )
    assert finding.blocks
    assert finding.message == (
        "标题超过微信公众号 32 字的限制（当前 33 字），请填写不超过 32 字的“微信标题”。"
    )


def test_a_wechat_title_within_the_limit_lets_the_long_title_pass() -> None:
    snap = snapshot(title=TITLE_33, wechat_title="2026年国庆节期间政务服务大厅开放安排")
    assert run(snap, wechat_context()) == []


def test_a_wechat_title_over_the_limit_is_a_finding_on_that_field() -> None:
    snap = snapshot(title="短标题", wechat_title=TITLE_33)
    [finding] = run(snap, wechat_context())
    assert (finding.field, finding.severity) == ("wechat_title", "block")
    assert "微信标题" in finding.message and "33" in finding.message and "32" in finding.message


def test_rendered_content_at_the_limit_blocks_naming_channel_limit_and_length() -> None:
    size = RenderedSize(chars=28_503, bytes=60_000)
    [finding] = run(snapshot(), wechat_context(size))
    assert (finding.rule, finding.field, finding.severity) == (
        "channel_limits.content",
        "body",
        "block",
    )
    assert "微信公众号" in finding.message
    assert "28,503 字符" in finding.message and "20,000 字符" in finding.message
    # "必须少于2万字符": 19,999 passes, 20,000 does not
    assert run(snapshot(), wechat_context(RenderedSize(chars=19_999, bytes=59_997))) == []
    assert len(run(snapshot(), wechat_context(RenderedSize(chars=20_000, bytes=60_000)))) == 1


def test_rendered_bytes_and_source_url_over_the_limit_block() -> None:
    size = RenderedSize(chars=10_000, bytes=1_000_000, source_url_bytes=1025)
    findings = run(snapshot(), wechat_context(size))
    assert [f.rule for f in findings] == ["channel_limits.content", "channel_limits.source_url"]
    assert "1,000,000 字节" in findings[0].message
    assert "1025 字节" in findings[1].message


def test_markdown_length_is_not_the_wechat_content_limit() -> None:
    # 19,900 characters of Markdown: only the rendered size (absent here) can exceed the limit
    assert run(snapshot(body="正" * 19_900 + "a" * 200), wechat_context()) == []
