"""Approved notices with their first version and a pending publish delivery per channel,
written in bulk: thousands in a second, where the lifecycle takes a transaction each. For the
tests and benchmarks that need a full outbox (tests/scale, test_dispatch_pg, benchmarks/scale.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot import db
from bot.items.lifecycle import snapshot
from bot.models import Delivery, Item, ItemVersion, User


def approved_notice(
    item_id: int, author: User, channels: list[str], at: datetime, **fields: Any
) -> Item:
    """An approved notice (not stored); `fields` override its title, body and so on."""
    values: dict[str, Any] = {
        "kind": "notice",
        "title": f"关于第{item_id}号事项的通知",
        "body": f"第{item_id}号事项的正文。",
        "column": "notice",
        "office": "办公室",
        "status": "approved",
        "submitted_at": at,
        "approved_at": at,
        **fields,
    }
    return Item(id=item_id, channels=channels, author_id=author.id, **values)


async def next_item_id() -> int:
    last = await Item.all().order_by("-id").first()
    return (last.id if last else 0) + 1


async def store_approved(items: list[Item], at: datetime, wake: bool = True) -> None:
    """Store the items, their version 1 (approved at `at`) and a pending publish delivery for
    each of their channels; on PostgreSQL move the id sequence past them and, with `wake`,
    NOTIFY the workers."""
    await Item.bulk_create(items, batch_size=500)
    await ItemVersion.bulk_create(
        [
            ItemVersion(
                item_id=it.id,
                version=1,
                snapshot=snapshot(it),
                created_by="user:editor",
                approved_by="user:reviewer",
                approved_at=at,
            )
            for it in items
        ],
        batch_size=500,
    )
    await Delivery.bulk_create(
        [
            Delivery(item_id=it.id, item_version=1, channel=c, due_at=at, next_attempt_at=at)
            for it in items
            for c in it.channels
        ],
        batch_size=500,
    )
    if db.is_postgres():
        # Explicit ids do not move the sequence: move it, for items created after these.
        table = Item._meta.db_table
        await db.connection().execute_query(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
        )
        if wake:
            await db.connection().execute_query("NOTIFY gongkai_outbox")
