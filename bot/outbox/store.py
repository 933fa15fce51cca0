"""Every query that coordinates workers over the outbox (Delivery rows) lives here.

A claim is one statement: on PostgreSQL an UPDATE over a `SELECT … FOR UPDATE SKIP LOCKED`
subquery, on SQLite an UPDATE whose WHERE repeats the claimable condition (SQLite runs one
writer at a time, so the statement itself is the compare-and-set). Each later write by the
worker is conditional on (status = running, lease_owner = me): a worker whose lease was taken
over finds out instead of overwriting the new holder's work.

Outcomes are written in batches (`apply`): one transaction ends many deliveries, settles their
items and appends their audit events, so the cost per delivery stays a fraction of a query.
"""

from __future__ import annotations

import logging
import os
import random
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from bot import audit, db
from bot.db import sql
from bot.models import (
    Delivery,
    DeliveryAction,
    DeliveryStatus,
    Item,
    ItemVersion,
    WorkerHeartbeat,
)
from bot.outbox.claim import Claim
from bot.outbox.settle import settle_items
from bot.search import index as search_index
from bot.site import version as site_version
from bot.timeutil import aware

log = logging.getLogger(__name__)
D = DeliveryStatus
TABLE = Delivery._meta.db_table
ITEM_TABLE = Item._meta.db_table
VERSION_TABLE = ItemVersion._meta.db_table
ACTOR = "system:dispatcher"
MISSED_REASON = "超过允许的延迟窗口，未发布（避免过期推送），请重新排期。"


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


@dataclass
class Outcome:
    """How one attempt at a delivery ended: finished (status is terminal) or retry later."""

    delivery: Delivery
    status: DeliveryStatus  # PENDING means "retry at retry_at"
    error: str = ""
    error_class: str = ""
    remote_id: str = ""
    remote_url: str = ""
    retry_at: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)


# -- rows written by people's actions, inside the caller's transaction ----------------------
async def enqueue(
    conn: BaseDBAsyncClient,
    item_id: int,
    version: int,
    action: DeliveryAction,
    channels: Sequence[str],
    due: datetime,
) -> None:
    """Write outbox rows for an item version; the unique (item, version, channel, action) key
    refuses a second row for the same delivery."""
    await Delivery.bulk_create(
        [
            Delivery(
                item_id=item_id,
                item_version=version,
                channel=name,
                action=action.value,
                due_at=due,
                next_attempt_at=due,
            )
            for name in channels
        ],
        using_db=conn,
    )


async def cancel_pending(conn: BaseDBAsyncClient, item_id: int, action: DeliveryAction) -> int:
    """Cancel an item's deliveries of `action` that have not been claimed yet."""
    now = datetime.now(UTC)
    return (
        await Delivery.filter(
            item_id=item_id, action=action.value, status=DeliveryStatus.PENDING.value
        )
        .using_db(conn)
        .update(status=DeliveryStatus.CANCELLED.value, finished_at=now, updated_at=now)
    )


async def reschedule(conn: BaseDBAsyncClient, item_id: int, version: int, due: datetime) -> int:
    """Move the pending publications of an item version to `due`."""
    return (
        await Delivery.filter(
            item_id=item_id,
            item_version=version,
            status=DeliveryStatus.PENDING.value,
            action=DeliveryAction.PUBLISH.value,
        )
        .using_db(conn)
        .update(due_at=due, next_attempt_at=due, updated_at=datetime.now(UTC))
    )


async def reopen(conn: BaseDBAsyncClient, delivery: Delivery) -> bool:
    """A fresh series of attempts from the checkpoint, due now, if the delivery is still in the
    status it was read in (compare-and-set); False if something changed it meanwhile."""
    now = datetime.now(UTC)
    count = (
        await Delivery.filter(id=delivery.id, status=delivery.status)
        .using_db(conn)
        .update(
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            due_at=now,  # a retried missed delivery must not be judged missed again at once
            next_attempt_at=now,
            finished_at=None,
            error_class="",
            updated_at=now,
        )
    )
    return count == 1


