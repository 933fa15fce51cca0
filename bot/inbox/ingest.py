"""The one way comments enter Gongkai: every channel hands an IncomingComment to Inbox.ingest,
which deduplicates on (channel, remote id), resolves the item it is about, runs triage (a chunk
at a time, so the category model predicts a batch at once) and stores it. The knowledge base
used by triage (and WeChat's auto-reply) is rebuilt here from the documents the public search
indexes — published items, 选登 and FAQ (bot/search/knowledge.py) — so it answers what a
citizen finds on the site; the category model in use is followed here too (refresh_model).

Deduplication is the database's: the insert says ON CONFLICT (channel, remote_id) DO NOTHING,
so two processes receiving the same channel retry at once still store it once. original_text
is written once and never updated by anything; people see masked_text.
"""

from __future__ import annotations

import asyncio
import functools
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot.config import Config
from bot.db import sql
from bot.errors import Refusal
from bot.inbox.learning import ModelFollower
from bot.models import Comment, Delivery, Item
from bot.search.knowledge import kb_docs
from channels.base import IncomingComment
from moderation.knowledge import KbHit, KnowledgeBase
from moderation.triage import Triage, TriageInput, TriageResult

TABLE = Comment._meta.db_table
KINDS = ("message", "article_comment", "feedback", "form", "hotline")
# 查询码 alphabet: no 0/O, 1/I/L, so a code read out over the phone is not misheard
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12
# The columns an ingested comment is inserted with, in order.
COLUMNS = (
    "channel",
    "remote_id",
    "item_id",
    "author_ref",
    "kind",
    "original_text",
    "masked_text",
    "category",
    "simple",
    "office",
    "status",
    "received_at",
    "due_at",
    "reply",
    "reply_status",
    "selected",
    "created_at",
    "updated_at",
    "reply_ref",
    "remote_item_ref",
    "flags",
    "hidden",
    "confidence",
    "suggested_answer",
    "suggested_source",
    "calendar_known",
    "escalation_level",
    "query_code",
)
JSON_COLUMNS = frozenset({"reply_ref", "flags"})
# Rows per INSERT statement: SQLite and PostgreSQL both allow 32,766 bound parameters.
ROWS_PER_STATEMENT = 32_000 // len(COLUMNS)

Adjust = Callable[[IncomingComment, TriageResult], TriageResult]


class IngestError(Refusal, ValueError):
    """An incoming comment that cannot be stored; the message names the field (Chinese)."""

    status_code = 422
    code = "invalid_comment"


@dataclass
class Ingested:
    comment: Comment
    created: bool


def new_query_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _check(incoming: IncomingComment) -> None:
    if not incoming.channel or not incoming.remote_id:
        raise IngestError(f"留言缺少渠道或渠道编号：channel={incoming.channel!r}")
    if incoming.kind not in KINDS:
        raise IngestError(f"留言类型「{incoming.kind}」无效，可选：{'、'.join(KINDS)}")
    if incoming.received_at.tzinfo is None:
        raise IngestError(f"留言 {incoming.remote_id} 的接收时间没有时区")
    if len(incoming.remote_id) > 255:
        raise IngestError(f"留言编号过长（超过 255 个字符）：{incoming.remote_id[:40]}…")


