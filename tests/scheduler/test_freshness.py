"""Channel and column freshness (scheduler/freshness.py, job channels.freshness): the website
is warned about at 10 days and alarmed at 14 without a post; the 通知公告 column has a
180-day limit instead (warned four days ahead, like the others); columns never used alarm;
the alert goes out once a day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp

from bot.config import Config
from bot.models import Delivery
from scheduler.freshness import assess
from scheduler.jobs import run_job
from tests.conftest import create_staff
from tests.scheduler.support import config_on, context, publish, running_robot, spec

SH = ZoneInfo("Asia/Shanghai")


async def posted_notice(config: Config) -> datetime:
    """A notice published on the website; returns its publication time."""
    item = await publish(config, await create_staff())
    delivery = await Delivery.get(item_id=item.id, channel="feed")
    assert delivery.finished_at is not None
    return delivery.finished_at


def levels(found: list, scope: str) -> dict[str, tuple[int | None, str]]:  # type: ignore[type-arg]
    return {f.key: (f.days, f.level) for f in found if f.scope == scope}


async def test_website_warns_at_10_and_alarms_at_14_days_notice_column_uses_180(
    any_config: Config,
) -> None:
    posted = (await posted_notice(any_config)).astimezone(SH).date()
    channel = {d: levels(await assess(any_config, posted + timedelta(days=d)), "channel")["feed"]
               for d in (9, 10, 13, 14)}  # fmt: skip
    assert channel == {9: (9, "ok"), 10: (10, "warn"), 13: (13, "warn"), 14: (14, "alarm")}
    columns = levels(await assess(any_config, posted + timedelta(days=14)), "column")
    assert columns["notice"] == (14, "ok")  # 180-day column
    assert columns["policy"] == (None, "alarm")  # never published
    assert columns["interpretation"] == (None, "alarm")
    notice = {
        d: levels(await assess(any_config, posted + timedelta(days=d)), "column")["notice"][1]
        for d in (175, 176, 179, 180)
    }
    assert notice == {175: "ok", 176: "warn", 179: "warn", 180: "alarm"}


async def test_alerts_once_a_day_naming_the_channel_and_the_days(any_config: Config) -> None:
    posted = await posted_notice(any_config)
    async with running_robot() as robot, aiohttp.ClientSession() as session:
        config = config_on(any_config, robot)
        job = spec(config, "channels.freshness")
        local = (posted + timedelta(days=11)).astimezone(SH)
        morning = local.replace(hour=9, minute=5).astimezone(UTC)
        early = local.replace(hour=8, minute=0).astimezone(UTC)
        assert await run_job(job, context(config, "p1", session), early) is None  # not 09:00
        result = await run_job(job, context(config, "p1", session), morning)
        assert result is not None
        stale = {(s["scope"], s["key"]): s["level"] for s in result["stale"]}
        assert stale[("channel", "feed")] == "warn" and ("column", "notice") not in stale
        assert await run_job(job, context(config, "p2", session), morning) is None
        (message,) = robot.messages
        assert "【预警】网站已 11 天未更新，3 天后将超过 14 天的要求" in message
        assert "【告警】政策文件栏目从未发布" in message
        later = (local + timedelta(days=3)).replace(hour=9, minute=5).astimezone(UTC)
        again = await run_job(job, context(config, "p1", session), later)
        assert again is not None and len(robot.messages) == 2
        assert "【告警】网站已 14 天未更新（超过 14 天的要求）" in robot.messages[1]