async def close(conn: BaseDBAsyncClient, delivery: Delivery) -> bool:
    """Cancel one delivery if it is still in the status it was read in (compare-and-set)."""
    now = datetime.now(UTC)
    count = (
        await Delivery.filter(id=delivery.id, status=delivery.status)
        .using_db(conn)
        .update(status=DeliveryStatus.CANCELLED.value, finished_at=now, updated_at=now)
    )
    return count == 1


async def notify(conn: BaseDBAsyncClient) -> None:
    """Tell dispatchers in other processes that the outbox changed (PostgreSQL NOTIFY is
    delivered at commit). SQLite processes notice through bot/outbox/wakeup.py's file watch."""
    if conn.capabilities.dialect == "postgres":
        await conn.execute_query("NOTIFY gongkai_outbox")


@dataclass(frozen=True)
class ItemState:
    status: str
    version: int


@dataclass(frozen=True)
class Loaded:
    """The items (their state) and approved versions a claimed batch refers to."""

    items: dict[int, ItemState]
    versions: dict[tuple[int, int], ItemVersion]


class Outbox:
    def __init__(self, owner: str, lease_seconds: float, missed_after: timedelta) -> None:
        self.owner = owner
        self.lease = timedelta(seconds=lease_seconds)
        self.missed_after = missed_after

    async def claim(self, channel: str, limit: int) -> list[Delivery]:
        """Take up to `limit` due deliveries of a channel (or ones whose lease expired), read
        whole in the same statement.

        A publish overdue past the missed window that never began is left for mark_missed
        (which the dispatcher runs once a sweep, not before every claim): it must not go out
        stale in between."""
        now = datetime.now(UTC)
        rows = await Claim(
            TABLE,
            "channel = ? AND ((status = 'pending' AND next_attempt_at <= ? AND NOT "
            "(action = 'publish' AND due_at < ? AND attempts = 0 AND checkpoint = '{}')) OR "
            "(status = 'running' AND lease_expires_at < ?))",
            [channel, now, now - self.missed_after, now],
            "status = 'running', lease_owner = ?, lease_expires_at = ?, "
            "attempts = attempts + 1, updated_at = ?",
            [self.owner, now + self.lease, now],
        ).take(limit)
        return sorted((Delivery._init_from_db(**row) for row in rows), key=lambda d: d.id)

    async def mark_missed(self, channel: str) -> int:
        """Publish deliveries overdue by more than the window become `missed`, not sent stale.

        One that may have begun on the remote side (an attempt made, or a checkpoint such as a
        submitted WeChat publish job) is finished instead: it may already be live, and
        stopping now would strand it."""
        now = datetime.now(UTC)
        cutoff = now - self.missed_after
        overdue = Delivery.filter(
            channel=channel,
            action=DeliveryAction.PUBLISH.value,
            status=D.PENDING.value,
            due_at__lt=cutoff,
        )
        if not await overdue.exists():  # the common case costs one read, no write lock
            return 0
        async with in_transaction() as conn:
            rows = await conn.execute_query_dict(
                sql(
                    f"UPDATE {TABLE} SET status = 'missed', finished_at = ?, updated_at = ?, "
                    "last_error = ? WHERE channel = ? AND action = 'publish' AND "
                    "status = 'pending' AND due_at < ? AND attempts = 0 AND checkpoint = '{}' "
                    "RETURNING id, item_id"
                ),
                [now, now, MISSED_REASON, channel, cutoff],
            )
            events = [
                audit.Event(
                    ACTOR,
                    "delivery.missed",
                    "delivery",
                    row["id"],
                    {"item_id": row["item_id"], "channel": channel},
                )
                for row in rows
            ]
            events += await settle_items(conn, {int(r["item_id"]) for r in rows})
            await audit.record_many(conn, events)
        return len(rows)

    async def next_due(self, channel: str) -> datetime | None:
        """When the next delivery of this channel becomes claimable (a due time or lease expiry)."""
        rows = await db.connection().execute_query_dict(
            sql(
                f"SELECT (SELECT MIN(next_attempt_at) FROM {TABLE} WHERE channel = ? AND "
                "status = 'pending') AS pending, (SELECT MIN(lease_expires_at) FROM "
                f"{TABLE} WHERE channel = ? AND status = 'running') AS running"
            ),
            [channel, channel],
        )
        times = [aware(v) for v in rows[0].values() if v is not None]
        return min(times) if times else None

    async def save_checkpoint(self, delivery_id: int, checkpoint: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        count = await Delivery.filter(
            id=delivery_id, status=D.RUNNING.value, lease_owner=self.owner
        ).update(checkpoint=checkpoint, lease_expires_at=now + self.lease, updated_at=now)
        if count != 1:
            raise LeaseLost(delivery_id)

    async def renew(self, delivery_ids: Sequence[int]) -> int:
        """Extend the leases of the deliveries this worker is still working on (one statement).
        Only those: a delivery whose outcome could not be written must be let expire."""
        if not delivery_ids:
            return 0
        now = datetime.now(UTC)
        return await Delivery.filter(
            id__in=list(delivery_ids), status=D.RUNNING.value, lease_owner=self.owner
        ).update(lease_expires_at=now + self.lease)

    async def apply(self, outcomes: Sequence[Outcome]) -> set[int]:
        """Write a batch of outcomes in one transaction: the deliveries still leased to us
        end or go back to pending, their items are settled, and the audit events appended.
        Returns the ids whose lease was lost (nothing is written for those)."""
        if not outcomes:
            return set()
        now = datetime.now(UTC)
        ids = [o.delivery.id for o in outcomes]
        # One UPDATE for the whole batch, its values joined in: the WHERE keeps to the rows
        # still leased to us and RETURNING says which those were.
        cast = _pg_casts if db.is_postgres() else _no_casts
        row = "(" + ", ".join(cast(VALUE_TYPES)) + ")"
        names = ", ".join(f"column{i + 1} AS {name}" for i, name in enumerate(VALUE_COLUMNS))
        values = []
        for o in outcomes:
            done = o.status != D.PENDING
            values += [
                o.delivery.id,
                o.status.value,
                now if done else None,
                None if done else (o.retry_at or now),
                o.error,
                o.error_class,
                (o.remote_id or o.delivery.remote_id) if done else o.delivery.remote_id,
                (o.remote_url or o.delivery.remote_url) if done else o.delivery.remote_url,
            ]
        # Published on the website: the search documents, segmented before the transaction.
        prepared = await search_index.prepare_published(
            (o.delivery.item_id, o.delivery.item_version)
            for o in outcomes
            if o.status == D.DONE
            and o.delivery.channel == site_version.PUBLIC_CHANNEL
            and o.delivery.action == DeliveryAction.PUBLISH.value
        )
        async with in_transaction() as conn:
            rows = await conn.execute_query_dict(
                sql(
                    f"UPDATE {TABLE} SET status = v.status, finished_at = v.finished_at, "
                    "next_attempt_at = COALESCE(v.next_at, next_attempt_at), updated_at = ?, "
                    "lease_owner = '', lease_expires_at = NULL, last_error = v.last_error, "
                    "error_class = v.error_class, remote_id = v.remote_id, "
                    f"remote_url = v.remote_url FROM (SELECT {names} FROM (VALUES "
                    f"{', '.join(row for _ in outcomes)}) AS x) AS v "
                    f"WHERE {TABLE}.id = v.id AND {TABLE}.status = 'running' "
                    f"AND {TABLE}.lease_owner = ? RETURNING {TABLE}.id"
                ),
                [now, *values, self.owner],
            )
            owned = {int(r["id"]) for r in rows}
            finished = [o for o in outcomes if o.delivery.id in owned and o.status != D.PENDING]
            events = [_event(o) for o in finished]
            events += await settle_items(conn, {o.delivery.item_id for o in finished})
            await audit.record_many(conn, events)
            if any(o.delivery.channel == site_version.PUBLIC_CHANNEL for o in finished):
                await site_version.announce(conn)  # an item appeared, changed or left
            public = {
                o.delivery.item_id
                for o in finished
                if o.status == D.DONE and o.delivery.channel == site_version.PUBLIC_CHANNEL
            }
            await search_index.store_published(conn, [d for d in prepared if d.item_id in public])
        return set(ids) - owned

    async def release(self, delivery_ids: Sequence[int], untried: bool = True) -> int:
        """Give claimed deliveries back (shutdown) to be taken at once; the attempt does not
        count if they were never tried. Only those still running under this worker's lease;
        returns how many."""
        now, given = datetime.now(UTC), 0
        undo = ", attempts = attempts - 1" if untried else ""
        for start in range(0, len(delivery_ids), 500):
            chunk = list(delivery_ids[start : start + 500])
            marks = ", ".join("?" for _ in chunk)
            count, _ = await db.connection().execute_query(
                sql(
                    f"UPDATE {TABLE} SET status = 'pending', lease_owner = '', "
                    f"lease_expires_at = NULL, updated_at = ?, next_attempt_at = ?{undo} "
                    f"WHERE id IN ({marks}) AND status = 'running' "
                    "AND lease_owner = ?"
                ),
                [now, now, *chunk, self.owner],
            )
            given += int(count)
        return given

    async def count_backlog(self) -> int:
        return await Delivery.filter(
            status=D.PENDING.value, next_attempt_at__lte=datetime.now(UTC)
        ).count()

    async def load(self, deliveries: list[Delivery]) -> Loaded:
        """The state of a claimed batch's items and their approved versions, in one query."""
        item_ids = sorted({d.item_id for d in deliveries})
        wanted = {(d.item_id, d.item_version) for d in deliveries}
        numbers = sorted({v for _, v in wanted})
        # The model's columns (known once tortoise is initialised: the foreign key's among them)
        names = tuple(ItemVersion._meta.fields_db_projection.values())
        columns = ", ".join(f"v.{c} AS v_{c}" for c in names)
        rows = await db.connection().execute_query_dict(
            sql(
                f"SELECT i.id AS item_id, i.status AS item_status, i.version AS item_current, "
                f"{columns} FROM {ITEM_TABLE} i LEFT JOIN {VERSION_TABLE} v ON v.item_id = i.id "
                f"AND v.version IN ({', '.join('?' for _ in numbers)}) "
                f"WHERE i.id IN ({', '.join('?' for _ in item_ids)})"
            ),
            [*numbers, *item_ids],
        )
        items: dict[int, ItemState] = {}
        versions: dict[tuple[int, int], ItemVersion] = {}
        for r in rows:
            items[r["item_id"]] = ItemState(r["item_status"], r["item_current"])
            if (r["item_id"], r["v_version"]) in wanted:
                fields = {c: r[f"v_{c}"] for c in names}
                versions[(r["item_id"], r["v_version"])] = ItemVersion._init_from_db(**fields)
        return Loaded(items, versions)

    async def beat(self, started: datetime, consumed_at: datetime | None) -> None:
        """This worker's heartbeat: alive now, since `started`, last consumed at, backlog."""
        now = datetime.now(UTC)
        backlog = await self.count_backlog()
        await WorkerHeartbeat.update_or_create(
            worker_id=self.owner,
            defaults={
                "role": "worker",
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "started_at": started,
                "beat_at": now,
                "consumed_at": consumed_at,
                "backlog": backlog,
            },
        )


# The columns of an outcome row in Outbox.apply, and their PostgreSQL types (its VALUES
# parameters would otherwise be text).
VALUE_COLUMNS = (
    "id",
    "status",
    "finished_at",
    "next_at",
    "last_error",
    "error_class",
    "remote_id",
    "remote_url",
)
VALUE_TYPES = ("int", "text", "timestamptz", "timestamptz", "text", "text", "text", "text")


def _pg_casts(types: Sequence[str]) -> list[str]:
    return [f"CAST(? AS {t})" for t in types]


def _no_casts(types: Sequence[str]) -> list[str]:
    return ["?" for _ in types]


def _event(o: Outcome) -> audit.Event:
    d = o.delivery
    details: dict[str, Any] = {
        "item_id": d.item_id,
        "version": d.item_version,
        "channel": d.channel,
        "action": d.action,
        "attempts": d.attempts,
        **({"error": o.error} if o.error else {}),
        **({"remote_url": o.remote_url} if o.remote_url else {}),
        **o.details,
    }
    return audit.Event(ACTOR, f"delivery.{o.status.value}", "delivery", d.id, details)
