"""How the command line shows items and deliveries: rich tables in the configured time zone for
people; for --json, the API's shapes from bot/items/serialize.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from bot.items.serialize import item_json
from bot.models import (
    DELIVERY_ACTION_LABELS,
    DELIVERY_STATUS_LABELS,
    STATUS_LABELS,
    Item,
    ItemStatus,
)

SEVERITY_LABELS = {"block": "阻止", "warn": "警告"}
# The review stage a finding came from (bot/items/prereview.py, bot/outbox/dispatcher.py).
STAGE_LABELS = {"edit": "保存时", "submit": "提交时", "dispatch": "发布前"}


def local(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else "—"


def print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title, show_lines=False)
    for column in columns:
        # A time split over two lines is hard to read: times never wrap.
        table.add_column(
            column, overflow="fold", no_wrap=column.endswith("时间") or column == "下次尝试"
        )
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def item_json_with_author(item: Item) -> dict[str, Any]:
    """The API's item shape plus the author's name, which scripts at a terminal know people
    by; the item must come with its author fetched."""
    return {**item_json(item), "author": item.author.username}


def delivery_rows(deliveries: list[Any], tz: ZoneInfo) -> list[list[str]]:
    open_ = ("pending", "running")
    return [
        [
            str(d.id),
            f"#{d.item_id}",
            str(d.item_version),
            d.channel,
            DELIVERY_ACTION_LABELS.get(d.action, d.action),
            DELIVERY_STATUS_LABELS.get(d.status, d.status),
            str(d.attempts),
            local(d.next_attempt_at, tz) if d.status in open_ else "—",
            d.last_error or "",
        ]
        for d in deliveries
    ]


DELIVERY_COLUMNS = [
    "编号",
    "条目",
    "版本",
    "渠道",
    "动作",
    "状态",
    "尝试次数",
    "下次尝试",
    "最近错误",
]


def status_label(status: str) -> str:
    known = {s.value: s for s in ItemStatus}
    return STATUS_LABELS[known[status]] if status in known else status
