"""Writes to the search index, in the caller's transaction: what is public changes and the
index with it, in one commit (a document never found after it left the site, nor missing
after it appeared). Documents are prepared (segmented) before the transaction opens
(bot/search/documents.py); here they are only written.

- publish: bot/outbox/store.py, when a feed delivery finishes (prepare_published before, store
  after settle, for the items still not retracted);
- retract and validity: bot/items/lifecycle.py; 选登 and its withdrawal: bot/inbox/qa.py;
- everything at once: reindex (`gongkai search reindex`), which also tombstones what is no
  longer public.

A document that leaves stays as a tombstone (removed_at, no tokens): the knowledge export
tells the city's platform to drop it (GET /api/v1/knowledge?since=…)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from bot import db
from bot.models import Faq, Item, ItemStatus, QaEntry, SearchDoc
from bot.search.documents import Prepared, faq_doc, item_doc, item_key, qa_doc, qa_key
from bot.site.published import Publication, publications, versions_for

TABLE = SearchDoc._meta.db_table
COLUMNS = tuple(f.name for f in fields(Prepared))
BATCH = 200  # documents a reindex writes per transaction


def _values(doc: Prepared) -> list[object]:
    return [doc.kind.value if name == "kind" else getattr(doc, name) for name in COLUMNS]


async def store(conn: BaseDBAsyncClient, docs: Sequence[Prepared]) -> None:
    """Insert or replace documents (by key); an item's older version never replaces a newer
    one, and a tombstone comes back to life when its document is public again."""
    if not docs:
        return
    now = datetime.now(UTC)
    names = ", ".join(f'"{n}"' for n in (*COLUMNS, "updated_at", "removed_at"))
    updates = ", ".join(
        f'"{n}" = excluded."{n}"' for n in (*COLUMNS, "updated_at", "removed_at") if n != "key"
    )
    marks = ", ".join("?" for _ in range(len(COLUMNS) + 2))
    for doc in docs:
        await conn.execute_query(
            db.sql(
                f"INSERT INTO {TABLE} ({names}) VALUES ({marks}) ON CONFLICT (key) DO UPDATE "
                f"SET {updates} WHERE excluded.version >= {TABLE}.version"
            ),
            [*_values(doc), now, None],
        )


async def remove(conn: BaseDBAsyncClient, keys: Iterable[str]) -> None:
    """Tombstone documents that left the site (those still public)."""
    wanted = list(keys)
    if not wanted:
        return
    now = datetime.now(UTC)
    marks = ", ".join("?" for _ in wanted)
    await conn.execute_query(
        db.sql(
            f"UPDATE {TABLE} SET removed_at = ?, updated_at = ?, title_tokens = '', "
            f"body_tokens = '' WHERE key IN ({marks}) AND removed_at IS NULL"
        ),
        [now, now, *wanted],
    )


async def set_validity(conn: BaseDBAsyncClient, item_id: int, validity: str) -> None:
    """An item's validity changed (废止, 失效, 修订): the filter and the label follow."""
    await conn.execute_query(
        db.sql(f"UPDATE {TABLE} SET validity = ?, updated_at = ? WHERE key = ?"),
        [validity, datetime.now(UTC), item_key(item_id)],
    )


async def remove_item(conn: BaseDBAsyncClient, item_id: int) -> None:
    await remove(conn, [item_key(item_id)])


async def prepare_published(done: Iterable[tuple[int, int]]) -> list[Prepared]:
    """The documents of items whose feed delivery of `version` finished: their snapshots
    segmented now, before the transaction that records the outcome opens."""
    wanted = {(item_id, version) for item_id, version in done}
    if not wanted:
        return []
    pubs = [Publication(i, v, datetime.now(UTC), datetime.now(UTC)) for i, v in wanted]
    return await _item_docs(pubs)


async def _item_docs(pubs: list[Publication]) -> list[Prepared]:
    snapshots = await versions_for(pubs)
    items = {
        row["id"]: row
        for row in await Item.filter(id__in=[p.item_id for p in pubs]).values(
            "id", "validity", "published_at"
        )
    }
    wanted = []
    for p in pubs:
        version = snapshots.get((p.item_id, p.version))
        item = items.get(p.item_id)
        if version is not None and item is not None:
            wanted.append((p, version.snapshot, item))

    def segment() -> list[Prepared]:
        return [
            item_doc(
                p.item_id,
                snapshot,
                version=p.version,
                validity=str(item["validity"] or ""),
                published_at=item["published_at"] or p.published,
            )
            for p, snapshot, item in wanted
        ]

    # jieba is CPU work (tens of milliseconds on a long policy): off the event loop.
    return await asyncio.to_thread(segment) if wanted else []


async def store_published(conn: BaseDBAsyncClient, docs: Sequence[Prepared]) -> None:
    """Write the prepared item documents whose items are not retracted (read in the caller's
    transaction, after the items' rows were locked by settle)."""
    ids = [d.item_id for d in docs if d.item_id is not None]
    if not ids:
        return
    live = set(
        await Item.filter(id__in=ids)
        .exclude(status=ItemStatus.RETRACTED.value)
        .using_db(conn)
        .values_list("id", flat=True)
    )
    await store(conn, [d for d in docs if d.item_id in live])


@dataclass
class Reindexed:
    items: int = 0
    qa: int = 0
    faq: int = 0
    removed: int = 0


async def reindex(progress: Callable[[int, int], None] | None = None) -> Reindexed:
    """Rebuild the index from what is public now (items, 选登, active FAQ), BATCH documents a
    transaction, segmenting each batch before its transaction; tombstone what is no longer
    public. `progress(done, total)` after each batch."""
    pubs = await publications(None, limit=2_000_000_000)
    entries = await QaEntry.filter(withdrawn_at__isnull=True).order_by("id")
    faqs = await Faq.filter(active=True).order_by("id")
    total = len(pubs) + len(entries) + len(faqs)
    result, done = Reindexed(), 0
    keep: set[str] = set()
    for start in range(0, len(pubs), BATCH):
        docs = await _item_docs(pubs[start : start + BATCH])
        async with in_transaction() as conn:
            await store(conn, docs)
        keep.update(d.key for d in docs)
        result.items += len(docs)
        done += len(pubs[start : start + BATCH])
        if progress:
            progress(done, total)
    for batch, build in ((entries, qa_doc), (faqs, faq_doc)):
        for start in range(0, len(batch), BATCH):
            chunk = batch[start : start + BATCH]
            docs = [build(row) for row in chunk]  # type: ignore[arg-type]
            async with in_transaction() as conn:
                await store(conn, docs)
            keep.update(d.key for d in docs)
            done += len(chunk)
            if progress:
                progress(done, total)
    result.qa, result.faq = len(entries), len(faqs)
    public = await SearchDoc.filter(removed_at__isnull=True).values_list("key", flat=True)
    stale = [str(key) for key in public if key not in keep]
    for start in range(0, len(stale), BATCH):
        async with in_transaction() as conn:
            await remove(conn, stale[start : start + BATCH])
    result.removed = len(stale)
    return result


async def store_qa(conn: BaseDBAsyncClient, entry: QaEntry) -> None:
    """A 选登 exchange made public (its text is a few hundred characters: segmented here)."""
    await store(conn, [qa_doc(entry)])


async def remove_qa(conn: BaseDBAsyncClient, entry_id: int) -> None:
    await remove(conn, [qa_key(entry_id)])
