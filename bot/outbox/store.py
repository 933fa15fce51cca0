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

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from bot import audit, db
from bot.models import Delivery, DeliveryAction, DeliveryStatus, Item, ItemStatus
from bot.timeutil import aware

log = logging.getLogger(__name__)
D = DeliveryStatus
TABLE = Delivery._meta.db_table
ITEM_TABLE = Item._meta.db_table
ACTOR = "system:dispatcher"
MISSED_REASON = "超过允许的延迟窗口，未发布（避免过期推送），请重新排期。"
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


def sql(query: str) -> str:
    """Write queries with ? placeholders; PostgreSQL gets $1, $2, …"""
    if not db.is_postgres():
        return query
    return _numbered(query)


@functools.lru_cache(maxsize=512)
def _numbered(query: str) -> str:
    # Cached: the hot statements (a batch INSERT per callback burst) recur with few shapes.
    parts = query.split("?")
    return "".join(p + (f"${i + 1}" if i < len(parts) - 1 else "") for i, p in enumerate(parts))


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
        lock = " FOR UPDATE SKIP LOCKED" if db.is_postgres() else ""
        claimable = (
            "((status = 'pending' AND next_attempt_at <= ? AND NOT (action = 'publish' AND "
            "due_at < ? AND attempts = 0 AND checkpoint = '{}')) OR "
            "(status = 'running' AND lease_expires_at < ?))"
        )
        when = [now, now - self.missed_after, now]
        # The locked pick is a CTE so PostgreSQL runs it exactly once: as a plain subquery a
        # generic plan of the prepared statement may re-run it per row, and then LIMIT no
        # longer bounds the claim (one worker took 2,000 rows with LIMIT 8).
        query = sql(
            f"WITH picked AS (SELECT id FROM {TABLE} WHERE channel = ? AND {claimable} "
            f"ORDER BY next_attempt_at, id LIMIT ?{lock}) "
            f"UPDATE {TABLE} SET status = 'running', lease_owner = ?, lease_expires_at = ?, "
            "attempts = attempts + 1, updated_at = ? "
            f"WHERE id IN (SELECT id FROM picked) AND {claimable} RETURNING *"
        )
        params = [channel, *when, limit, self.owner, now + self.lease, now, *when]
        rows = await db.connection().execute_query_dict(query, params)
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
            None if r["published_at"] is None else aware(r["published_at"]),
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


class OutcomeWriter:
    """Gathers outcomes from many in-flight deliveries and writes them with Outbox.apply in
    batches: whatever arrived while the previous batch was being written goes in the next."""

    def __init__(self, outbox: Outbox, max_batch: int = 200, gather_seconds: float = 0.005) -> None:
        self.outbox = outbox
        self.max_batch = max_batch
        self.gather_seconds = gather_seconds
        self._queue: asyncio.Queue[tuple[Outcome, asyncio.Future[None]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-writer")

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def submit(self, outcome: Outcome) -> None:
        """Queue an outcome and wait until it is written; LeaseLost if it was not ours."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put((outcome, future))
        await asyncio.shield(future)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            # Let deliveries finishing at about the same time join this batch: a few
            # milliseconds of latency buy one transaction for many outcomes.
            deadline = asyncio.get_running_loop().time() + self.gather_seconds
            while len(batch) < self.max_batch:
                if self._queue.empty():
                    remaining = deadline - asyncio.get_running_loop().time()
                    if remaining <= 0:
                        break
                    try:
                        batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                    except TimeoutError:
                        break
                else:
                    batch.append(self._queue.get_nowait())
            try:
                lost = await self.outbox.apply([o for o, _ in batch])
            except Exception as exc:  # e.g. the database is briefly unavailable
                log.exception("writing %d delivery outcomes failed", len(batch))
                # The leases run out and other attempts take the deliveries over.
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for outcome, future in batch:
                    if future.done():
                        continue
                    if outcome.delivery.id in lost:
                        future.set_exception(LeaseLost(outcome.delivery.id))
                    else:
                        future.set_result(None)
            finally:
                for _ in batch:
                    self._queue.task_done()
