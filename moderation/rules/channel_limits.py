"""Per-channel limits: a title, summary or body too long for a target channel, or more images
than it carries, would be cut or refused on delivery, so it is caught before review. Content
limits (WeChat's draft/add) are checked on the body as rendered for the channel, whose size
bot/ measures and passes in ReviewContext.rendered."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from moderation.findings import ChannelRules, FindingData, RenderedSize, ReviewContext

__all__ = ["check", "count_images"]

# Inline ![alt](src), reference-style ![alt][ref], and raw <img> tags all become images.
_IMAGE = re.compile(r"!\[[^\]\n]*\](?:\([^)\n]*\)|\[[^\]\n]*\])|<img\b", re.IGNORECASE)


def count_images(body: str) -> int:
    return sum(1 for _ in _IMAGE.finditer(body))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _length(field: str, label: str, text: str, limit: int, rules: ChannelRules) -> FindingData:
    return FindingData(
        rule="channel_limits.length",
        severity="block",
        field=field,
        message=f"{label}共 {len(text)} 字，超过「{rules.label}」的上限 {limit} 字，"
        "请精简后再提交。",
    )


def _title(snapshot: dict[str, Any], title: str, rules: ChannelRules) -> Iterator[FindingData]:
    """The channel's title: its own field when the channel has one and it is filled in; a
    title too long for the channel then asks for that field rather than a shorter title."""
    limit = rules.title_max
    own = _text(snapshot.get(rules.title_field)).strip() if rules.title_field else ""
    if own:
        if len(own) > limit:
            yield _length(rules.title_field, rules.title_field_label, own, limit, rules)
        return
    if len(title) <= limit:
        return
    if not rules.title_field:
        yield _length("title", "标题", title, limit, rules)
        return
    label = rules.title_field_label
    yield FindingData(
        rule="channel_limits.title",
        severity="block",
        field="title",
        message=f"标题超过{rules.label} {limit} 字的限制（当前 {len(title)} 字），"
        f"请填写不超过 {limit} 字的“{label}”。",
    )


def _content(rules: ChannelRules, size: RenderedSize) -> Iterator[FindingData]:
    for unit, measured, limit in (
        ("字符", size.chars, rules.content_max_chars),
        ("字节", size.bytes, rules.content_max_bytes),
    ):
        if limit is not None and measured >= limit:
            yield FindingData(
                rule="channel_limits.content",
                severity="block",
                field="body",
                message=f"正文排版后（HTML）共 {measured:,} {unit}，「{rules.label}」要求少于 "
                f"{limit:,} {unit}，请精简正文或拆分为多篇后再提交。",
            )
    if (
        rules.source_url_max_bytes is not None
        and size.source_url_bytes > rules.source_url_max_bytes
    ):
        yield FindingData(
            rule="channel_limits.source_url",
            severity="block",
            field="",
            message=f"「阅读原文」链接共 {size.source_url_bytes} 字节，超过「{rules.label}」的上限 "
            f"{rules.source_url_max_bytes} 字节，请缩短网站地址（app.public_base_url）。",
        )


def check(snapshot: dict[str, Any], context: ReviewContext) -> Iterator[FindingData]:
    channels = list(context.channels) or [
        c for c in (snapshot.get("channels") or []) if isinstance(c, str)
    ]
    title = _text(snapshot.get("title"))
    summary = _text(snapshot.get("summary"))
    body = _text(snapshot.get("body"))
    images: int | None = None  # counted once, only if some channel has rules
    for name in dict.fromkeys(channels):
        rules = context.channel_rules.get(name)
        if rules is None:
            continue
        yield from _title(snapshot, title, rules)
        for field, label, text, limit in (
            ("summary", "摘要", summary, rules.summary_max),
            ("body", "正文", body, rules.body_max),
        ):
            if len(text) > limit:
                yield _length(field, label, text, limit, rules)
        size = context.rendered.get(name)
        if size is not None:
            yield from _content(rules, size)
        if images is None:
            images = count_images(body)
        if images > rules.image_max:
            yield FindingData(
                rule="channel_limits.images",
                severity="block",
                field="body",
                message=f"正文含 {images} 张图片，"
                f"超过「{rules.label}」的上限 {rules.image_max} 张。",
            )
