"""The daily digest (scheduler/digest.py, job digest.daily): yesterday's publications per
channel, dead deliveries, comments received / overdue / due today, the last re-check's broken
links, freshness warnings and the audit chain head hash — sent once a day to the robot."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import aiohttp

from bot.config import Config
from bot.inbox.ingest import Inbox
from bot.models import AuditEvent, Comment, Delivery, JobSlot
from channels.base import IncomingComment
from scheduler.jobs import run_job
from tests.conftest import create_staff
from tests.scheduler.support import config_on, context, publish, running_robot, spec

SH = ZoneInfo("Asia/Shanghai")


async def comment(config: Config, remote_id: str, received: datetime) -> Comment:
    done = await Inbox(config).ingest(
        IncomingComment("feed", remote_id, "请问办事大厅几点开门？", received, "form")
    )
    return done.comment


async def test_digest_holds_the_numbers_and_the_audit_head_hash(any_config: Config) -> None:
    staff = await create_staff()
    now = datetime.now(UTC)
    today = now.astimezone(SH).date()
    yesterday_noon = datetime.combine(today - timedelta(days=1), time(12), SH).astimezone(UTC)
    items = [await publish(any_config, staff, title=f"通知{n}") for n in range(3)]
    # Two went out on the website yesterday, the third failed for good.
    for item in items[:2]:
        await Delivery.filter(item_id=item.id).update(finished_at=yesterday_noon)
    await Delivery.filter(item_id=items[2].id).update(status="dead", finished_at=yesterday_noon)
    # Comments: two received yesterday (one now overdue), one due later today.
    # The digest is built as at noon today (it is due from 08:30).
    noon = datetime.combine(today, time(12), SH).astimezone(UTC)
    overdue = await comment(any_config, "c1", yesterday_noon)
    await comment(any_config, "c2", yesterday_noon)
    later = await comment(any_config, "c3", noon - timedelta(minutes=5))
    await Comment.filter(id=overdue.id).update(due_at=noon - timedelta(hours=1))
    await Comment.filter(id=later.id).update(due_at=noon + timedelta(hours=3))
    await JobSlot.create(
        job="links.recheck",
        slot=today.isoformat(),
        owner="w",
        started_at=now,
        finished_at=now,
        result={
            "day": today.isoformat(),
            "broken": [{"item_id": items[0].id, "title": "通知0", "url": "https://x.example/gone"}],
        },
    )
    head = await AuditEvent.all().order_by("-id").first()
    assert head is not None
    async with running_robot() as robot, aiohttp.ClientSession() as session:
        config = config_on(any_config, robot)
        job = spec(config, "digest.daily")
        early = datetime.combine(today, time(8), SH).astimezone(UTC)
        assert await run_job(job, context(config, "p1", session), early) is None
        result = await run_job(job, context(config, "p1", session), noon)
        assert result is not None
        assert result["published"] == {"feed": 2} and result["dead"] == 1
        assert (result["received"], result["overdue"]) == (2, 1)
        assert result["due_today"] == 1
        assert result["audit_hash"] == head.hash
        (text,) = robot.messages
        assert f"昨日（{today - timedelta(days=1):%m-%d}）发布：网站 2 条，共 2 条。" in text
        assert "发布失败待处理：1 条。" in text
        assert "昨日收到 2 条；已超期未答复 1 条；今日到期 1 条。" in text
        assert f"#{items[0].id}《通知0》https://x.example/gone" in text
        assert "【告警】政策文件栏目从未发布" in text
        assert f"审计日志链头：#{head.id} {head.hash}" in text
        # Once a day.
        evening = noon + timedelta(hours=8)
        assert await run_job(job, context(config, "p2", session), evening) is None
        assert len(robot.messages) == 1
