"""How the command line shows items and deliveries: rich tables in the configured time zone for
people, plain dicts with UTC times for --json."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from bot.models import (
    DELIVERY_ACTION_LABELS,
    DELIVERY_STATUS_LABELS,
    STATUS_LABELS,
    ItemStatus,
)

SEVERITY_LABELS = {"block": "阻止", "warn": "警告"}


def utc(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


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


def item_json(item: Any) -> dict[str, Any]:
    from bot.lifecycle import CONTENT_FIELDS

    data = {name: getattr(item, name) for name in CONTENT_FIELDS}
    data.update(
        id=item.id,
        version=item.version,
        published_version=item.published_version,
        status=item.status,
        author=item.author.username,
        source=item.source,
        return_reason=item.return_reason,
        retraction_reason=item.retraction_reason,
    )
    for name in (
        "publish_at",
        "created_at",
        "updated_at",
        "submitted_at",
        "approved_at",
        "published_at",
        "retracted_at",
    ):
        data[name] = utc(getattr(item, name))
    return data


def delivery_json(d: Any) -> dict[str, Any]:
    return {
        "id": d.id,
        "item_id": d.item_id,
        "item_version": d.item_version,
        "channel": d.channel,
        "action": d.action,
        "status": d.status,
        "attempts": d.attempts,
        "due_at": utc(d.due_at),
        "next_attempt_at": utc(d.next_attempt_at),
        "remote_id": d.remote_id,
        "remote_url": d.remote_url,
        "last_error": d.last_error,
        "error_class": d.error_class,
        "finished_at": utc(d.finished_at),
    }


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
