"""Audit events told in words: who (a display name), what (audit_actions.py), on what (an
item by its title, a comment by its number, a person by name) and the details as Chinese
field names and values, never JSON. The audit log, its CSV and the histories of an item and a
comment all tell events here."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from bot.items.itemfile import FIELD_LABELS as ITEM_FIELDS
from bot.matters.tasks import REASON_LABELS
from bot.models import (
    COMMENT_STATUS_LABELS,
    DELIVERY_ACTION_LABELS,
    DELIVERY_STATUS_LABELS,
    KIND_LABELS,
    ROLE_LABELS,
    STATUS_LABELS,
    VALIDITY_LABELS,
    AuditEvent,
)
from bot.reports.labels import channel_label
from bot.web.console.audit_actions import (
    ACTOR_KEYS,
    FIELDS,
    FIELDS_OF,
    MEANINGFUL_EMPTY,
    action_text,
)
from bot.web.console.labels import Names

# What is already said by the target (the item's title, the person's name): not repeated.
SHOWN_BY_TARGET = {
    "item": {"title"},
    "delivery": {"item_id", "channel"},
    "user": {"username"},
    "qa_entry": {"comment_id"},
    "media": {"filename", "item_id"},
    "mass_send": {"day"},
    "matter_task": {"matter"},
}


def _plain(labels: Mapping[Any, str]) -> dict[str, str]:
    return {str(key): label for key, label in labels.items()}


STATUS_OF = {
    "item": _plain(STATUS_LABELS),
    "delivery": _plain(DELIVERY_STATUS_LABELS),
    "comment": _plain(COMMENT_STATUS_LABELS),
}
ROLES = _plain(ROLE_LABELS)
RULE_FAMILIES = {
    "wording": "用语",
    "links": "链接",
    "privacy": "个人信息",
    "secrecy": "涉密标志",
    "dates": "日期",
    "disclosure": "公开属性",
    "doc_number": "文号",
    "enforcement": "执法公示",
    "interpretation": "政策解读",
    "metadata": "目录信息",
    "required": "必填项",
    "channel_limits": "渠道限制",
}
THROTTLE_KEYS = {"account": "账号", "address": "IP 地址", "device": "设备"}
SESSION_END_REASONS = {
    "disable": "账号停用",
    "reset_password": "密码重设",
    "revoke": "管理员注销",
    "password_change": "本人修改密码",
}
# Fields whose values are names of a closed set.
VALUE_LABELS = {
    "action": _plain(DELIVERY_ACTION_LABELS),
    "kind": _plain(KIND_LABELS),
    "validity": _plain(VALIDITY_LABELS),
    "key": THROTTLE_KEYS,
    "reasons": REASON_LABELS,
}
CHANNEL_KEYS = {"channel", "channels", "retract_on", "cannot_retract"}
TIME_KEYS = {"due_at", "publish_at", "upstream_approved_at"}
# Where a target opens in the console, by kind, for viewers who may open it.
LINKS = {
    "item": "/console/items/{}",
    "comment": "/console/inbox/{}",
    "user": "/console/users/{}",
    "matter_task": "/console/tasks/{}",
}


@dataclass(frozen=True)
class Told:
    """One event as people read it."""

    event: AuditEvent
    at: str  # local time
    actor: str
    action: str  # the action's name
    target: str
    href: str  # where the target opens ("" when the viewer cannot open it)
    sentence: Markup  # with the target linked
    text: str  # the sentence as plain text
    details: str  # 说明: the details in words


def _id(value: Any) -> int | None:
    """A row id as stored in an event (an int, or its digits), else None."""
    raw = str(value)
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def needed(events: Iterable[AuditEvent]) -> dict[str, set[Any]]:
    """What Names.load must read to tell these events."""
    actors: set[str] = set()
    usernames: set[str] = set()
    user_ids: set[int] = set()
    item_ids: set[int] = set()
    for e in events:
        actors.add(e.actor)
        details = _details(e)
        if e.target_type == "item" and (i := _id(e.target_id)) is not None:
            item_ids.add(i)
        if e.target_type == "user":
            if (i := _id(e.target_id)) is not None:
                user_ids.add(i)
            else:
                usernames.add(e.target_id)
        items = details.get("items")
        for value in [details.get("item_id"), *(items if isinstance(items, list) else [])]:
            if (i := _id(value)) is not None:
                item_ids.add(i)
        actors.update(str(details[k]) for k in ACTOR_KEYS if details.get(k))
        usernames.update(
            details[k] for k in ("assignee", "username") if isinstance(details.get(k), str)
        )
    return {"actors": actors, "usernames": usernames, "user_ids": user_ids, "item_ids": item_ids}


async def tell_all(
    events: Sequence[AuditEvent], tz: ZoneInfo, linkable: Collection[str] = ()
) -> list[Told]:
    """The events told, reading the names they need once."""
    teller = Teller(await Names.load(**needed(events)), tz, linkable)
    return [teller.tell(e) for e in events]


class Teller:
    """Tells events with the names already read. `linkable`: the kinds of target the viewer
    may open (item, comment, user); others are named without a link."""

    def __init__(self, names: Names, tz: ZoneInfo, linkable: Collection[str] = ()) -> None:
        self.names = names
        self.tz = tz
        self.linkable = frozenset(linkable)

    def tell(self, e: AuditEvent) -> Told:
        text = action_text(e.action)
        actor = self.names.actor(e.actor)
        target, kind, ident = self.target(e)
        linked = kind in self.linkable and kind in LINKS and ident.isdigit()
        href = LINKS[kind].format(ident) if linked else ""
        shown: Markup | str = Markup('<a href="{}">{}</a>').format(href, target) if href else target
        sentence = Markup(escape(text.sentence)).format(actor=actor, target=shown)
        return Told(
            event=e,
            at=self.local(e.at),
            actor=actor,
            action=text.label,
            target=target,
            href=href,
            sentence=sentence,
            text=text.sentence.format(actor=actor, target=target),
            details=self.details(e),
        )

    def local(self, when: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
        if when is None:
            return ""
        return when.astimezone(self.tz).strftime(fmt)

    def target(self, e: AuditEvent) -> tuple[str, str, str]:
        """(the target named, the kind of page it opens in, the id in that page's path)."""
        d = _details(e)
        kind, ident = e.target_type, e.target_id
        n = self.names
        if kind == "item":
            return n.item(ident), "item", ident
        if kind == "delivery":
            item_id = str(d.get("item_id", ""))
            where = channel_label(str(d["channel"])) if d.get("channel") else ""
            about = n.item(item_id) if item_id.isdigit() else ""
            inner = "，".join(p for p in (about, where) if p)
            return f"投递 #{ident}" + (f"（{inner}）" if inner else ""), "item", item_id
        if kind == "comment":
            return f"留言 #{ident}", "comment", ident
        if kind == "qa_entry":
            comment = str(d.get("comment_id") or "")
            suffix = f"（留言 #{comment}）" if comment else ""
            return f"问答 #{ident}{suffix}", "comment", comment
        if kind == "user":
            user = n.by_id.get(int(ident)) if ident.isdigit() else n.users.get(ident)
            return n.user_id(ident), "user", str(user.id) if user is not None else ""
        if kind == "media":
            name = f"素材「{d.get('filename') or ident}」"
            item_id = str(d.get("item_id", ""))
            if item_id.isdigit():
                return f"{name}（用于{n.item(item_id)}）", "item", item_id
            return name, "", ""
        if kind == "mass_send":
            day = d.get("day")
            return (f"{day} 的微信群发" if day else f"微信群发 #{ident}"), "", ""
        if kind == "matter_task":
            matter = d.get("matter")
            named = f"专项回应任务 #{ident}" + (f"（{matter}）" if matter else "")
            return named, "matter_task", ident
        if kind == "matters":
            return "办事事项的归集", "", ""
        if kind == "category_model":
            return f"留言分类模型 #{ident}", "", ""
        if kind == "import":
            return f"文件「{ident}」", "", ""
        if kind == "address":
            return f"IP 地址 {ident}", "", ""
        if kind == "audit":
            return "审计日志", "", ""
        return f"记录 #{ident}", "", ""

    def details(self, e: AuditEvent) -> str:
        hidden = SHOWN_BY_TARGET.get(e.target_type, set())
        parts = []
        for key, value in _details(e).items():
            if key in hidden or (value in (None, "", []) and key not in MEANINGFUL_EMPTY):
                continue  # said by the target, or nothing to say (no reason given, no findings)
            label = FIELDS_OF.get((e.action, key)) or FIELDS.get(key) or key
            parts.append(f"{label}：{self.value(e, key, value)}")
        return "；".join(parts)

    def value(self, e: AuditEvent, key: str, value: Any) -> str:
        if value is None or value == "":
            return {"assignee": "（取消分派）", "validity": "有效"}.get(key, "无")
        if isinstance(value, bool):
            return "是" if value else "否"
        if key in ("findings", "rules", "warnings") and isinstance(value, list):
            return _rules(value)
        if key == "images" and isinstance(value, list):  # stored pictures: by their names
            return "、".join(str(i.get("name", "")) for i in value if isinstance(i, dict)) or "无"
        if isinstance(value, list):
            return "、".join(self.value(e, key, v) for v in value) or "无"
        if isinstance(value, dict):
            inner = (f"{FIELDS.get(k, k)}：{self.value(e, k, v)}" for k, v in value.items())
            return "，".join(inner) or "无"
        return self._scalar(e, key, value)

    def _scalar(self, e: AuditEvent, key: str, value: Any) -> str:
        n = self.names
        raw = str(value)
        if key in CHANNEL_KEYS:
            return channel_label(raw)
        if key in ("roles", "before"):
            return ROLES.get(raw, raw)
        if key == "from" and e.action == "comment.escalate":
            return f"{raw} 级"
        if key in ("status", "from") and e.target_type in STATUS_OF:
            return STATUS_OF[e.target_type].get(raw, raw)
        if key in TIME_KEYS:
            return self._time(raw)
        if key == "fields":
            return ITEM_FIELDS.get(raw, raw)
        if key == "reason" and e.action == "user.sessions_end":
            return SESSION_END_REASONS.get(raw, raw)
        if key in VALUE_LABELS:
            return VALUE_LABELS[key].get(raw, raw)
        return self._formatted(key, raw, value, n)

    def _formatted(self, key: str, raw: str, value: Any, n: Names) -> str:
        if key in ("version", "new_version"):
            return f"第 {raw} 版"
        if key in ("item_id", "items"):
            return n.item(raw)
        if key in ("assignee", "username"):
            return n.username(raw)
        if key == "comment_id":
            return f"留言 #{raw}"
        if key in ACTOR_KEYS:
            return n.actor(raw)
        if key in ("note_id", "reply_id", "finding", "proposal_id"):
            return f"#{raw}"
        if key == "level":
            return f"{raw} 级"
        if key == "wait":
            return f"{raw} 秒"
        if key in ("cancelled_deliveries", "ended", "cleared"):
            return f"{raw} 个" if key != "cancelled_deliveries" else f"{raw} 条"
        if key == "bytes" and isinstance(value, int):
            return _size(value)
        if key == "accuracy" and isinstance(value, int | float):
            return f"{value * 100:.1f}%"
        if key == "type":
            return raw.upper()
        return raw

    def _time(self, raw: str) -> str:
        try:
            when = datetime.fromisoformat(raw)
        except ValueError:
            return raw
        return self.local(when, "%Y-%m-%d %H:%M") if when.tzinfo else raw


def _details(e: AuditEvent) -> dict[str, Any]:
    return e.details if isinstance(e.details, dict) else {}


def _rules(rules: list[Any]) -> str:
    """Pre-review rule names by family, counted: 用语 2 条、链接 1 条."""
    counts: dict[str, int] = {}
    for rule in rules:
        family = RULE_FAMILIES.get(str(rule).split(".", 1)[0], "其他")
        counts[family] = counts.get(family, 0) + 1
    return "、".join(f"{family} {n} 条" for family, n in counts.items()) or "无"


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} 字节"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / 1024 / 1024:.1f} MB"
