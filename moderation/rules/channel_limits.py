"""Per-channel limits: a title, summary or body too long for a target channel, or more images
than it carries, would be cut or refused on delivery, so it is caught before review."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from moderation.findings import FindingData, ReviewContext

__all__ = ["check", "count_images"]

# Inline ![alt](src), reference-style ![alt][ref], and raw <img> tags all become images.
_IMAGE = re.compile(r"!\[[^\]\n]*\](?:\([^)\n]*\)|\[[^\]\n]*\])|<img\b", re.IGNORECASE)


def count_images(body: str) -> int:
    return sum(1 for _ in _IMAGE.finditer(body))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


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
        for field, label, text, limit in (
            ("title", "标题", title, rules.title_max),
            ("summary", "摘要", summary, rules.summary_max),
            ("body", "正文", body, rules.body_max),
        ):
            if len(text) > limit:
                yield FindingData(
                    rule="channel_limits.length",
                    severity="block",
                    field=field,
                    message=f"{label}共 {len(text)} 字，超过「{rules.label}」的上限 {limit} 字，"
                    "请精简后再提交。",
                )
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