class Inbox:
    """Ingestion and the knowledge base of one process (each process rebuilds its own)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.triage = Triage(
            config.inbox, official_email_domains=config.review.official_email_domains
        )
        self.model = ModelFollower(config, self.triage)

    # -- the category model --------------------------------------------------------------
    async def refresh_model(self) -> str:
        """Use the newest trained category model (bot/inbox/learning.py); what happened."""
        return await self.model.refresh()

    # -- knowledge ---------------------------------------------------------------------
    async def refresh_knowledge(self) -> int:
        """Rebuild the in-memory knowledge base from the search index's public documents
        (published items as the site shows them, 选登, active FAQ), each with its public URL."""
        docs = await kb_docs(self.config.app.public_base_url)
        # Segmenting every document is CPU work (seconds for a large site): off the event loop.
        self.triage.set_knowledge(await asyncio.to_thread(KnowledgeBase.build, docs))
        return len(docs)

    def suggest(self, text: str) -> KbHit | None:
        hits = self.triage.knowledge.search(text, limit=1)
        return hits[0] if hits else None

    # -- ingestion ---------------------------------------------------------------------
    async def ingest(self, incoming: IncomingComment) -> Ingested:
        """Store one comment; a duplicate returns the stored row with created=False."""
        return (await self.ingest_many([incoming]))[0]

    async def ingest_many(
        self, batch: Sequence[IncomingComment], adjust: Adjust | None = None
    ) -> list[Ingested]:
        """Store many comments, one transaction per `inbox.ingest_batch`; the result is in
        the order of `batch`. `adjust` may change a triage result before it is stored (the
        hotline import uses the operator's own classification)."""
        for incoming in batch:
            _check(incoming)
        out: list[Ingested] = []
        size = self.config.inbox.ingest_batch
        for start in range(0, len(batch), size):
            out += await self._ingest_chunk(batch[start : start + size], adjust)
        return out

    async def _ingest_chunk(
        self, batch: Sequence[IncomingComment], adjust: Adjust | None
    ) -> list[Ingested]:
        first: dict[tuple[str, str], IncomingComment] = {}
        for incoming in batch:
            first.setdefault((incoming.channel, incoming.remote_id), incoming)
        stored = await _existing(list(first))
        fresh = [c for key, c in first.items() if key not in stored]
        if fresh:
            created = await self._insert(fresh, adjust)
            for key in created:
                first.pop(key, None)
            stored.update(created)
            lost = [key for key in first if key not in stored]
            if lost:  # inserted by another process between our read and our insert
                stored.update(await _existing(lost))
        seen: set[tuple[str, str]] = set()
        out = []
        for incoming in batch:
            key = (incoming.channel, incoming.remote_id)
            comment, was_created = stored[key]
            out.append(Ingested(comment, was_created and key not in seen))
            seen.add(key)
        return out

    async def _insert(
        self, fresh: list[IncomingComment], adjust: Adjust | None
    ) -> dict[tuple[str, str], tuple[Comment, bool]]:
        items = await _resolve_items(fresh)
        offices = await _item_offices({i for i in items.values() if i is not None})
        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = []
        inputs = []
        for incoming in fresh:
            item_id = items[(incoming.channel, incoming.remote_id)]
            inputs.append(
                TriageInput(
                    text=incoming.text,
                    channel=incoming.channel,
                    kind=incoming.kind,
                    author_ref=incoming.author_ref,
                    received_at=incoming.received_at.astimezone(UTC),
                    item_office=offices.get(item_id, "") if item_id else "",
                )
            )
        # One batch: the category model predicts the whole chunk at once.
        for incoming, result in zip(fresh, self.triage.run_many(inputs), strict=True):
            if adjust is not None:
                result = adjust(incoming, result)
            item_id = items[(incoming.channel, incoming.remote_id)]
            rows.append(_row(incoming, item_id, result, now))
        for attempt in range(3):
            try:
                return await _insert_rows(rows)
            except IntegrityError:
                # Only a 查询码 collision can get here (the (channel, remote_id) conflict is
                # absorbed by ON CONFLICT): draw new codes and try again.
                if attempt == 2:
                    raise
                for row in rows:
                    if row["query_code"] is not None:
                        row["query_code"] = new_query_code()
        raise AssertionError("unreachable")


def _row(
    incoming: IncomingComment, item_id: int | None, result: TriageResult, now: datetime
) -> dict[str, Any]:
    return {
        "channel": incoming.channel,
        "remote_id": incoming.remote_id,
        "item_id": item_id,
        "author_ref": incoming.author_ref[:255],
        "kind": incoming.kind,
        "original_text": incoming.text,
        "masked_text": result.masked_text,
        "category": result.category,
        "simple": result.simple,
        "office": result.office[:128],
        "status": result.status,
        "received_at": incoming.received_at.astimezone(UTC),
        "due_at": result.due_at.astimezone(UTC) if result.due_at else None,
        "reply": "",
        "reply_status": "",
        "selected": False,
        "created_at": now,
        "updated_at": now,
        "reply_ref": incoming.reply_ref,
        "remote_item_ref": incoming.remote_item_ref[:255],
        "flags": list(result.flags),
        "hidden": result.hidden,
        "confidence": float(result.confidence),
        "suggested_answer": result.suggested_answer,
        "suggested_source": result.suggested_source[:255],
        "calendar_known": result.calendar_known,
        "escalation_level": 0,
        "query_code": new_query_code() if incoming.kind == "form" else None,
    }


async def _insert_rows(rows: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[Comment, bool]]:
    """INSERT … ON CONFLICT DO NOTHING RETURNING: the rows that came back are ours."""
    out: dict[tuple[str, str], tuple[Comment, bool]] = {}
    by_key = {(r["channel"], r["remote_id"]): r for r in rows}
    names = ", ".join(COLUMNS)
    one = "(" + ", ".join("?" for _ in COLUMNS) + ")"
    async with in_transaction() as conn:
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start : start + ROWS_PER_STATEMENT]
            params = [
                json.dumps(r[c], ensure_ascii=False) if c in JSON_COLUMNS else r[c]
                for r in chunk
                for c in COLUMNS
            ]
            returned = await conn.execute_query_dict(
                sql(
                    f"INSERT INTO {TABLE} ({names}) VALUES {', '.join(one for _ in chunk)} "
                    "ON CONFLICT (channel, remote_id) DO NOTHING RETURNING id, channel, remote_id"
                ),
                params,
            )
            for r in returned:
                key = (r["channel"], r["remote_id"])
                out[key] = (_comment(int(r["id"]), by_key[key]), True)
    return out


