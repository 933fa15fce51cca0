"""Inbox metrics (bot/inbox/metrics.py) on SQLite and PostgreSQL: the on-time rate counts what
was answered or is overdue, the median time to first reply is the middle of the answered ones,
spam is left out, and the groups by category, office, channel and Shanghai month add up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.config import Config
from bot.inbox.ingest import Inbox
from bot.inbox.metrics import inbox_metrics
from bot.models import Comment
from channels.base import IncomingComment

T0 = datetime(2025, 3, 31, 17, 0, tzinfo=UTC)  # 2025-04-01 01:00 in Shanghai


async def add(config: Config, rid: str, channel: str = "wechat", **fields: object) -> int:
    done = await Inbox(config).ingest(
        IncomingComment(channel, rid, f"第{rid}个问题：政策咨询", T0, "message")
    )
    due = T0 + timedelta(days=5)
    await Comment.filter(id=done.comment.id).update(due_at=due, **fields)
    return done.comment.id


async def test_on_time_rate_median_and_groups(any_config: Config) -> None:
    hour = timedelta(hours=1)
    await add(any_config, "a", first_reply_at=T0 + 2 * hour, status="replied", office="甲处")
    await add(any_config, "b", first_reply_at=T0 + 4 * hour, status="replied", office="甲处")
    await add(any_config, "c", first_reply_at=T0 + 6 * 24 * hour, status="replied", office="乙处")
    await add(any_config, "d", office="乙处")  # open, overdue at `now`
    await add(any_config, "e", status="closed", office="乙处")  # closed unanswered: not judged
    await add(any_config, "f", "feed", status="spam")
    now = T0 + timedelta(days=10)
    m = await inbox_metrics(any_config, now=now)
    assert (m.overall.total, m.overall.answered, m.overall.on_time, m.overall.judged) == (
        5,
        3,
        2,
        4,
    )
    assert m.on_time_rate == 0.5 and m.spam == 1
    assert m.median_first_reply_hours is not None and abs(m.median_first_reply_hours - 4) < 1e-6
    offices = {g.key: (g.total, g.on_time, g.judged, g.overdue_open) for g in m.by_office}
    assert offices == {"甲处": (2, 2, 2, 0), "乙处": (3, 0, 2, 1)}
    assert [(g.key, g.total) for g in m.by_channel] == [("wechat", 5)]
    assert [(g.key, g.total) for g in m.by_month] == [("2025-04", 5)]  # Shanghai month
    assert sum(g.total for g in m.by_category) == 5
    assert m.by_status == {"replied": 3, "open": 1, "closed": 1}
    # A period that ends before the comments came in counts nothing.
    empty = await inbox_metrics(any_config, end=T0 - hour, now=now)
    assert empty.overall.total == 0 and empty.on_time_rate is None
    assert empty.median_first_reply_hours is None


async def test_even_count_median_is_the_mean_of_the_middle_two(any_config: Config) -> None:
    for i, hours in enumerate((1, 3, 5, 100)):
        await add(any_config, f"m{i}", first_reply_at=T0 + timedelta(hours=hours), status="replied")
    m = await inbox_metrics(any_config, now=T0 + timedelta(days=1))
    assert m.median_first_reply_hours is not None and abs(m.median_first_reply_hours - 4) < 1e-6
