"""Pre-review findings as the console shows them: the offending text highlighted (the span is
an offset into the field's original text) in a short excerpt, with the field's Chinese name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from bot.items import prereview
from bot.models import Finding, Item, ItemStatus, ItemVersion
from moderation.findings import FindingData
from moderation.rules.enforcement import FIELDS

CONTEXT_CHARS = 60
FIELD_LABELS = {
    "title": "标题",
    "wechat_title": "微信标题",
    "summary": "摘要",
    "body": "正文",
    "doc_number": "文号",
    "office": "处室",
    "column": "栏目",
    "channels": "渠道",
    "disclosure": "公开属性",
    "withheld_basis": "不予公开依据",
    "related_id": "关联政策文件",
    "interpretations": "政策解读",
    "interpretation_forms": "解读形式",
    "links": "链接",
    "enforcement": "执法公示信息",
    "written_on": "成文日期",
    "topic": "主题分类",
    "publisher": "发布机构",
    **{f"enforcement.{key}": label for key, label in FIELDS},
    "enforcement.target_type": "执法对象类型",
}


@dataclass(frozen=True)
class ShownFinding:
    finding: Finding
    field_label: str
    excerpt: Markup | None


def field_text(snap: dict[str, Any], name: str) -> str:
    if name.startswith("enforcement."):
        value = (snap.get("enforcement") or {}).get(name.split(".", 1)[1], "")
    else:
        value = snap.get(name, "")
    return value if isinstance(value, str) else ""


def highlight(text: str, start: int, end: int, context: int = CONTEXT_CHARS) -> Markup | None:
    """An escaped excerpt around text[start:end] with that part in <mark>; None if the span
    does not fit the text (it was computed on another version)."""
    if not 0 <= start <= end <= len(text):
        return None
    left = max(0, start - context)
    right = min(len(text), end + context)
    return Markup("{}{}<mark>{}</mark>{}{}").format(
        "…" if left else "",
        escape(text[left:start]),
        escape(text[start:end]) or "␣",
        escape(text[end:right]),
        "…" if right < len(text) else "",
    )


@dataclass(frozen=True)
class LiveFinding:
    """A finding of the form as typed (not stored): what the editor shows while writing."""

    finding: FindingData
    field_label: str
    excerpt: Markup | None


def live_findings(findings: list[FindingData], snap: dict[str, Any]) -> list[LiveFinding]:
    out = []
    for f in findings:
        excerpt = highlight(field_text(snap, f.field), *f.span) if f.span else None
        out.append(LiveFinding(f, FIELD_LABELS.get(f.field, f.field), excerpt))
    return out


async def shown_findings(item: Item) -> list[ShownFinding]:
    """The item's findings now (prereview.findings_now), each with its excerpt: a draft's
    spans are offsets into the item's text, a submitted version's into its snapshot."""
    rows = await prereview.findings_now(item)
    snap: dict[str, Any] = {
        "title": item.title,
        "summary": item.summary,
        "body": item.body,
        "doc_number": item.doc_number,
        "enforcement": item.enforcement,
    }
    if item.status != ItemStatus.DRAFT.value:
        version = await ItemVersion.filter(item_id=item.id, version=item.version).first()
        if version is not None:
            snap = version.snapshot
    out = []
    for f in rows:
        excerpt = None
        if f.span_start is not None and f.span_end is not None:
            excerpt = highlight(field_text(snap, f.field), f.span_start, f.span_end)
        out.append(ShownFinding(f, FIELD_LABELS.get(f.field, f.field), excerpt))
    return out
