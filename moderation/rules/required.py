"""Required fields by kind, and that the column exists and fits the kind (内容混杂).

An unknown column blocks; a kind that does not fit its column only warns, since a reviewer may
have a reason to file it there and can override with that reason."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from moderation.findings import FindingData, ReviewContext

KIND_REQUIRED: dict[str, tuple[tuple[str, str], ...]] = {
    "policy": (("title", "标题"), ("body", "正文"), ("office", "起草处室")),
    "interpretation": (("title", "标题"), ("body", "正文"), ("related_id", "所解读的政策")),
    "enforcement": (("title", "标题"), ("body", "正文")),
    "notice": (("title", "标题"), ("body", "正文")),
    "consultation": (("title", "标题"), ("body", "正文")),
}


def check(snapshot: dict[str, Any], context: ReviewContext) -> Iterator[FindingData]:
    for field, label in KIND_REQUIRED.get(snapshot["kind"], ()):
        value = snapshot.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            yield FindingData(
                rule="required.field",
                severity="block",
                field=field,
                message=f"缺少必填项「{label}」，请补充后再提交。",
            )
    column = snapshot.get("column", "")
    if column not in context.columns:
        known = "、".join(context.columns) or "（无）"
        yield FindingData(
            rule="required.column",
            severity="block",
            field="column",
            message=f"栏目「{column}」不存在，可选栏目：{known}。",
        )
    elif snapshot["kind"] not in context.columns[column]:
        yield FindingData(
            rule="required.column_kind",
            severity="warn",
            field="column",
            message=f"栏目「{column}」不收录此类稿件，请选择与稿件类型一致的栏目（杜绝内容混杂）。",
        )
