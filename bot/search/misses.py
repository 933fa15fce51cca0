"""Searches that found nothing, counted without personal data: the visitor's query with every
phone number, ID number, bank card and e-mail address masked exactly as the inbox masks a
comment (moderation/rules/privacy.py), one row per (masked query, day in app.timezone). The
count is raised by one upsert (INSERT … ON CONFLICT DO UPDATE), so processes counting the same
query at once add up instead of losing one. The 数据看板 shows the most frequent (top)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from bot import db
from bot.models import SearchMiss
from moderation.rules.privacy import mask_personal_data

TABLE = SearchMiss._meta.db_table
MAX_CHARS = 1000  # the column's length ([search] max_query_chars is at most this)


@dataclass(frozen=True)
class Missed:
    query: str  # masked
    count: int


def masked(text: str, today: date, official_domains: Iterable[str] = ()) -> str:
    """The query as it is stored and shown to staff: personal data masked."""
    return mask_personal_data(text, today, official_domains)[:MAX_CHARS]


def _day(day: date) -> object:
    # tortoise stores a DateField as ISO text on SQLite and as a date on PostgreSQL.
    return day if db.is_postgres() else day.isoformat()


async def record(text: str, day: date, official_domains: Iterable[str] = ()) -> None:
    """Count one search for `text` that found nothing on `day`."""
    query = masked(text, day, official_domains)
    if not query:
        return
    await db.connection().execute_query(
        db.sql(
            f'INSERT INTO {TABLE} (query, day, "count") VALUES (?, ?, 1) '
            f'ON CONFLICT (query, day) DO UPDATE SET "count" = {TABLE}."count" + 1'
        ),
        [query, _day(day)],
    )


async def top(since: date, limit: int = 10) -> list[Missed]:
    """The queries that found nothing most often from `since` on, most frequent first."""
    rows = await db.connection().execute_query_dict(
        db.sql(
            f'SELECT query, SUM("count") AS n FROM {TABLE} WHERE day >= ? '
            "GROUP BY query ORDER BY n DESC, query LIMIT ?"
        ),
        [_day(since), limit],
    )
    return [Missed(str(r["query"]), int(r["n"])) for r in rows]
