"""Every query that coordinates workers over the outbox (Delivery rows) lives here.

A claim is one statement: on PostgreSQL an UPDATE over a `SELECT … FOR UPDATE SKIP LOCKED`
subquery, on SQLite an UPDATE whose WHERE repeats the claimable condition (SQLite runs one
writer at a time, so the statement itself is the compare-and-set). Each later write by the
worker is a compare-and-set on (status = running, lease_owner = me): a worker whose lease was
taken over finds out instead of overwriting the new holder's work.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from bot import audit, db
from bot.models import (
    Delivery,
    DeliveryAction,
    DeliveryStatus,
    Item,
    ItemStatus,
)

D = DeliveryStatus
TABLE = Delivery._meta.db_table


class LeaseLost(Exception):
    """Another worker holds this delivery now (our lease expired); stop working on it."""


@dataclass(frozen=True)
class Backoff:
    base: float
    cap: float

    def delay(self, attempts: int) -> float:
        """Exponential backoff with full jitter: uniform in [base, min(cap, base * 2^(n-1))]."""
        ceiling = min(self.cap, self.base * (2 ** max(0, attempts - 1)))
        return random.uniform(min(self.base, ceiling), ceiling)


class Outbox:
    def __init__(self, owner: str, lease_seconds: float, missed_after: timedelta) -> None:
        self.owner = owner
        self.lease = timedelta(seconds=lease_seconds)
        self.missed_after = missed_after

    def _sql(self, query: str) -> str:
        if not db.is_postgres():
            return query
        n = 0
        out = []
        for ch in query:
            if ch == "?":
                n += 1
                out.append(f"${n}")
            else:
                out.append(ch)
        return "".join(out)

    async def claim(self, channel: str, limit: int) -> list[int]:
        """Take up to `limit` due deliveries of a channel (or ones whose lease expired)."""
        now = datetime.now(UTC)
        expires = now + self.lease
        lock = " FOR UPDATE SKIP LOCKED" if db.is_postgres() else ""
        query = self._sql(
            f"UPDATE {TABLE} SET status = 'running', lease_owner = ?, lease_expires_at = ?, "
            "attempts = attempts + 1, updated_at = ? "
            f"WHERE id IN (SELECT id FROM {TABLE} WHERE channel = ? AND ("
            "(status = 'pending' AND next_attempt_at <= ?) OR "
            "(status = 'running' AND lease_expires_at < ?)) "
            f"ORDER BY next_attempt_at, id LIMIT ?{lock}) "
            "AND ((status = 'pending' AND next_attempt_at <= ?) OR "
            "(status = 'running' AND lease_expires_at < ?)) RETURNING id"
        )
        conn = db.connection()
        rows = await conn.execute_query_dict(
            query, [self.owner, expires, now, channel, now, now, limit, now, now]
        )
        return sorted(int(r["id"]) for r in rows)

    async def mark_missed(self, channel: str) -> list[int]:
        """Publish deliveries overdue by more than the window become `missed`, not sent stale."""
        now = datetime.now(UTC)
        cutoff = now - self.missed_after
        async with in_transaction() as conn:
            rows = await conn.execute_query_dict(
                self._sql(
                    f"UPDATE {TABLE} SET status = 'missed', finished_at = ?, updated_at = ?, "
                    "last_error = ? WHERE channel = ? AND action = 'publish' AND "
                    "status = 'pending' AND due_at < ? RETURNING id, item_id"
                ),
                [
                    now,
                    now,
                    "超过允许的延迟窗口，未发布（避免过期推送），请重新排期。",
                    channel,
                    cutoff,
                ],
            )
            for row in rows:
                await audit.record(
                    conn,
                    "system:dispatcher",
                    "delivery.missed",
                    "delivery",
                    row["id"],
                    {"item_id": row["item_id"], "channel": channel},
                )
            for item_id in {int(r["item_id"]) for r in rows}:
                await settle_item(conn, item_id)
        return [int(r["id"]) for r in rows]

    async def next_due(self, channel: str) -> datetime | None:
        """When the next delivery of this channel becomes claimable (a due time or lease expiry)."""
        pending = (
            await Delivery.filter(channel=channel, status=D.PENDING.value)
            .order_by("next_attempt_at")
            .first()
            .values("next_attempt_at")
        )
        running = (
            await Delivery.filter(channel=channel, status=D.RUNNING.value)
            .order_by("lease_expires_at")
            .first()
            .values("lease_expires_at")
        )
        times = [
            t
            for t in (
                pending and pending["next_attempt_at"],
                running and running["lease_expires_at"],
            )
            if t
        ]
        return min(times) if times else None

    def _mine(self, delivery_id: int) -> Any:
        return Delivery.filter(id=delivery_id, status=D.RUNNING.value, lease_owner=self.owner)

    async def save_checkpoint(self, delivery_id: int, checkpoint: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        count = await self._mine(delivery_id).update(
            checkpoint=checkpoint, lease_expires_at=now + self.lease, updated_at=now
        )
        if count != 1:
            raise LeaseLost(delivery_id)

    async def renew(self, delivery_id: int) -> None:
        now = datetime.now(UTC)
        if await self._mine(delivery_id).update(lease_expires_at=now + self.lease) != 1:
            raise LeaseLost(delivery_id)

    async def finish(
        self,
        delivery: Delivery,
        status: DeliveryStatus,
        *,
        error: str = "",
        error_class: str = "",
        remote_id: str = "",
        remote_url: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        """End a delivery (done, dead, unconfirmed, cancelled) with its audit event and the
        item's resulting status, in one transaction."""
        now = datetime.now(UTC)
        async with in_transaction() as conn:
            count = (
                await self._mine(delivery.id)
                .using_db(conn)
                .update(
                    status=status.value,
                    finished_at=now,
                    updated_at=now,
                    lease_owner="",
                    lease_expires_at=None,
                    last_error=error,
                    error_class=error_class,
                    remote_id=remote_id or delivery.remote_id,
                    remote_url=remote_url or delivery.remote_url,
                )
            )
            if count != 1:
                raise LeaseLost(delivery.id)
            await audit.record(
                conn,
                "system:dispatcher",
                f"delivery.{status.value}",
                "delivery",
                delivery.id,
                {
                    "item_id": delivery.item_id,
                    "version": delivery.item_version,
                    "channel": delivery.channel,
                    "action": delivery.action,
                    "attempts": delivery.attempts,
                    **({"error": error} if error else {}),
                    **({"remote_url": remote_url} if remote_url else {}),
                    **(details or {}),
                },
            )
            await settle_item(conn, delivery.item_id)

    async def retry(self, delivery: Delivery, delay: float, error: str, error_class: str) -> None:
        now = datetime.now(UTC)
        count = await self._mine(delivery.id).update(
            status=D.PENDING.value,
            next_attempt_at=now + timedelta(seconds=delay),
            lease_owner="",
            lease_expires_at=None,
            last_error=error,
            error_class=error_class,
            updated_at=now,
        )
        if count != 1:
            raise LeaseLost(delivery.id)

    async def release(self, delivery_id: int) -> None:
        """Give a claimed delivery back untouched (shutdown); the attempt does not count."""
        now = datetime.now(UTC)
        await self._mine(delivery_id).update(
            status=D.PENDING.value,
            lease_owner="",
            lease_expires_at=None,
            updated_at=now,
            next_attempt_at=now,
            attempts=F("attempts") - 1,
        )

    async def count_backlog(self) -> int:
        return await Delivery.filter(
            status=D.PENDING.value, next_attempt_at__lte=datetime.now(UTC)
        ).count()


