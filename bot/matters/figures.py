"""The figures of 集中诉求 and 专项回应, as the dashboard, the matter pages, the API, the command
line and the annual report read them: per listed matter, the messages of the last 30 days
(comments of every channel and 12345 orders, spam and the ignored categories left out) with
their daily trend and the 30 days before, and the 好差评 of [hot_matters.tasks] rating_days
(count, average, 不满意 or worse); the tasks' on-time rate; the messages no listed matter fits,
grouped into suggested new matters.

Counts are SQL aggregates (COUNT / AVG / GROUP BY), days are app.timezone days.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot import db
from bot.config import Config
from bot.db import sql
from bot.matters.matching import groups
from bot.matters.settings import MatterConfig
from bot.models import (
    Comment,
    CommentStatus,
    MatterComment,
    MatterTask,
    MatterTaskStatus,
    ServiceRating,
)

TREND_DAYS = 30
COMMENTS = Comment._meta.db_table
PLACED = MatterComment._meta.db_table
RATINGS = ServiceRating._meta.db_table
TASKS = MatterTask._meta.db_table
LOW_GRADE = 2  # 不满意 or worse
HOTLINE = "hotline"


def _local_day(column: str, tz: ZoneInfo) -> str:
    """The app.timezone date of a stored UTC time, as a SQL expression."""
    if db.is_postgres():
        return f"CAST({column} AT TIME ZONE '{tz.key}' AS DATE)"
    offset = datetime.now(tz).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    return f"date({column}, '{minutes:+d} minutes')"


def counted(config: Config) -> tuple[str, list[Any]]:
    """The condition a message meets to count, with its parameters."""
    ignored = list(config.hot_matters.tasks.ignore_categories)
    where = "m.matter <> '' AND c.status <> ?"
    params: list[Any] = [CommentStatus.SPAM.value]
    if ignored:
        where += f" AND c.category NOT IN ({', '.join('?' for _ in ignored)})"
        params += ignored
    return where, params


async def message_counts(config: Config, since: datetime, until: datetime) -> dict[str, int]:
    """Messages per matter received in [since, until)."""
    where, params = counted(config)
    rows = await db.connection().execute_query_dict(
        sql(
            f"SELECT m.matter AS matter, COUNT(*) AS n FROM {PLACED} m "
            f"JOIN {COMMENTS} c ON c.id = m.comment_id "
            f"WHERE {where} AND c.received_at >= ? AND c.received_at < ? GROUP BY m.matter"
        ),
        [*params, since, until],
    )
    return {str(r["matter"]): int(r["n"]) for r in rows}


@dataclass(frozen=True)
class RatingFigures:
    count: int = 0
    average: float | None = None
    low: int = 0  # 不满意 or worse


async def rating_figures(since: datetime, until: datetime) -> dict[str, RatingFigures]:
    """好差评 per matter rated in [since, until)."""
    rows = await db.connection().execute_query_dict(
        sql(
            f"SELECT matter, COUNT(*) AS n, AVG(grade) AS average, "
            f"SUM(CASE WHEN grade <= ? THEN 1 ELSE 0 END) AS low FROM {RATINGS} "
            "WHERE matter <> '' AND rated_at >= ? AND rated_at < ? GROUP BY matter"
        ),
        [LOW_GRADE, since, until],
    )
    return {
        str(r["matter"]): RatingFigures(
            int(r["n"]), round(float(r["average"]), 2), int(r["low"] or 0)
        )
        for r in rows
    }


@dataclass
class MatterFigures:
    """One listed matter as the pages show it."""

    matter: MatterConfig
    count: int = 0  # messages of the last 30 days
    previous: int = 0  # of the 30 days before
    hotline: int = 0  # of `count`, 12345 orders
    daily: list[int] = field(default_factory=lambda: [0] * TREND_DAYS)  # oldest first
    ratings: RatingFigures = RatingFigures()
    open_task: MatterTask | None = None

    @property
    def change(self) -> int:
        return self.count - self.previous

    @property
    def trend(self) -> str:
        """上升 / 下降 / 持平 against the 30 days before."""
        if self.count > self.previous:
            return "上升"
        if self.count < self.previous:
            return "下降"
        return "持平"


def trend_days(today: date) -> list[date]:
    """The 30 days of the trend, oldest first, today last."""
    return [today - timedelta(days=TREND_DAYS - 1 - i) for i in range(TREND_DAYS)]


async def hot_matters(config: Config, now: datetime | None = None) -> list[MatterFigures]:
    """Every listed matter with its figures, the most messages of the last 30 days first."""
    now = now or datetime.now(UTC)
    tz = ZoneInfo(config.app.timezone)
    today = now.astimezone(tz).date()
    first = today - timedelta(days=2 * TREND_DAYS - 1)
    since = datetime.combine(first, time(), tz).astimezone(UTC)
    where, params = counted(config)
    day = _local_day("c.received_at", tz)
    rows = await db.connection().execute_query_dict(
        sql(
            f"SELECT m.matter AS matter, {day} AS d, COUNT(*) AS n, "
            f"SUM(CASE WHEN c.channel = ? THEN 1 ELSE 0 END) AS h FROM {PLACED} m "
            f"JOIN {COMMENTS} c ON c.id = m.comment_id "
            f"WHERE {where} AND c.received_at >= ? AND c.received_at <= ? "
            "GROUP BY m.matter, d"
        ),
        [HOTLINE, *params, since, now],
    )
    found = {m.key: MatterFigures(m) for m in config.matters}
    for r in rows:
        figures = found.get(str(r["matter"]))
        if figures is None:  # a matter taken out of config.toml since
            continue
        index = (date.fromisoformat(str(r["d"])[:10]) - first).days - TREND_DAYS
        n = int(r["n"])
        if index < 0:
            figures.previous += n
        elif index < TREND_DAYS:
            figures.count += n
            figures.hotline += int(r["h"] or 0)
            figures.daily[index] += n
    rated = await rating_figures(
        now - timedelta(days=config.hot_matters.tasks.rating_days), now + timedelta(seconds=1)
    )
    for key, figures in found.items():
        figures.ratings = rated.get(key, RatingFigures())
    for task in await MatterTask.filter(status=MatterTaskStatus.OPEN.value):
        if task.matter in found:
            found[task.matter].open_task = task
    return sorted(found.values(), key=lambda f: (-f.count, -f.ratings.low, f.matter.name))


@dataclass
class TaskFigures:
    """专项回应 tasks opened in a period and how they were met. Judged: closed, or open past
    their due time (like the inbox's on-time rate)."""

    opened: int = 0
    closed: int = 0
    on_time: int = 0  # closed by the due time
    overdue_open: int = 0
    open: int = 0

    @property
    def judged(self) -> int:
        return self.closed + self.overdue_open

    @property
    def late(self) -> int:
        return self.closed - self.on_time

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.judged if self.judged else None


async def task_figures(since: datetime, until: datetime, now: datetime) -> TaskFigures:
    """Tasks opened in [since, until), as they stand at `now`."""
    rows = await db.connection().execute_query_dict(
        sql(
            f"SELECT COUNT(*) AS opened, "
            "SUM(CASE WHEN status = ? THEN 1 ELSE 0 END) AS closed, "
            "SUM(CASE WHEN status = ? AND on_time THEN 1 ELSE 0 END) AS on_time, "
            "SUM(CASE WHEN status = ? AND due_at < ? THEN 1 ELSE 0 END) AS overdue, "
            "SUM(CASE WHEN status = ? THEN 1 ELSE 0 END) AS still_open "
            f"FROM {TASKS} WHERE opened_at >= ? AND opened_at < ?"
        ),
        [
            MatterTaskStatus.CLOSED.value,
            MatterTaskStatus.CLOSED.value,
            MatterTaskStatus.OPEN.value,
            now,
            MatterTaskStatus.OPEN.value,
            since,
            until,
        ],
    )
    r = rows[0] if rows else {}
    return TaskFigures(
        int(r.get("opened") or 0),
        int(r.get("closed") or 0),
        int(r.get("on_time") or 0),
        int(r.get("overdue") or 0),
        int(r.get("still_open") or 0),
    )


@dataclass(frozen=True)
class Suggestion:
    """Messages no listed matter fits that are alike: perhaps a matter to list."""

    words: tuple[str, ...]
    comments: tuple[int, ...]  # comment ids
    ratings: tuple[int, ...]  # rating ids
    samples: tuple[str, ...]  # a few of the (masked) texts
    offices: tuple[tuple[str, int], ...]  # the offices the comments were routed to, most first

    @property
    def size(self) -> int:
        return len(self.comments) + len(self.ratings)

    @property
    def name(self) -> str:
        return "、".join(self.words) or "（无明显关键词）"


async def suggestions(config: Config, now: datetime | None = None) -> list[Suggestion]:
    """The groups of unplaced messages of the last group_days days, the largest first."""
    now = now or datetime.now(UTC)
    h = config.hot_matters
    since = now - timedelta(days=h.group_days)
    comments = await db.connection().execute_query_dict(
        sql(
            f"SELECT c.id, c.masked_text, c.office FROM {PLACED} m "
            f"JOIN {COMMENTS} c ON c.id = m.comment_id WHERE m.matter = '' AND c.status <> ? "
            "AND c.received_at >= ? ORDER BY c.id DESC LIMIT ?"
        ),
        [CommentStatus.SPAM.value, since, h.group_limit],
    )
    ratings = (
        await ServiceRating.filter(matter="", rated_at__gte=since)
        .exclude(text="")
        .order_by("-id")
        .limit(h.group_limit)
        .values_list("id", "service", "text")
    )
    texts = [str(r["masked_text"] or "") for r in comments]
    texts += [f"{service}：{text}" for _, service, text in ratings]
    found = []
    for group in groups(texts, h.group_similarity, h.group_min):
        picked = [i for i in group.members if i < len(comments)]
        rated = [ratings[i - len(comments)][0] for i in group.members if i >= len(comments)]
        offices = Counter(str(comments[i]["office"] or "") for i in picked)
        offices.pop("", None)
        found.append(
            Suggestion(
                group.words,
                tuple(int(comments[i]["id"]) for i in picked),
                tuple(int(r) for r in rated),
                tuple(texts[i][:120] for i in group.members[:3]),
                tuple(offices.most_common(3)),
            )
        )
    return found


def matter_of(config: Config, key: str) -> MatterConfig | None:
    return next((m for m in config.matters if m.key == key), None)


@dataclass
class Panel:
    """What the 数据看板 shows of 集中诉求 and 专项回应."""

    hot: list[MatterFigures]  # the hottest matters with any message or rating
    open_tasks: list[MatterTask]  # by due time
    year: TaskFigures  # tasks opened this year
    configured: bool


async def dashboard_panel(config: Config, now: datetime, top: int = 5) -> Panel:
    tz = ZoneInfo(config.app.timezone)
    year = datetime(now.astimezone(tz).year, 1, 1, tzinfo=tz).astimezone(UTC)
    hot = [f for f in await hot_matters(config, now) if f.count or f.ratings.count][:top]
    tasks = await MatterTask.filter(status=MatterTaskStatus.OPEN.value).order_by("due_at")
    return Panel(hot, list(tasks), await task_figures(year, now, now), bool(config.matters))


@dataclass(frozen=True)
class MatterYear:
    name: str
    office: str
    messages: int
    ratings: int
    average: float | None
    tasks: int


@dataclass
class YearFigures:
    """The annual report's 集中诉求 and 专项回应: per listed matter, the messages and ratings of
    the year and the tasks opened; the tasks and how they were met."""

    matters: list[MatterYear]
    tasks: TaskFigures
    ratings: int = 0
    average: float | None = None


async def year_figures(
    config: Config, start: datetime, end: datetime, now: datetime
) -> YearFigures:
    counts = await message_counts(config, start, end)
    rated = await rating_figures(start, end)
    opened = await db.connection().execute_query_dict(
        sql(
            f"SELECT matter, COUNT(*) AS n FROM {TASKS} "
            "WHERE opened_at >= ? AND opened_at < ? GROUP BY matter"
        ),
        [start, end],
    )
    tasks = {str(r["matter"]): int(r["n"]) for r in opened}
    rows = [
        MatterYear(
            m.name,
            m.office,
            counts.get(m.key, 0),
            rated.get(m.key, RatingFigures()).count,
            rated.get(m.key, RatingFigures()).average,
            tasks.get(m.key, 0),
        )
        for m in config.matters
    ]
    rows.sort(key=lambda r: (-r.messages, -r.tasks, r.name))
    overall = await db.connection().execute_query_dict(
        sql(
            f"SELECT COUNT(*) AS n, AVG(grade) AS a FROM {RATINGS} "
            "WHERE rated_at >= ? AND rated_at < ?"
        ),
        [start, end],
    )
    count = int(overall[0]["n"] or 0) if overall else 0
    average = round(float(overall[0]["a"]), 2) if count else None
    return YearFigures(rows, await task_figures(start, end, now), count, average)
