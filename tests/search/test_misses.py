"""Searches that found nothing, counted on SQLite and PostgreSQL: stored with personal data
masked as the inbox masks it, one row per (query, day) raised by an upsert that loses no count
when many searches land at once, and the most frequent of a window first."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from bot.config import Config
from bot.models import SearchMiss
from bot.search import misses

DAY = date(2026, 12, 8)


async def test_a_query_is_stored_with_personal_data_masked(any_config: Config) -> None:
    await misses.record("13812345678 的办理进度", DAY)
    await misses.record("身份证 11010519491231002X 和 someone@example.com 的材料", DAY)
    stored = sorted(await SearchMiss.all().values_list("query", flat=True))
    assert stored == [
        "138****5678 的办理进度",
        "身份证 110***********002X 和 s***@example.com 的材料",
    ]
    assert not any("12345678" in q or "19491231" in q or "someone" in q for q in stored)


async def test_concurrent_searches_for_one_query_are_all_counted(any_config: Config) -> None:
    await asyncio.gather(*(misses.record("不存在的词语", DAY) for _ in range(20)))
    await misses.record("不存在的词语", DAY + timedelta(days=1))  # another day, another row
    rows = (
        await SearchMiss.filter(query="不存在的词语")
        .order_by("day")
        .values_list("count", flat=True)
    )
    assert rows == [20, 1]


async def test_top_is_the_most_frequent_of_the_window_first(any_config: Config) -> None:
    for text, times, day in (
        ("甲", 3, DAY),
        ("乙", 5, DAY - timedelta(days=1)),
        ("甲", 4, DAY - timedelta(days=2)),
        ("丙", 9, DAY - timedelta(days=30)),  # before the window
    ):
        for _ in range(times):
            await misses.record(text, day)
    top = await misses.top(DAY - timedelta(days=29), limit=10)
    assert [(m.query, m.count) for m in top] == [("甲", 7), ("乙", 5)]
    assert [m.query for m in await misses.top(DAY - timedelta(days=29), limit=1)] == ["甲"]
