"""The append-only, hash-chained audit log: record an event inside the caller's transaction,
and verify the chain.

Appends are serialized: on PostgreSQL by a transaction-scoped advisory lock, on SQLite by the
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
    if conn.capabilities.dialect == "postgres":
        await conn.execute_query(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
    last = await AuditEvent.all().using_db(conn).order_by("-id").first().values("hash")
    prev = last["hash"] if last else GENESIS
    when = datetime.now(UTC)
    rows = []
    for event in events:
        details = json.loads(json.dumps(event.details, ensure_ascii=False, default=str))
        target = str(event.target_id)
        content = canonical(when, event.actor, event.action, event.target_type, target, details)
        digest = chain_hash(prev, content)
        rows.append(
            AuditEvent(
                at=when,
                actor=event.actor,
                action=event.action,
                target_type=event.target_type,
                target_id=target,
                details=details,
                prev_hash=prev,
                hash=digest,
            )
        )
        prev = digest
    await AuditEvent.bulk_create(rows, using_db=conn)
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
