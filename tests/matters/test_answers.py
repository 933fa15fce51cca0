"""Answering a 专项回应's comments in bulk (bot/matters/answers.py): refused while the task is
open; after closure each linked comment gets one answer with the link to the response, through
the channel it came from (the website's 查询码 page, a remote channel over real HTTP on
127.0.0.1, the 12345 channel that no configuration can carry, which fails clearly), even when
two bulk answers run at once and when it is run again; a closed comment is named, not answered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.config import Config
from bot.inbox import ops as inbox_ops
from bot.inbox.ingest import Inbox
from bot.inbox.replies import ReplySender
from bot.items import lifecycle
from bot.matters.answers import plan, reply_all
from bot.matters.tasks import ResponseNotPublished, TaskStillOpen, close_task, scan
from bot.models import Comment, CommentReply, MatterTaskComment
from bot.outbox.channel_set import build_channels, retract_support
from channels.base import (
    Channel,
    ChannelLimits,
    Content,
    IncomingComment,
    Job,
    PermanentError,
    Published,
)
from tests.conftest import create_staff
from tests.matters.support import matters_config, moderator
from tests.scheduler.support import publish

NOW = datetime(2025, 6, 30, 1, 0, tzinfo=UTC)


class Remote:
    """A remote service taking answers at POST /reply; records each one."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        return web.json_response({"id": f"r-{len(self.received)}"})


class RemoteChannel(Channel):
    name = "remote"
    label = "测试渠道"
    limits = ChannelLimits(concurrency=4, rate_per_second=100)
    can_reply = True

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url, self.session = url, session

    async def publish(self, content: Content, job: Job) -> Published:
        raise PermanentError("不发布")

    async def send_reply(self, reply_ref: dict[str, Any], text: str, key: str) -> str:
        payload = {"to": reply_ref.get("user"), "text": text, "key": key}
        async with self.session.post(self.url, json=payload) as resp:
            return str((await resp.json())["id"])


@pytest.fixture
async def remote() -> AsyncIterator[tuple[Remote, RemoteChannel]]:
    service = Remote()
    app = web.Application()
    app.router.add_post("/reply", service.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        yield service, RemoteChannel(str(server.make_url("/reply")), session)
    await server.close()


def incoming(channel: str, n: int, kind: str, **ref: Any) -> IncomingComment:
    return IncomingComment(
        channel=channel,
        remote_id=f"{channel}:{n}",
        text=f"营业执照办理太慢了，第{n}次来问",
        received_at=NOW - timedelta(days=n),
        kind=kind,
        reply_ref=ref,
    )


async def test_after_closure_each_linked_comment_is_answered_once_through_its_own_channel(
    any_config: Config, remote: tuple[Remote, RemoteChannel]
) -> None:
    service, channel = remote
    config = matters_config(any_config, tasks={"complaints": 3})
    mia = await moderator()
    staff = await create_staff()
    done = await Inbox(config).ingest_many(
        [
            incoming("feed", 1, "form", type="query_code"),
            incoming("feed", 2, "form", type="query_code"),
            incoming("remote", 3, "message", user="u-3"),
            incoming("hotline", 4, "hotline", work_order="GD4"),
            incoming("feed", 5, "form", type="query_code"),
        ]
    )
    ids = {d.comment.remote_id: d.comment.id for d in done}
    await inbox_ops.close(ids["feed:5"], mia, reason="已电话答复")
    [task_id] = (await scan(config, NOW)).opened
    assert await MatterTaskComment.filter(task_id=task_id).count() == 5

    with pytest.raises(TaskStillOpen):
        await reply_all(task_id, mia, config)
    item = await publish(config, staff, title="关于营业执照办理提速的专项回应")
    await close_task(task_id, staff.editor, item_id=item.id, note="三个工作日办结")

    shown = await plan(task_id, mia, config)
    link = f"http://127.0.0.1:8080/items/{item.id}"
    assert link in shown.text and "企业开办" in shown.text
    assert {r.comment.id: r.state for r in shown.rows}[ids["feed:5"]] == "blocked"
    assert shown.count("ready") == 4 and dict(shown.channels()) == {
        "feed": 2,
        "remote": 1,
        "hotline": 1,
    }

    first, second = await _twice(task_id, mia, config)
    assert sorted(first.queued + second.queued) == sorted(
        ids[k] for k in ("feed:1", "feed:2", "remote:3", "hotline:4")
    )
    for run in (first, second):  # each comment once: answered by one run, seen by the other
        assert len(run.queued) + run.already == 4
        assert [c for c, _ in run.skipped] == [ids["feed:5"]]
    assert "已办结" in first.skipped[0][1]

    sender = ReplySender(config, {**build_channels(config), "remote": channel}, owner="s1")
    await sender.run_until_idle()
    replies = await CommentReply.all().order_by("comment_id")
    assert [r.comment_id for r in replies] == sorted(
        ids[k] for k in ("feed:1", "feed:2", "remote:3", "hotline:4")
    )
    status = {r.comment_id: r.status for r in replies}
    assert status[ids["feed:1"]] == status[ids["feed:2"]] == status[ids["remote:3"]] == "sent"
    assert status[ids["hotline:4"]] == "failed"  # no configured channel carries 12345 answers
    assert "hotline" in next(r for r in replies if r.comment_id == ids["hotline:4"]).last_error
    assert [(r["to"], link in r["text"]) for r in service.received] == [("u-3", True)]
    answered = await Comment.get(id=ids["feed:1"])
    assert answered.status == "replied" and link in answered.reply

    again = await reply_all(task_id, mia, config)
    assert again.queued == [] and again.already == 4
    await sender.run_until_idle()
    assert await CommentReply.all().count() == 4 and len(service.received) == 1
    links = await MatterTaskComment.filter(task_id=task_id, reply_id__not_isnull=True)
    assert sorted(x.reply_id for x in links) == sorted(r.id for r in replies)

    # Retracted since, the response can no longer be the link of an answer.
    await lifecycle.retract(item.id, staff.reviewer, "信息有误", retract_support(config))
    with pytest.raises(ResponseNotPublished, match="已撤稿"):
        await plan(task_id, mia, config)


async def _twice(task_id: int, actor: Any, config: Config) -> Any:
    import asyncio

    return await asyncio.gather(
        reply_all(task_id, actor, config), reply_all(task_id, actor, config)
    )