def _comment(comment_id: int, row: dict[str, Any]) -> Comment:
    """The stored row as a model object, without reading it back (ingestion stays one
    statement per chunk). Built as tortoise builds a row it read (marked saved, so a later
    .save() UPDATEs it): Comment(**row) validated every field again, which cost a tenth of
    the background step of the WeChat callback."""
    return Comment._init_from_db(**_left_to_the_database(), **row, id=comment_id)


@functools.cache
def _left_to_the_database() -> dict[str, None]:
    """The columns an ingested row does not set: all nullable, null when inserted. Worked out
    at the first ingestion (tortoise knows the model's columns only once it is initialised)."""
    columns = Comment._meta.fields_db_projection.values()
    return {c: None for c in columns if c not in COLUMNS and c != "id"}


async def _existing(keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[Comment, bool]]:
    by_channel: dict[str, list[str]] = {}
    for channel, remote_id in keys:
        by_channel.setdefault(channel, []).append(remote_id)
    out: dict[tuple[str, str], tuple[Comment, bool]] = {}
    for channel, remote_ids in by_channel.items():
        for start in range(0, len(remote_ids), 900):
            found = await Comment.filter(
                channel=channel, remote_id__in=remote_ids[start : start + 900]
            )
            for comment in found:
                out[(comment.channel, comment.remote_id)] = (comment, False)
    return out


async def _resolve_items(batch: list[IncomingComment]) -> dict[tuple[str, str], int | None]:
    """The item each comment is about: its item_id if that item exists, else the item whose
    delivery on the comment's channel has remote_id == remote_item_ref."""
    wanted = {c.item_id for c in batch if c.item_id is not None}
    known: set[int] = set()
    if wanted:
        known = set(await Item.filter(id__in=sorted(wanted)).values_list("id", flat=True))  # type: ignore[arg-type]
    refs: dict[str, set[str]] = {}
    for c in batch:
        if c.item_id is None and c.remote_item_ref:
            refs.setdefault(c.channel, set()).add(c.remote_item_ref)
    by_ref: dict[tuple[str, str], int] = {}
    for channel, remote_ids in refs.items():
        rows = await Delivery.filter(
            channel=channel, remote_id__in=sorted(remote_ids), action="publish"
        ).values_list("remote_id", "item_id")
        for remote_id, item_id in rows:
            by_ref[(channel, str(remote_id))] = int(item_id)
    out: dict[tuple[str, str], int | None] = {}
    for c in batch:
        item: int | None = None
        if c.item_id is not None and c.item_id in known:
            item = c.item_id
        elif c.remote_item_ref:
            item = by_ref.get((c.channel, c.remote_item_ref))
        out[(c.channel, c.remote_id)] = item
    return out


async def _item_offices(item_ids: set[int | None]) -> dict[int | None, str]:
    ids = sorted(i for i in item_ids if i is not None)
    if not ids:
        return {}
    rows = await Item.filter(id__in=ids).values_list("id", "office")
    return {int(i): str(o) for i, o in rows}
