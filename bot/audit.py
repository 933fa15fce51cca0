"""The append-only, hash-chained audit log: record an event inside the caller's transaction,
and verify the chain.

Appends are serialized: on PostgreSQL by a transaction-scoped advisory lock, taken by the
append function of migration 0006, which chains the rows on the server; on SQLite by the
write lock that every transaction takes up front (bot/db_sqlite.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from bot.models import AuditEvent

GENESIS = "0" * 64
_PG_LOCK_KEY = 0x6B616964  # arbitrary constant naming the audit chain lock


def canonical(
    at: datetime, actor: str, action: str, target_type: str, target_id: str, details: dict[str, Any]
) -> str:
    return json.dumps(
        {
            "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "target": f"{target_type}:{target_id}",
            "details": details,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )


def chain_hash(prev_hash: str, content: str) -> str:
    return hashlib.sha256((prev_hash + "\n" + content).encode()).hexdigest()


@dataclass(frozen=True)
class Event:
    actor: str
    action: str
    target_type: str
    target_id: str | int
    details: dict[str, Any] = field(default_factory=dict)


async def record(
    conn: BaseDBAsyncClient,
    actor: str,
    action: str,
    target_type: str,
    target_id: str | int,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event; call inside the transaction whose change it records."""
    return (await record_many(conn, [Event(actor, action, target_type, target_id, details or {})]))[
        0
    ]


async def record_many(conn: BaseDBAsyncClient, events: list[Event]) -> list[AuditEvent]:
    """Append events in order, chained; call last in the transaction whose changes they
    record, so the chain lock (PostgreSQL) is held only until the commit that follows."""
    if not events:
        return []
    when = datetime.now(UTC)
    rows = [_row(when, event) for event in events]
    if conn.capabilities.dialect == "postgres":
        return await _append_postgres(conn, rows)
    last = await AuditEvent.all().using_db(conn).order_by("-id").first().values("hash")
    prev = last["hash"] if last else GENESIS
    for row in rows:
        row.prev_hash = prev
        row.hash = prev = chain_hash(prev, _content(row))
    await AuditEvent.bulk_create(rows, using_db=conn)
    return rows


def _row(when: datetime, event: Event) -> AuditEvent:
    details = json.loads(json.dumps(event.details, ensure_ascii=False, default=str))
    return AuditEvent(
        at=when,
        actor=event.actor,
        action=event.action,
        target_type=event.target_type,
        target_id=str(event.target_id),
        details=details,
    )


def _content(row: AuditEvent) -> str:
    return canonical(row.at, row.actor, row.action, row.target_type, row.target_id, row.details)


async def _append_postgres(conn: BaseDBAsyncClient, rows: list[AuditEvent]) -> list[AuditEvent]:
    """One statement (gk_audit_append, migration 0006): it takes the chain lock, reads the
    head and inserts the rows with their hashes, computed as chain_hash does, on the server.
    The lock is then held for the commit alone, not for the round trips of reading the head
    and inserting: every approval and every batch of delivery outcomes takes it."""
    payload = [
        {
            "at": row.at.isoformat(),
            "actor": row.actor,
            "action": row.action,
            "target_type": row.target_type,
            "target_id": row.target_id,
            "details": row.details,
            "content": _content(row),
        }
        for row in rows
    ]
    result = await conn.execute_query_dict(
        "SELECT event_id, event_prev, event_hash FROM gk_audit_append($1, $2)",
        [_PG_LOCK_KEY, json.dumps(payload, ensure_ascii=False)],
    )
    for row, out in zip(rows, result, strict=True):
        row.id, row.prev_hash, row.hash = out["event_id"], out["event_prev"], out["event_hash"]
    return rows


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    broken_id: int | None = None
    reason: str = ""


async def verify(batch: int = 1000) -> VerifyResult:
    """Walk the chain in id order; report the first row whose link or content does not match."""
    prev = GENESIS
    checked = 0
    last_id = 0
    while True:
        rows = await AuditEvent.filter(id__gt=last_id).order_by("id").limit(batch)
        if not rows:
            return VerifyResult(ok=True, checked=checked)
        for row in rows:
            if row.prev_hash != prev:
                return VerifyResult(
                    False,
                    checked,
                    row.id,
                    f"事件 #{row.id} 的前一哈希与上一条记录不符：其前面的记录被删除或修改过",
                )
            content = canonical(
                row.at, row.actor, row.action, row.target_type, row.target_id, row.details
            )
            if chain_hash(prev, content) != row.hash:
                return VerifyResult(
                    False, checked, row.id, f"事件 #{row.id} 的内容与其哈希不符：该记录被修改过"
                )
            prev = row.hash
            checked += 1
            last_id = row.id
