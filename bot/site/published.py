"""What is public: an item is public while it is not retracted and some version of it has a
done `feed` publish delivery; it shows the highest such version. Queries for the public pages
and feeds (read only)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.expressions import Q
from tortoise.functions import Max, Min

from bot.models import (
    VALIDITY_LABELS,
    AuditEvent,
    Delivery,
    DeliveryAction,
    DeliveryStatus,
    Item,
    ItemStatus,
    ItemVersion,
)
from bot.site.version import PUBLIC_CHANNEL

FEED_CHANNEL = PUBLIC_CHANNEL
# An id as the database holds it (a 32-bit integer in PostgreSQL): at most ten digits, and
# is_id() checks the value; anything else names nothing.
ITEM_ID = re.compile(r"[0-9]{1,10}")
MAX_ID = 2_147_483_647


def is_id(raw: str) -> bool:
    return ITEM_ID.fullmatch(raw) is not None and 0 < int(raw) <= MAX_ID


@dataclass(frozen=True)
class Publication:
    """What the feed channel completed for one item: its newest done version and when."""

    item_id: int
    version: int
    published: datetime  # first done feed delivery
    updated: datetime  # latest done feed delivery


def _done_feed_deliveries() -> Any:
    return Delivery.filter(
        channel=FEED_CHANNEL,
        action=DeliveryAction.PUBLISH.value,
        status=DeliveryStatus.DONE.value,
    )


async def publications(column: str | None, limit: int) -> list[Publication]:
    """The public items (of a column, or all), newest update first: one grouped query."""
    query = _done_feed_deliveries().exclude(item__status=ItemStatus.RETRACTED.value)
    if column is not None:
        query = query.filter(item__column=column)
    rows = (
        await query.annotate(
            first=Min("finished_at"), last=Max("finished_at"), top=Max("item_version")
        )
        .group_by("item_id")
        .order_by("-last", "-item_id")
        .limit(limit)
        .values("item_id", "first", "last", "top")
    )
    return [
        Publication(int(r["item_id"]), int(r["top"]), r["first"], r["last"])
        for r in rows
        if r["first"] is not None and r["last"] is not None
    ]


async def publication(item_id: int) -> Publication | None:
    """The publication of one item regardless of its status (None if the feed never had it)."""
    rows = (
        await _done_feed_deliveries()
        .filter(item_id=item_id)
        .annotate(first=Min("finished_at"), last=Max("finished_at"), top=Max("item_version"))
        .group_by("item_id")
        .values("first", "last", "top")
    )
    if not rows or rows[0]["first"] is None:
        return None
    row = rows[0]
    return Publication(item_id, int(row["top"]), row["first"], row["last"])


async def versions_for(pubs: list[Publication]) -> dict[tuple[int, int], ItemVersion]:
    """The published snapshots of several items in one query."""
    if not pubs:
        return {}
    wanted = Q(*(Q(item_id=p.item_id, version=p.version) for p in pubs), join_type=Q.OR)
    found = await ItemVersion.filter(wanted)
    return {(v.item_id, v.version): v for v in found}


async def last_retraction(column: str | None) -> datetime | None:
    """When an item last left this feed by retraction: a feed's Last-Modified must move then
    too, or a client asking only If-Modified-Since would keep the retracted entry."""
    query = _done_feed_deliveries().filter(
        item__status=ItemStatus.RETRACTED.value, item__retracted_at__isnull=False
    )
    if column is not None:
        query = query.filter(item__column=column)
    row = await query.order_by("-item__retracted_at").first().values("item__retracted_at")
    return row["item__retracted_at"] if row else None


@dataclass(frozen=True)
class Listed:
    """A public item in a list (home, column pages, sitemap.xml): its publication and the
    item's kind and validity as its row says now."""

    pub: Publication
    kind: str
    validity: str


async def listed(column: str | None, limit: int | None = None) -> list[Listed]:
    """The public items (of a column, or all), newest first publication first: one grouped
    query; the column pages filter and page what it returns."""
    query = _done_feed_deliveries().exclude(item__status=ItemStatus.RETRACTED.value)
    if column is not None:
        query = query.filter(item__column=column)
    grouped = (
        query.annotate(first=Min("finished_at"), last=Max("finished_at"), top=Max("item_version"))
        .group_by("item_id", "item__kind", "item__validity")
        .order_by("-first", "-item_id")
    )
    if limit is not None:
        grouped = grouped.limit(limit)
    rows = await grouped.values("item_id", "item__kind", "item__validity", "first", "last", "top")
    return [
        Listed(
            Publication(int(r["item_id"]), int(r["top"]), r["first"], r["last"]),
            str(r["item__kind"]),
            str(r["item__validity"] or ""),
        )
        for r in rows
        if r["first"] is not None and r["last"] is not None
    ]


async def validity_marks(item_ids: list[int] | None) -> dict[int, tuple[str, datetime]]:
    """Items (of item_ids, or all) whose validity was ever marked: the current label ("" when
    valid again) and when it was last set, from the audit log (the item row's updated_at moves
    for other reasons, which would make the bytes differ between processes)."""
    if item_ids is not None and not item_ids:
        return {}
    query = AuditEvent.filter(target_type="item", action="item.validity")
    if item_ids is not None:
        query = query.filter(target_id__in=[str(i) for i in item_ids])
    events = await query.order_by("id").values_list("target_id", "at")
    marked_at = {int(target): at for target, at in events}
    if not marked_at:
        return {}
    labels = dict(await Item.filter(id__in=list(marked_at)).values_list("id", "validity"))
    return {
        item_id: (VALIDITY_LABELS.get(labels.get(item_id) or "", ""), at)
        for item_id, at in marked_at.items()
    }


@dataclass(frozen=True)
class Row:
    """A public item as a list shows it: its published title and 文号, kind, validity, dates."""

    id: int
    title: str
    doc_number: str
    kind: str
    validity: str
    published: datetime
    updated: datetime


async def rows(items: list[Listed]) -> list[Row]:
    """The list rows of `items` (in their order), from their published snapshots in one query."""
    snapshots = await versions_for([i.pub for i in items])
    out = []
    for i in items:
        version = snapshots.get((i.pub.item_id, i.pub.version))
        if version is None:  # a done delivery always has its snapshot; never fail the list
            continue
        snap = version.snapshot
        out.append(
            Row(
                id=i.pub.item_id,
                title=str(snap.get("title", "")),
                doc_number=str(snap.get("doc_number") or ""),
                kind=i.kind,
                validity=i.validity,
                published=i.pub.published,
                updated=i.pub.updated,
            )
        )
    return out