async def settle_item(conn: BaseDBAsyncClient, item_id: int) -> None:
    """Derive the item's status from its current version's publish deliveries."""
    item = await Item.filter(id=item_id).using_db(conn).first()
    if item is None or item.status == ItemStatus.RETRACTED.value:
        return
    now = datetime.now(UTC)
    statuses = (
        await Delivery.filter(
            item_id=item_id, item_version=item.version, action=DeliveryAction.PUBLISH.value
        )
        .using_db(conn)
        .values_list("status", flat=True)
    )
    if not statuses or item.status not in (
        ItemStatus.APPROVED.value,
        ItemStatus.SCHEDULED.value,
        ItemStatus.PUBLISHING.value,
        ItemStatus.PUBLISHED.value,
        ItemStatus.PARTLY_PUBLISHED.value,
        ItemStatus.FAILED.value,
    ):
        return
    done = sum(1 for s in statuses if s == D.DONE.value)
    open_ = sum(1 for s in statuses if s in (D.PENDING.value, D.RUNNING.value))
    changes: dict[str, Any] = {}
    if open_:
        new = ItemStatus.PUBLISHING if done or item.status == ItemStatus.PUBLISHING.value else None
        if new is None:
            return
    elif done == len(statuses):
        new = ItemStatus.PUBLISHED
    elif done:
        new = ItemStatus.PARTLY_PUBLISHED
    else:
        new = ItemStatus.FAILED
    if done:
        changes["published_version"] = item.version
        if item.published_at is None:
            changes["published_at"] = now
    if new.value == item.status and not changes:
        return
    await (
        Item.filter(id=item_id, status=item.status)
        .using_db(conn)
        .update(status=new.value, updated_at=now, **changes)
    )
    if new.value != item.status:
        await audit.record(
            conn,
            "system:dispatcher",
            f"item.{new.value}",
            "item",
            item_id,
            {"version": item.version, "from": item.status},
        )
