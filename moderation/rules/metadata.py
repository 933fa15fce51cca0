"""The 主动公开目录 metadata of an item: a policy without its 成文日期 or 主题分类 is flagged, as
is a 主题分类 no longer in the configured list and a 成文日期 later than today.

Warnings, not blocks: a reviewer may accept one with a written reason (an old regulation whose
成文日期 is not known), and a block would stop at dispatch the policies approved before these
fields existed, whose versions lack them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from moderation.findings import FindingData, ReviewContext

REQUIRED_ON_POLICY = (("written_on", "成文日期"), ("topic", "主题分类"))


def check(snapshot: dict[str, Any], context: ReviewContext) -> Iterator[FindingData]:
    if snapshot.get("kind") == "policy":
        for field, label in REQUIRED_ON_POLICY:
            if not snapshot.get(field):
                yield FindingData(
                    rule="metadata.required",
                    severity="warn",
                    field=field,
                    message=f"政策文件缺少「{label}」：主动公开目录的元数据应完整，请补充后再提交。",
                )
    topic = snapshot.get("topic") or ""
    if topic and context.topics and topic not in context.topics:
        yield FindingData(
            rule="metadata.topic",
            severity="warn",
            field="topic",
            message=f"主题分类「{topic}」不在当前配置的可选范围内，可选：{'、'.join(context.topics)}。",
        )
    written = _date(snapshot.get("written_on"))
    if written is not None and context.today is not None and written > context.today:
        yield FindingData(
            rule="metadata.written_on_future",
            severity="warn",
            field="written_on",
            message=f"成文日期 {written.isoformat()} 晚于今天，请核对。",
        )


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None
