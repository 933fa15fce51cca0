"""WeChat callbacks on the app side: store each classified message or event as its ChannelEvent
row (once per key, so WeChat's retries are stored once) and hand messages to the inbox.

The ChannelEvent row is the durable record written before WeChat gets its answer: a message row
with handled_at null has not reached the inbox yet, whatever happened to the process since.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from tortoise.transactions import in_transaction

from bot import db
from bot.db import sql
from bot.models import ChannelEvent, Comment, CommentNote, CommentStatus
from bot.wechat import follow_up
from bot.wechat.follow_up import FollowUps
from channels.base import IncomingComment
from channels.wechat.messages import (
    CHANNEL,
    CONSUMED_ELSEWHERE,
    MESSAGE,
    Received,
    incoming_comment,
)

if TYPE_CHECKING:
    from moderation.knowledge import KbHit

log = logging.getLogger(__name__)

AUTO_REPLY_AUTHOR = "system:wechat-auto-reply"
AUTO_REPLY_FLAG = "auto_replied"
EVENT_TABLE = ChannelEvent._meta.db_table
# Rows per INSERT of the writer (6 parameters a row, far below any database's limit)
MAX_BATCH = 500
# The payload's JSON, compact and readable (one encoder: json.dumps with options makes one a call)
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class InboxPort(Protocol):
    """What the callback needs of bot.inbox.ingest.Inbox."""

    async def ingest_many(self, batch: Sequence[IncomingComment]) -> list[Any]: ...

    def suggest(self, text: str) -> KbHit | None: ...

    async def refresh_knowledge(self) -> int: ...


@dataclass(frozen=True)
class Stored:
    """A callback's row: its id, what is stored in it, and whether this request stored it."""

    id: int
    payload: dict[str, Any]
    created: bool


class EventWriter:
    """Stores callbacks with group commit: the rows that arrive while one INSERT runs go
    together into the next one, so a burst costs a few statements, not one per request; an
    idle writer stores a row at once. Each caller gets its answer only once its row is
    committed."""

    def __init__(self) -> None:
        self._pending: list[tuple[Received, str, asyncio.Future[Stored]]] = []
        self._task: asyncio.Task[None] | None = None

    async def store(self, received: Received, auto_reply: str = "") -> Stored:
        future: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        self._pending.append((received, auto_reply, future))
        if self._task is None:
            self._task = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
                try:
                    results = await store_many([(r, a) for r, a, _ in batch])
                except Exception as exc:  # each request answers 500: WeChat sends it again
                    for *_, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (*_, future), result in zip(batch, results, strict=True):
                    if not future.done():  # a caller that went away still got its row
                        future.set_result(result)
        finally:
            self._task = None


async def store(received: Received, auto_reply: str = "") -> Stored:
    """Insert one row once; created=False when WeChat already sent it."""
    return (await store_many([(received, auto_reply)]))[0]


async def store_many(batch: Sequence[tuple[Received, str]]) -> list[Stored]:
    """One INSERT … ON CONFLICT DO NOTHING RETURNING for the batch: the rows that come back
    are new, the others were stored before (WeChat's retries) and are read back."""
    now = datetime.now(UTC)
    first: dict[str, tuple[Received, dict[str, Any]]] = {}
    for received, auto_reply in batch:
        payload = dict(received.payload)
        if auto_reply:
            payload["auto_reply"] = auto_reply
        first.setdefault(received.key[:255], (received, payload))
    params: list[Any] = []
    for key, (received, payload) in first.items():
        # Nothing runs later for plain events (counted by query): handled when stored.
        done = not received.needs_background and received.kind not in CONSUMED_ELSEWHERE
        payload_json = _JSON.encode(payload)
        params += [
            CHANNEL,
            key,
            received.kind[:64],
            payload_json,
            received.at,
            now if done else None,
        ]
    values = ", ".join("(?, ?, ?, ?, ?, ?)" for _ in first)
    returned = await db.connection().execute_query_dict(
        sql(
            f"INSERT INTO {EVENT_TABLE} (channel, key, kind, payload, at, handled_at) "
            f"VALUES {values} ON CONFLICT (channel, key) DO NOTHING RETURNING id, key"
        ),
        params,
    )
    ids = {str(r["key"]): int(r["id"]) for r in returned}
    old: dict[str, ChannelEvent] = {}
    if len(ids) < len(first):
        rows = await ChannelEvent.filter(
            channel=CHANNEL, key__in=[k for k in first if k not in ids]
        )
        old = {row.key: row for row in rows}
    out: list[Stored] = []
    seen: set[str] = set()
    for received, _ in batch:
        key = received.key[:255]
        if key in ids:
            out.append(Stored(ids[key], first[key][1], key not in seen))
        else:
            out.append(Stored(old[key].id, old[key].payload, False))
        seen.add(key)
    return out


