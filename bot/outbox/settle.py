"""An item's status follows its deliveries: once every publish delivery of its version has
ended, the item becomes published, partly published or failed (and a retracted one stays
retracted). Settled inside the transaction that ended the deliveries, with the audit events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from bot import audit, db
from bot.db import sql
from bot.models import Delivery, DeliveryAction, DeliveryStatus, Item, ItemStatus
from bot.timeutil import aware_or_none

D = DeliveryStatus
ITEM_TABLE = Item._meta.db_table
ACTOR = "system:dispatcher"
# Item states that the publication of its deliveries may change.
SETTLEABLE = frozenset(
    s.value
    for s in (
        ItemStatus.APPROVED,
        ItemStatus.SCHEDULED,
        ItemStatus.PUBLISHING,
        ItemStatus.PUBLISHED,
        ItemStatus.PARTLY_PUBLISHED,
        ItemStatus.FAILED,
    )
)


async def settle_items(conn: BaseDBAsyncClient, item_ids: set[int]) -> list[audit.Event]:
    """Derive each item's status from its current version's publish deliveries; return the
    audit events of the status changes."""
    if not item_ids:
        return []
    # On PostgreSQL the items are locked as they are read: two workers finishing deliveries
    # of one item at once would each see the other's as still running and leave the item
    # "publishing". Locked in id order (no deadlock), the second reads the items after the
    # first commits, and then (the next statement) the deliveries with both outcomes.
    lock = " FOR UPDATE" if db.is_postgres() else ""
    marks = ", ".join("?" for _ in item_ids)
    items = [
        _ItemState(
            int(r["id"]),
            str(r["status"]),
            int(r["version"]),
            r["published_version"],
            aware_or_none(r["published_at"]),
        )
        for r in await conn.execute_query_dict(
            sql(
                "SELECT id, status, version, published_version, published_at "
                f"FROM {ITEM_TABLE} WHERE id IN ({marks}) ORDER BY id{lock}"
            ),
            sorted(item_ids),
        )
    ]
    rows = (
        await Delivery.filter(item_id__in=sorted(item_ids), action=DeliveryAction.PUBLISH.value)
        .using_db(conn)
        .values_list("item_id", "item_version", "status")
    )
    statuses: dict[int, list[str]] = {}
    versions = {item.id: item.version for item in items}
    for item_id, version, status in rows:
        if versions.get(item_id) == version:
            statuses.setdefault(item_id, []).append(status)
    now = datetime.now(UTC)
    events = []
    updates = []
    for item in items:
        new = _settled(item.status, statuses.get(item.id, []))
        if new is None:
            continue
        published = D.DONE.value in statuses[item.id]
        if new.value == item.status and (not published or item.published_version == item.version):
            continue
        updates.append(
            [
                new.value,
                now,
                item.version if published else item.published_version,
                item.published_at or (now if published else None),
                item.id,
                item.status,
            ]
        )
        if new.value != item.status:
            details = {"version": item.version, "from": item.status}
            events.append(audit.Event(ACTOR, f"item.{new.value}", "item", item.id, details))
    if updates:
        await conn.execute_many(
            sql(
                f"UPDATE {ITEM_TABLE} SET status = ?, updated_at = ?, published_version = ?, "
                "published_at = ? WHERE id = ? AND status = ?"
            ),
            updates,
        )
    return events


@dataclass
class _ItemState:
    id: int
    status: str
    version: int
    published_version: int | None
    published_at: datetime | None


def _settled(current: str, statuses: list[str]) -> ItemStatus | None:
    if not statuses or current not in SETTLEABLE:
        return None
    done = statuses.count(D.DONE.value)
    still_open = sum(1 for s in statuses if s in (D.PENDING.value, D.RUNNING.value))
    if still_open:
        return ItemStatus.PUBLISHING if done or current == ItemStatus.PUBLISHING else None
    if done == len(statuses):
        return ItemStatus.PUBLISHED
    return ItemStatus.PARTLY_PUBLISHED if done else ItemStatus.FAILED
