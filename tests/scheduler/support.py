"""Shared by the scheduler job tests: publish an item the real way (create, submit, approve,
dispatch to the enabled channels), a WeCom-style robot on 127.0.0.1 that records the alerts,
a configuration on the test's database that alerts it, and a job context."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.config import Config, parse_config
from bot.inbox.ingest import Inbox
from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from bot.models import Finding, Item
from bot.outbox.channel_set import build_channels
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.wakeup import Wakeup
from scheduler.alerts import Alerter
from scheduler.jobs import JobContext, JobSpec, job_specs
from tests.conftest import Staff

ENVIRON = {"GONGKAI_AUTHOR_KEY": "test-author-key", "GONGKAI_WEBHOOK_SECRET": "test-secret"}


class Robot:
    """The group robot: takes {"msgtype": "text", ...} and answers errcode 0."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.messages.append(body["text"]["content"])
        return web.json_response({"errcode": 0, "errmsg": "ok"})


@asynccontextmanager
async def running_robot() -> AsyncIterator[Robot]:
    robot = Robot()
    app = web.Application()
    app.router.add_post("/cgi-bin/webhook/send", robot.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    robot.url = str(server.make_url("/cgi-bin/webhook/send?key=test"))
    try:
        yield robot
    finally:
        await server.close()


def config_on(base: Config, robot: Robot | None = None, **sections: Any) -> Config:
    """A configuration on `base`'s (connected) database, alerting `robot` when given."""
    data: dict[str, Any] = {"database": {"url": base.database.url}, **sections}
    environ = dict(ENVIRON)
    if robot is not None:
        data.setdefault("inbox", {})["alert_webhook_env"] = "GK_ROBOT"
        environ["GK_ROBOT"] = robot.url
    return parse_config(data, "test", environ=environ)


def spec(config: Config, name: str) -> JobSpec:
    return {s.name: s for s in job_specs(config)}[name]


async def approve(config: Config, staff: Staff, **data: Any) -> Item:
    """Create, submit and approve an item; warnings pre-review raises are overridden."""
    fields = {"kind": "notice", "title": "关于开展政务公开日活动的通知", "body": "活动安排如下。"}
    fields.update(data)
    item = await lifecycle.create_item(ItemCreate.model_validate(fields), staff.editor, config)
    await lifecycle.submit(item.id, staff.editor, config)
    for finding in await Finding.filter(item_id=item.id, overridden_at=None):
        if finding.needs_override:
            await lifecycle.override_finding(finding.id, staff.reviewer, "测试中确认")
    return await lifecycle.approve(item.id, staff.reviewer, config)


async def dispatch(config: Config) -> None:
    await Dispatcher(config, build_channels(config), Wakeup(), owner="test").run_until_idle()


async def publish(config: Config, staff: Staff, **data: Any) -> Item:
    item = await approve(config, staff, **data)
    await dispatch(config)
    return await Item.get(id=item.id)


def context(
    config: Config,
    owner: str = "p1",
    session: aiohttp.ClientSession | None = None,
) -> JobContext:
    return JobContext(config, Inbox(config), {}, Alerter(config, session), owner, session)
