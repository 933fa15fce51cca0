"""Reminders and escalation (scheduler/sla.py): each fires once however often the job runs,
levels follow working days, nothing happens on a day off, alerts reach a WeCom-style group
robot over real HTTP, and unknown holiday calendars are warned about ahead."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.config import Config, parse_config
from bot.inbox.ingest import Inbox
from bot.models import AuditEvent, Comment
from channels.base import IncomingComment
from scheduler.alerts import Alerter
from scheduler.sla import calendar_check, sla_sweep

SH = ZoneInfo("Asia/Shanghai")


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH).astimezone(UTC)  # type: ignore[misc]


async def ingest(config: Config, remote_id: str, received: datetime) -> Comment:
    done = await Inbox(config).ingest(
        IncomingComment(
            "wechat", remote_id, f"请问{remote_id}号文件何时实施？", received, "message"
        )
    )
    return done.comment


async def audit_actions(comment_id: int) -> list[tuple[str, Any]]:
    rows = await AuditEvent.filter(target_type="comment", target_id=str(comment_id)).order_by("id")
    return [(r.action, r.details.get("level")) for r in rows]


class Robot:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.messages.append(await request.json())
        return web.json_response({"errcode": 0, "errmsg": "ok"})


@pytest.fixture
async def robot(any_config: Config) -> AsyncIterator[tuple[Robot, Config]]:
    bot = Robot()
    app = web.Application()
    app.router.add_post("/cgi-bin/webhook/send", bot.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    config = parse_config(
        {"database": {"url": any_config.database.url}, "inbox": {"alert_webhook_env": "ROBOT"}},
        environ={
            "ROBOT": str(server.make_url("/cgi-bin/webhook/send?key=abc")),
            "GONGKAI_AUTHOR_KEY": "k",
        },
    )
    yield bot, config
    await server.close()


async def test_reminder_and_each_escalation_level_fire_once(
    robot: tuple[Robot, Config],
) -> None:
    bot, config = robot
    # Received Monday 2025-03-03 10:00: due Monday 2025-03-10 17:30 (five working days).
    c = await ingest(config, "m1", sh(2025, 3, 3, 10))
    assert c.due_at == sh(2025, 3, 10, 17, 30)
    async with aiohttp.ClientSession() as session:
        alerter = Alerter(config, session)
        for now in (sh(2025, 3, 10, 15), sh(2025, 3, 10, 16)):  # 2.5 h before: remind once
            await sla_sweep(config, alerter, now)
        for now in (sh(2025, 3, 11, 9), sh(2025, 3, 11, 10)):  # overdue: level 1 once
            await sla_sweep(config, alerter, now)
        # Level 2: two more working days after the due day (Wednesday 17:30) have passed.
        second = await sla_sweep(config, alerter, sh(2025, 3, 12, 17))
        assert second.escalated == {}
        for now in (sh(2025, 3, 13, 9), sh(2025, 3, 13, 10)):
            await sla_sweep(config, alerter, now)
        # Level 3: 20 working days after receipt, Monday 2025-03-31 17:30.
        for now in (sh(2025, 4, 1, 9), sh(2025, 4, 2, 9)):
            await sla_sweep(config, alerter, now)
    assert await audit_actions(c.id) == [
        ("comment.remind", None),
        ("comment.escalate", 1),
        ("comment.escalate", 2),
        ("comment.escalate", 3),
    ]
    stored = await Comment.get(id=c.id)
    assert stored.escalation_level == 3 and stored.reminded_at == sh(2025, 3, 10, 15)
    texts = [m["text"]["content"] for m in bot.messages]
    assert all(m["msgtype"] == "text" for m in bot.messages)
    assert len(texts) == 4
    assert texts[0].startswith("【留言答复提醒】1 条留言") and f"#{c.id}" in texts[0]
    assert texts[1].startswith("【督办1级") and texts[3].startswith("【督办3级")


async def test_a_long_overdue_comment_jumps_to_its_level_in_one_event(
    robot: tuple[Robot, Config],
) -> None:
    _, config = robot
    c = await ingest(config, "m2", sh(2025, 3, 3, 10))
    report = await sla_sweep(config, Alerter(config, None), sh(2025, 4, 2, 10))
    assert report.escalated == {c.id: 3} and report.reminded == []
    assert await audit_actions(c.id) == [("comment.escalate", 3)]


async def test_nothing_fires_on_a_day_off_or_for_answered_comments(
    robot: tuple[Robot, Config],
) -> None:
    bot, config = robot
    c = await ingest(config, "m3", sh(2025, 3, 3, 10))
    weekend = await sla_sweep(config, Alerter(config, None), sh(2025, 3, 15, 10))  # Saturday
    assert not weekend.workday and weekend.escalated == {}
    await Comment.filter(id=c.id).update(status="replied")
    report = await sla_sweep(config, Alerter(config, None), sh(2025, 3, 17, 10))
    assert report.workday and report.escalated == {} and bot.messages == []
    assert await audit_actions(c.id) == []


async def test_unknown_holiday_calendars_are_warned_about_ahead(
    robot: tuple[Robot, Config],
) -> None:
    bot, config = robot
    async with aiohttp.ClientSession() as session:
        years = await calendar_check(config, Alerter(config, session), sh(2099, 12, 1))
    assert years == [2099, 2100]
    assert "2099、2100 年的法定节假日安排尚未录入" in bot.messages[0]["text"]["content"]


async def test_a_robot_that_refuses_does_not_stop_the_sweep(any_config: Config) -> None:
    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"errcode": 93000, "errmsg": "invalid webhook url"})

    app = web.Application()
    app.router.add_post("/send", refuse)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    config = parse_config(
        {"database": {"url": any_config.database.url}, "inbox": {"alert_webhook_env": "R"}},
        environ={"R": str(server.make_url("/send")), "GONGKAI_AUTHOR_KEY": "k"},
    )
    try:
        c = await ingest(config, "m4", sh(2025, 3, 3, 10))
        async with aiohttp.ClientSession() as session:
            alerter = Alerter(config, session)
            assert not await alerter.send("测试")
            report = await sla_sweep(config, alerter, sh(2025, 3, 11, 10))
        assert report.escalated == {c.id: 1}
    finally:
        await server.close()
