"""Inbox metrics for any period: on-time reply rate, median time to first reply, and counts by
category, office, channel and month. One module, used by the CLI, the dashboard and the annual
report; every number is a SQL aggregate, never a Python loop over the comments.

Definitions (spam is left out of everything; comments are counted by when they came in):
- answered: a reply was sent (first_reply_at, the time the first reply was SENT).
- judged: has a reply clock (due_at) and either was answered, or is still open past its due
  time. A comment closed without an answer (a thank-you) or not yet due is not judged.
- on time: answered at or before its due time. on_time_rate = on_time / judged.
- median time to first reply: over the answered comments, received_at → first_reply_at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot import db
from bot.config import Config
from bot.db import sql
from bot.models import Comment

TABLE = Comment._meta.db_table


@dataclass(frozen=True)
class Group:
    key: str
    total: int
    answered: int
    on_time: int
    judged: int
    overdue_open: int

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.judged if self.judged else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "total": self.total,
            "answered": self.answered,
            "on_time": self.on_time,
            "judged": self.judged,
            "overdue_open": self.overdue_open,
            "on_time_rate": self.on_time_rate,
        }


@dataclass
class InboxMetrics:
    start: datetime | None
    end: datetime | None
    overall: Group
    median_first_reply_hours: float | None
    spam: int
    by_category: list[Group] = field(default_factory=list)
    by_office: list[Group] = field(default_factory=list)
    by_channel: list[Group] = field(default_factory=list)
    by_month: list[Group] = field(default_factory=list)
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def on_time_rate(self) -> float | None:
        return self.overall.on_time_rate

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            **{k: v for k, v in self.overall.as_dict().items() if k != "key"},
            "median_first_reply_hours": self.median_first_reply_hours,
            "spam": self.spam,
            "by_status": self.by_status,
            **{
                name: [g.as_dict() for g in getattr(self, name)]
                for name in ("by_category", "by_office", "by_channel", "by_month")
            },
        }


def _period(start: datetime | None, end: datetime | None) -> tuple[str, list[Any]]:
    where, params = ["status <> 'spam'"], []
    if start is not None:
        where.append("received_at >= ?")
        params.append(start.astimezone(UTC))
    if end is not None:
        where.append("received_at < ?")
        params.append(end.astimezone(UTC))
    return " AND ".join(where), params


def _month_expr(config: Config) -> str:
    zone = ZoneInfo(config.app.timezone)
    if db.is_postgres():
        return f"to_char(received_at AT TIME ZONE '{zone.key}', 'YYYY-MM')"
    # SQLite has no time zones: shift by the zone's current offset (Asia/Shanghai has no DST).
    offset = datetime.now(zone).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    return f"strftime('%Y-%m', received_at, '{minutes:+d} minutes')"


async def _groups(key: str | None, where: str, params: list[Any], now: datetime) -> list[Group]:
    """Counts grouped by the SQL expression `key` (None: one group of everything)."""
    group = f" GROUP BY {key} ORDER BY total DESC, k" if key else ""
    rows = await db.connection().execute_query_dict(
        sql(
            f"SELECT {key or 'NULL'} AS k, COUNT(*) AS total, "
            "SUM(CASE WHEN first_reply_at IS NOT NULL THEN 1 ELSE 0 END) AS answered, "
            "SUM(CASE WHEN due_at IS NOT NULL AND first_reply_at IS NOT NULL "
            "AND first_reply_at <= due_at THEN 1 ELSE 0 END) AS on_time, "
            "SUM(CASE WHEN due_at IS NOT NULL AND (first_reply_at IS NOT NULL "
            "OR (status = 'open' AND due_at < ?)) THEN 1 ELSE 0 END) AS judged, "
            "SUM(CASE WHEN status = 'open' AND due_at < ? THEN 1 ELSE 0 END) AS overdue_open "
            f"FROM {TABLE} WHERE {where}{group}"
        ),
        [now, now, *params],
    )
    return [
        Group(
            str(r["k"] if r["k"] is not None else ""),
            int(r["total"] or 0),
            int(r["answered"] or 0),
            int(r["on_time"] or 0),
            int(r["judged"] or 0),
            int(r["overdue_open"] or 0),
        )
        for r in rows
    ]


async def _median_hours(where: str, params: list[Any]) -> float | None:
    if db.is_postgres():
        delta = "EXTRACT(EPOCH FROM (first_reply_at - received_at))"
    else:
        delta = "(julianday(first_reply_at) - julianday(received_at)) * 86400.0"
    answered = f"{where} AND first_reply_at IS NOT NULL"
    conn = db.connection()
    rows = await conn.execute_query_dict(
        sql(f"SELECT COUNT(*) AS n FROM {TABLE} WHERE {answered}"), params
    )
    n = int(rows[0]["n"] or 0)
    if not n:
        return None
    # The middle one or two values, found by the database's sort, not by loading all rows.
    rows = await conn.execute_query_dict(
        sql(
            f"SELECT {delta} AS s FROM {TABLE} WHERE {answered} ORDER BY s "
            f"LIMIT {1 if n % 2 else 2} OFFSET {(n - 1) // 2}"
        ),
        params,
    )
    values = [float(r["s"]) for r in rows]
    return sum(values) / len(values) / 3600


async def inbox_metrics(
    config: Config,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
) -> InboxMetrics:
    """Metrics of the comments received in [start, end) (either end open when None)."""
    now = now or datetime.now(UTC)
    where, params = _period(start, end)
    overall = await _groups(None, where, params, now)
    spam_where = where.replace("status <> 'spam'", "status = 'spam'")
    spam = await db.connection().execute_query_dict(
        sql(f"SELECT COUNT(*) AS n FROM {TABLE} WHERE {spam_where}"), params
    )
    status_rows = await db.connection().execute_query_dict(
        sql(f"SELECT status, COUNT(*) AS n FROM {TABLE} WHERE {where} GROUP BY status"), params
    )
    return InboxMetrics(
        start=start,
        end=end,
        overall=overall[0] if overall else Group("all", 0, 0, 0, 0, 0),
        median_first_reply_hours=await _median_hours(where, params),
        spam=int(spam[0]["n"] or 0),
        by_category=await _groups("category", where, params, now),
        by_office=await _groups("office", where, params, now),
        by_channel=await _groups("channel", where, params, now),
        by_month=await _groups(_month_expr(config), where, params, now),
        by_status={str(r["status"]): int(r["n"]) for r in status_rows},
    )
