"""The knowledge export for the city's unified search and Q&A platform (GET /api/v1/knowledge):
every search document as one record — key, kind, question, answer, absolute source URL, office,
updated time — in (updated_at, id) order, a page at a time after an opaque cursor. What left the
site (a retracted item, a withdrawn 选登, a deactivated FAQ) is a tombstone record, so a
platform that keeps a copy follows every change by asking for what changed since its last
visit (`since`) or by going on from its last cursor."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.expressions import Q

from bot.items.serialize import iso
from bot.models import SearchDoc
from bot.search.knowledge import PASSAGE_CHARS, answer_of, head, public_url

DEFAULT_LIMIT = 200
MAX_LIMIT = 1000
MAX_ID = 2**31 - 1
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = (datetime(9999, 12, 31, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
_CURSOR = re.compile(r"(\d{1,20})\.(\d{1,10})")
# Of an item's text, what is read to find its first passage when it has no summary.
_HEAD_CHARS = 4 * PASSAGE_CHARS


class BadCursor(ValueError):
    """An `after` that is not a cursor this export gave out."""


@dataclass(frozen=True)
class Cursor:
    """A place in the export: the last (updated_at, id) a page held. Opaque to clients."""

    updated_at: datetime
    id: int

    def encode(self) -> str:
        micros = (self.updated_at - EPOCH) // timedelta(microseconds=1)
        return base64.urlsafe_b64encode(f"{micros}.{self.id}".encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
        except (binascii.Error, ValueError) as exc:
            raise BadCursor(text) from exc
        found = _CURSOR.fullmatch(raw)
        if found is None:
            raise BadCursor(text)
        micros, ident = int(found[1]), int(found[2])
        if micros > _LATEST or not 1 <= ident <= MAX_ID:
            raise BadCursor(text)
        return cls(EPOCH + timedelta(microseconds=micros), ident)


@dataclass(frozen=True)
class Page:
    records: list[dict[str, Any]]
    # After the last record; None only when the page is empty and no cursor was given. A page
    # shorter than its limit is the end for now; the cursor asks later for what changed since.
    next: Cursor | None


def record(row: dict[str, Any], base_url: str) -> dict[str, Any]:
    """One document as the platform reads it; a tombstone says only that it is gone."""
    if row["removed_at"] is not None:
        return {"key": row["key"], "removed": True, "updated_at": iso(row["updated_at"])}
    return {
        "key": row["key"],
        "kind": row["kind"],
        "question": row["title"],
        "answer": answer_of(str(row["kind"]), str(row["answer"] or ""), str(row["head"] or "")),
        "url": public_url(base_url, str(row["url"])),
        "office": row["office"] or "",
        "updated_at": iso(row["updated_at"]),
        "removed": False,
    }


async def page(
    base_url: str,
    *,
    after: Cursor | None = None,
    since: datetime | None = None,
    limit: int = DEFAULT_LIMIT,
    settle: timedelta = timedelta(0),
    now: datetime | None = None,
) -> Page:
    """The documents changed at or after `since` (all when None), from just after `after`, at
    most `limit` of them, oldest change first.

    Changes of the last `settle` are left for a later page: a document's time is taken when
    its transaction writes it, a moment before the commit, so a transaction still open while
    a page is read could commit a time the page's cursor has already passed — and a platform
    going on from that cursor would never see it. Transactions shorter than `settle` cannot."""
    query = SearchDoc.filter(updated_at__lte=(now or datetime.now(UTC)) - settle)
    if since is not None:
        query = query.filter(updated_at__gte=since.astimezone(UTC))
    if after is not None:
        at = after.updated_at.astimezone(UTC)
        query = query.filter(Q(updated_at__gt=at) | Q(updated_at=at, id__gt=after.id))
    rows = (
        await query.annotate(head=head(_HEAD_CHARS))
        .order_by("updated_at", "id")
        .limit(limit)
        .values(
            "id",
            "key",
            "kind",
            "title",
            "answer",
            "head",
            "url",
            "office",
            "updated_at",
            "removed_at",
        )
    )
    cursor = after
    if rows:
        cursor = Cursor(_aware(rows[-1]["updated_at"]), int(rows[-1]["id"]))
    return Page([record(r, base_url) for r in rows], cursor)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
