"""The append-only, hash-chained audit log: record an event inside the caller's transaction,
and verify the chain.

Keyed: each row's hash is HMAC-SHA256 under the audit key ([audit] key_env, an environment
variable; never stored in the database) of the previous hash and the row's canonical content,
so a row rewritten by someone with database access cannot be re-chained without the key. A
checkpoint row (action "audit.key", details {"key_id"}) starts each keyed segment: the first
write with a key, and every key rotation. Rows before the first checkpoint (written before
keying began) are chained with plain SHA-256 and verified as such.

Appends are serialized: on PostgreSQL by a transaction-scoped advisory lock (taken here with
the key, or, unkeyed, by the append function of migration 0006); on SQLite by the write lock
that every transaction takes up front (bot/db_sqlite.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from bot.models import AuditEvent

GENESIS = "0" * 64
_PG_LOCK_KEY = 0x6B616964  # arbitrary constant naming the audit chain lock
KEY_ACTION = "audit.key"  # a checkpoint: the rows after it are keyed with the key it names
KEY_ACTOR = "system:audit"


@dataclass
class _Keys:
    current: bytes | None = None
    previous: tuple[bytes, ...] = ()
    segment: str | None = None  # the key id of the chain's head segment, once known here


_keys = _Keys()


def use_keys(current: bytes | None, previous: tuple[bytes, ...] = ()) -> None:
    """The audit key this process writes with (None: the unkeyed chain of before keying) and
    the keys of earlier segments, for verification (bot/db.py sets them from the config)."""
    global _keys
    _keys = _Keys(current, tuple(previous))


def key_id(key: bytes) -> str:
    """A public name for a key: says which key a segment uses, reveals nothing of it."""
    return hmac.new(key, b"gongkai audit key id", hashlib.sha256).hexdigest()[:16]


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


def chain_hash(prev_hash: str, content: str, key: bytes | None = None) -> str:
    data = (prev_hash + "\n" + content).encode()
    if key is None:
        return hashlib.sha256(data).hexdigest()
    return hmac.new(key, data, hashlib.sha256).hexdigest()


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
    key = _keys.current
    if key is None and conn.capabilities.dialect == "postgres":
        when = datetime.now(UTC)
        return await _append_postgres(conn, [_row(when, event) for event in events])
    return (await _append(conn, events, key))[-len(events) :]


async def _append(
    conn: BaseDBAsyncClient, events: list[Event], key: bytes | None
) -> list[AuditEvent]:
    """Chain and insert the rows here (SQLite; PostgreSQL with a key, under the chain lock);
    a keyed append that finds the head outside its key's segment starts one (a checkpoint
    row first). Returns every row written."""
    if conn.capabilities.dialect == "postgres":
        await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [_PG_LOCK_KEY])
    last = await AuditEvent.all().using_db(conn).order_by("-id").first().values("hash")
    prev = last["hash"] if last else GENESIS
    if key is not None and _keys.segment != key_id(key):
        segment = await _head_segment(conn)  # once per process, and after a rotation
        if segment != key_id(key):
            details = {"key_id": key_id(key), "previous_key_id": segment}
            events = [Event(KEY_ACTOR, KEY_ACTION, "audit", "chain", details), *events]
    when = datetime.now(UTC)
    rows = [_row(when, event) for event in events]
    for row in rows:
        row.prev_hash = prev
        row.hash = prev = chain_hash(prev, _content(row), key)
    await AuditEvent.bulk_create(rows, using_db=conn)
    if key is not None:
        _keys.segment = key_id(key)
    return rows


async def _head_segment(conn: BaseDBAsyncClient) -> str | None:
    """The key id of the last checkpoint (None: no keyed segment yet)."""
    row = (
        await AuditEvent.filter(action=KEY_ACTION)
        .using_db(conn)
        .order_by("-id")
        .first()
        .values("details")
    )
    if row is None:
        return None
    return str((row["details"] or {}).get("key_id") or "") or None


async def ensure_keyed() -> None:
    """Start the configured key's segment now unless the head is already in it (a process
    start with a new or rotated key), so that verification can insist the head is keyed."""
    key = _keys.current
    if key is None:
        return
    _keys.segment = None
    async with in_transaction() as conn:
        if await _head_segment(conn) != key_id(key):
            await _append(conn, [], key)


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
    """Walk the chain in id order; report the first row whose link or content does not match.

    Rows before the first checkpoint are checked with SHA-256; from a checkpoint on, with the
    HMAC of the key it names (the configured key or one of the previous ones). With a key
    configured, the head must be in that key's segment: a chain whose keyed rows were
    rewritten and re-chained without the key (or whose checkpoints were removed) fails."""
    keys = {key_id(k): k for k in (_keys.current, *_keys.previous) if k is not None}
    prev, key, segment = GENESIS, None, None
    checked = last_id = 0
    while True:
        rows = await AuditEvent.filter(id__gt=last_id).order_by("id").limit(batch)
        if not rows:
            break
        for row in rows:
            if row.prev_hash != prev:
                return VerifyResult(
                    False,
                    checked,
                    row.id,
                    f"事件 #{row.id} 的前一哈希与上一条记录不符：其前面的记录被删除或修改过",
                )
            if row.action == KEY_ACTION:
                segment = str((row.details or {}).get("key_id") or "")
                key = keys.get(segment)
                if key is None:
                    return VerifyResult(
                        False,
                        checked,
                        row.id,
                        f"事件 #{row.id} 起的记录用密钥 {segment} 签名，但未配置该密钥"
                        "（[audit] key_env 或 previous_key_envs），无法校验",
                    )
            if chain_hash(prev, _content(row), key) != row.hash:
                return VerifyResult(
                    False,
                    checked,
                    row.id,
                    f"事件 #{row.id} 的内容与其哈希不符：该记录被修改过"
                    + ("（或未用审计密钥重新计算）" if key is not None else ""),
                )
            prev = row.hash
            checked += 1
            last_id = row.id
    current = _keys.current
    if current is not None and checked and segment != key_id(current):
        return VerifyResult(
            False,
            checked,
            last_id,
            "已配置审计密钥，但链头不在该密钥的签名段内：启用密钥后的记录被改写为无密钥哈希、"
            "密钥检查点被删除，或本密钥尚未写入检查点（启动一次 gongkai run 即写入）",
        )
    return VerifyResult(ok=True, checked=checked)
