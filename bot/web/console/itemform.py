"""The item editor's form: read the posted fields (by kind: enforcement's structured fields,
an interpretation's forms and policy) into the shapes of bot/items/schemas.py, with Chinese errors
per field, and turn an item back into form values. The publish time is entered in the
configured zone (Asia/Shanghai) and stored in UTC."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from multidict import MultiDictProxy
from pydantic import ValidationError

from bot.items.schemas import ItemCreate, ItemPatch, field_errors
from bot.models import Item
from moderation.interpretation_stats import FORMS
from moderation.rules.enforcement import CATEGORIES, FIELDS

TEXT_FIELDS = (
    "title",
    "wechat_title",
    "summary",
    "body",
    "doc_number",
    "office",
    "withheld_basis",
    "column",
    "topic",
    "publisher",
)
EDITABLE = (
    *TEXT_FIELDS,
    "written_on",
    "disclosure",
    "related_id",
    "interpretation_forms",
    "enforcement",
    "channels",
    "notify",
    "priority",
)
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
TARGET_TYPES = (
    ("", "（按名称判断）"),
    ("natural_person", "自然人"),
    ("legal_person", "法人"),
    ("other_organization", "其他组织"),
)
LABELS = {
    "title": "标题",
    "wechat_title": "微信标题",
    "summary": "摘要",
    "body": "正文",
    "doc_number": "文号",
    "office": "处室",
    "column": "栏目",
    "withheld_basis": "依据",
    "disclosure": "公开属性",
    "related_id": "关联政策文件",
    "interpretation_forms": "解读形式",
    "enforcement": "执法公示信息",
    "channels": "渠道",
    "priority": "优先级",
    "kind": "类型",
    "written_on": "成文日期",
    "topic": "主题分类",
    "publisher": "发布机构",
}
ENFORCEMENT_KEYS = (*(k for k, _ in FIELDS), "target_type")

__all__ = ["CATEGORIES", "FIELDS", "FORMS", "TARGET_TYPES", "ItemForm", "from_item", "parse"]


@dataclass
class ItemForm:
    """What the editor typed: values to show again, and errors by field name."""

    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    publish_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def _str(form: MultiDictProxy[Any], name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def _strs(form: MultiDictProxy[Any], name: str) -> list[str]:
    return [v for v in form.getall(name, []) if isinstance(v, str) and v]


def parse(form: MultiDictProxy[Any], tz: ZoneInfo) -> ItemForm:
    values: dict[str, Any] = {name: _str(form, name).replace("\r\n", "\n") for name in TEXT_FIELDS}
    values["title"] = values["title"].strip()
    values["wechat_title"] = values["wechat_title"].strip()
    values["kind"] = _str(form, "kind")
    values["disclosure"] = _str(form, "disclosure") or "proactive"
    values["interpretation_forms"] = _strs(form, "interpretation_forms")
    values["channels"] = _strs(form, "channels")
    values["notify"] = _str(form, "notify") == "1"
    values["enforcement"] = {
        key: _str(form, f"enf_{key}").strip()
        for key in ENFORCEMENT_KEYS
        if _str(form, f"enf_{key}").strip()
    }
    values["written_on"] = _str(form, "written_on").strip()  # <input type="date">: YYYY-MM-DD
    values["publish_at_local"] = _str(form, "publish_at").strip()
    errors: dict[str, str] = {}
    related = _str(form, "related_id").strip()
    values["related_id"] = None
    if related:
        if related.isdigit() and len(related) < 10:
            values["related_id"] = int(related)
        else:
            errors["related_id"] = f"关联条目编号「{related}」应为正整数。"
    priority = _str(form, "priority").strip() or "0"
    try:
        values["priority"] = int(priority)
    except ValueError:
        values["priority"] = 0
        errors["priority"] = f"优先级「{priority}」应为整数。"
    publish_at = None
    if values["publish_at_local"]:
        try:
            naive = datetime.strptime(values["publish_at_local"], LOCAL_FORMAT)
            publish_at = naive.replace(tzinfo=tz).astimezone(UTC)
        except ValueError:
            errors["publish_at"] = (
                f"发布时间「{values['publish_at_local']}」格式不正确，应为 年-月-日 时:分。"
            )
    return ItemForm(values, errors, publish_at)


def _content(values: dict[str, Any]) -> dict[str, Any]:
    data = {k: values[k] for k in EDITABLE}
    if not data["column"]:
        data["column"] = None
    data["written_on"] = data["written_on"] or None
    return data


def unsaved_snapshot(parsed: ItemForm, item: Item | None) -> dict[str, Any]:
    """What pre-review reads of the form as typed, before it is saved (the editor's findings
    while writing): the item's id and version when it exists, its kind fixed."""
    snap = _content(parsed.values)
    snap["kind"] = item.kind if item is not None else parsed.values["kind"]
    snap["column"] = snap["column"] or snap["kind"]
    snap["written_on"] = snap["written_on"] or None
    snap["id"] = item.id if item is not None else None
    snap["version"] = item.version if item is not None else 0
    return snap


def _errors(exc: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for err in field_errors(exc):
        name = err["field"].split(".", 1)[0]
        label = LABELS.get(err["field"], LABELS.get(name, name))
        out.setdefault(name, f"{label}：{err['message']}")
    return out


def to_create(parsed: ItemForm) -> ItemCreate | None:
    """The new item, or None with parsed.errors filled in."""
    data = {
        **_content(parsed.values),
        "kind": parsed.values["kind"],
        "publish_at": parsed.publish_at,
    }
    try:
        return ItemCreate.model_validate(data)
    except ValidationError as exc:
        parsed.errors.update(_errors(exc))
        return None


def to_patch(parsed: ItemForm, item: Item, default_publisher: str = "") -> ItemPatch | None:
    """Only what differs from the item (an unchanged save must not make a new version). An
    empty 发布机构 is the configured one, on the form and on the item alike."""
    current = _content(from_item(item, ZoneInfo("UTC")))
    data = _content(parsed.values)
    for values in (current, data):
        values["publisher"] = values["publisher"].strip() or default_publisher
    changes = {
        k: v for k, v in data.items() if v != current.get(k) and not (k == "column" and v is None)
    }
    try:
        return ItemPatch.model_validate(changes)
    except ValidationError as exc:
        parsed.errors.update(_errors(exc))
        return None


def from_item(item: Item, tz: ZoneInfo) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(item, name) or "" for name in TEXT_FIELDS}
    values.update(
        kind=item.kind,
        disclosure=item.disclosure,
        related_id=item.related_id,
        written_on=item.written_on.isoformat() if item.written_on else "",
        interpretation_forms=list(item.interpretation_forms or []),
        enforcement=dict(item.enforcement or {}),
        channels=list(item.channels or []),
        notify=bool(item.notify),
        priority=int(item.priority or 0),
        publish_at_local=item.publish_at.astimezone(tz).strftime(LOCAL_FORMAT)
        if item.publish_at
        else "",
    )
    return values


def blank(kind: str, related_id: int | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {name: "" for name in TEXT_FIELDS}
    values.update(
        kind=kind,
        disclosure="proactive",
        related_id=related_id,
        written_on="",
        interpretation_forms=[],
        enforcement={},
        channels=[],
        notify=False,
        priority=0,
        publish_at_local="",
    )
    return values