async def process_messages(
    rows: Sequence[ChannelEvent],
    inbox: InboxPort,
    author_key: bytes,
    follow_ups: FollowUps | None = None,
) -> list[Comment]:
    """The background step for a batch of message rows: into the inbox in one call (triage
    runs there), each auto-reply noted on its comment, with `follow_ups` the search's links
    queued for each text message the auto-reply did not answer, the rows marked handled.
    Safe to run twice (after a crash, or two processes recovering the same rows): ingest
    deduplicates, an auto-reply note is written once, and a message's links are queued only
    by the transaction that marks its row handled."""
    if not rows:
        return []
    ingested = await inbox.ingest_many([incoming_comment(r.payload, author_key) for r in rows])
    comments: list[Comment] = [i.comment for i in ingested]
    answered = {
        c.id: str(r.payload["auto_reply"])
        for r, c in zip(rows, comments, strict=True)
        if r.payload.get("auto_reply")
    }
    now = datetime.now(UTC)
    # Searched before the transaction opens (the engine's reads need no lock).
    links: dict[int, tuple[int, str]] = {}  # event id: (comment id, message)
    if follow_ups is not None:
        for row, comment in zip(rows, comments, strict=True):
            if comment.hidden or comment.status == CommentStatus.SPAM.value:
                continue
            text = await follow_ups.text_for(row.payload, now)
            if text:
                links[row.id] = (comment.id, text)
    async with in_transaction() as conn:
        if answered:
            noted = set(
                await CommentNote.filter(
                    comment_id__in=list(answered), author=AUTO_REPLY_AUTHOR
                ).values_list("comment_id", flat=True)
            )
            # Read again in the transaction: a moderator may have changed the flags since.
            fresh = await Comment.filter(id__in=[i for i in answered if i not in noted])
            if fresh:
                await CommentNote.bulk_create(
                    [
                        CommentNote(
                            comment_id=c.id,
                            author=AUTO_REPLY_AUTHOR,
                            text=f"自动回复：{answered[c.id]}",
                            created_at=now,
                        )
                        for c in fresh
                    ]
                )
            unflagged = [c for c in fresh if AUTO_REPLY_FLAG not in c.flags]
            for comment in unflagged:
                comment.flags = [*comment.flags, AUTO_REPLY_FLAG]
                comment.updated_at = now
            if unflagged:
                await Comment.bulk_update(unflagged, fields=["flags", "updated_at"])
        marked = ", ".join("?" for _ in rows)
        handled = await conn.execute_query_dict(
            sql(
                f"UPDATE {EVENT_TABLE} SET handled_at = ? "
                f"WHERE id IN ({marked}) AND handled_at IS NULL RETURNING id"
            ),
            [now, *[r.id for r in rows]],
        )
        # Only the rows this transaction marked: another relay that got there first queued
        # their links (PostgreSQL makes a second UPDATE wait for the first and skip the row).
        for event in handled:
            if int(event["id"]) in links:
                comment_id, text = links[int(event["id"])]
                await follow_up.queue(conn, comment_id, text, now)
    return comments


async def unhandled_messages(
    older_than: datetime | None, limit: int, after: int = 0
) -> list[ChannelEvent]:
    """Message rows not yet in the inbox (a crash, a full queue), oldest first, from id after."""
    query = ChannelEvent.filter(channel=CHANNEL, kind=MESSAGE, handled_at=None, id__gt=after)
    if older_than is not None:
        query = query.filter(at__lte=older_than)
    return await query.order_by("id").limit(limit)
