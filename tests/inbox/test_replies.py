"""The reply sender (bot/inbox/replies.py) against a channel talking real HTTP on 127.0.0.1 to a
small
remote service defined here: a reply goes out through the comment's own channel with a stable
key, its status is shown on the comment and the SLA clock stops when it is sent; transient
errors are retried, permanent ones fail with the reason, a closed window needs another route,
an unconfigured channel fails clearly, and two senders never send one reply twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot import users
from bot.actors import Actor
from bot.config import Config
from bot.inbox import ops as inbox_ops
from bot.inbox.ingest import Inbox
from bot.inbox.replies import ReplySender
from bot.models import AuditEvent, Comment, CommentReply
from channels.base import (
    Channel,
    ChannelLimits,
    Content,
    IncomingComment,
    Job,
    NeedsOtherRoute,
    PermanentError,
    Published,
    TransientError,
)
from tests.conftest import add_test_user, make_config

AT = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)


class Remote:
    """The remote service: answers POST /reply with the next scripted status (200 by default)
    and records what arrived."""

    def __init__(self) -> None:
        self.script: list[int] = []
        self.received: list[dict[str, Any]] = []
        self.delay = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(self.delay)
        status = self.script.pop(0) if self.script else 200
        if status == 200:
            self.received.append(body)
            return web.json_response({"id": f"r-{len(self.received)}"})
        return web.json_response({"error": status}, status=status)


class RemoteChannel(Channel):
    """A channel whose replies go to the remote service: 503 is transient, 410 means the
    conversation window has closed, anything else is permanent."""

    name = "remote"
    label = "测试渠道"
    limits = ChannelLimits(concurrency=4, rate_per_second=100)
    can_reply = True

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.session = session

    async def publish(self, content: Content, job: Job) -> Published:
        raise PermanentError("不发布")

    async def send_reply(self, reply_ref: dict[str, Any], text: str, key: str) -> str:
        payload = {"to": reply_ref.get("user"), "text": text, "key": key}
        async with self.session.post(self.url, json=payload) as resp:
            data = await resp.json()
        if resp.status == 200:
            return str(data["id"])
        if resp.status == 503:
            raise TransientError("对方服务暂时不可用")
        if resp.status == 410:
            raise NeedsOtherRoute("已超过 48 小时客服消息窗口，请改用电话答复。")
        raise PermanentError(f"对方拒绝了答复（HTTP {resp.status}）")


@pytest.fixture
async def remote() -> AsyncIterator[tuple[Remote, str, aiohttp.ClientSession]]:
    service = Remote()
    app = web.Application()
    app.router.add_post("/reply", service.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        yield service, str(server.make_url("/reply")), session
    await server.close()


def fast(config: Config, **inbox: Any) -> Config:
    values = {"reply_backoff_base_seconds": 0.001, "reply_backoff_max_seconds": 0.002, **inbox}
    return make_config(config.database.url, inbox=values)


async def setup(config: Config, channel: str = "remote") -> tuple[Actor, Comment]:
    await add_test_user("mia", ["moderator"], "Pw-lima-2026", "system:test")
    done = await Inbox(config).ingest(
        IncomingComment(
            channel=channel,
            remote_id="m:1",
            text="请问补贴什么时候发放？",
            received_at=AT,
            kind="message",
            reply_ref={"user": "u-1"},
        )
    )
    return await users.actor_for_user("mia"), done.comment


async def test_a_reply_is_sent_through_its_channel_and_stops_the_clock_when_sent(
    any_config: Config, remote: tuple[Remote, str, aiohttp.ClientSession]
) -> None:
    service, url, session = remote
    mia, c = await setup(any_config)
    reply = await inbox_ops.send_reply(c.id, mia, text="您好，补贴将于本月底前发放。")
    queued = await Comment.get(id=c.id)
    assert queued.reply_status == "queued" and queued.first_reply_at is None
    assert queued.status == "open"  # queueing does not stop the clock
    sender = ReplySender(any_config, {"remote": RemoteChannel(url, session)}, owner="s1")
    assert await sender.run_until_idle() == 1
    assert service.received == [
        {"to": "u-1", "text": "您好，补贴将于本月底前发放。", "key": f"reply-{reply.id}"}
    ]
    sent = await CommentReply.get(id=reply.id)
    assert sent.status == "sent" and sent.remote_id == "r-1" and sent.sent_at is not None
    stored = await Comment.get(id=c.id)
    assert stored.status == "replied" and stored.reply_status == "sent"
    assert stored.reply == "您好，补贴将于本月底前发放。"
    assert stored.first_reply_at == sent.sent_at
    actions = await AuditEvent.filter(target_type="comment", target_id=str(c.id)).values_list(
        "action", flat=True
    )
    assert list(actions) == ["reply.queue", "reply.sent"]


async def test_first_reply_time_is_the_first_send_and_a_follow_up_keeps_it(
    config: Config, remote: tuple[Remote, str, aiohttp.ClientSession]
) -> None:
    _, url, session = remote
    mia, c = await setup(config)
    sender = ReplySender(config, {"remote": RemoteChannel(url, session)})
    await inbox_ops.send_reply(c.id, mia, text="第一次答复")
    await sender.run_until_idle()
    first = (await Comment.get(id=c.id)).first_reply_at
    await inbox_ops.send_reply(c.id, mia, text="补充答复")
    await sender.run_until_idle()
    stored = await Comment.get(id=c.id)
    assert stored.first_reply_at == first and stored.reply == "补充答复"


async def test_transient_errors_are_retried_with_the_same_key_until_sent(
    config: Config, remote: tuple[Remote, str, aiohttp.ClientSession]
) -> None:
    service, url, session = remote
    config = fast(config)
    mia, c = await setup(config)
    service.script = [503, 503]
    reply = await inbox_ops.send_reply(c.id, mia, text="答复")
    sender = ReplySender(config, {"remote": RemoteChannel(url, session)})
    for _ in range(50):
        await sender.run_until_idle()
        if (await CommentReply.get(id=reply.id)).status == "sent":
            break
        await asyncio.sleep(0.01)
    done = await CommentReply.get(id=reply.id)
    assert done.status == "sent" and done.attempts == 3
    assert [r["key"] for r in service.received] == [f"reply-{reply.id}"]


async def test_retries_exhausted_or_a_permanent_error_fail_with_the_reason(
    config: Config, remote: tuple[Remote, str, aiohttp.ClientSession]
) -> None:
    service, url, session = remote
    config = fast(config, reply_max_attempts=2)
    mia, c = await setup(config)
    sender = ReplySender(config, {"remote": RemoteChannel(url, session)})
    service.script = [503, 503]
    reply = await inbox_ops.send_reply(c.id, mia, text="答复")
    for _ in range(50):
        await sender.run_until_idle()
        if (await CommentReply.get(id=reply.id)).status == "failed":
            break
        await asyncio.sleep(0.01)
    failed = await CommentReply.get(id=reply.id)
    assert failed.status == "failed" and "重试 2 次" in failed.last_error
    assert "暂时不可用" in failed.last_error
    service.script = [400]
    second = await inbox_ops.send_reply(c.id, mia, text="再答复")
    await sender.run_until_idle()
    refused = await CommentReply.get(id=second.id)
    assert refused.status == "failed" and refused.attempts == 1
    assert "HTTP 400" in refused.last_error
    stored = await Comment.get(id=c.id)
    assert stored.reply_status == "failed" and stored.status == "open"
    assert stored.first_reply_at is None


async def test_a_closed_window_asks_for_another_route_and_shows_why(
    config: Config, remote: tuple[Remote, str, aiohttp.ClientSession]
) -> None:
    service, url, session = remote
    mia, c = await setup(config)
    service.script = [410]
    reply = await inbox_ops.send_reply(c.id, mia, text="答复")
    await ReplySender(config, {"remote": RemoteChannel(url, session)}).run_until_idle()
    row = await CommentReply.get(id=reply.id)
    assert row.status == "other_route" and "请改用电话答复" in row.last_error
    stored = await Comment.get(id=c.id)
    assert stored.reply_status == "other_route" and stored.status == "open"
    detail = await inbox_ops.get_comment(c.id)
    assert detail.history[-1].action == "reply.other_route"
    assert "48 小时" in detail.history[-1].details["error"]


async def test_a_reply_on_a_channel_that_is_not_configured_fails_clearly(
    config: Config, remote: tuple[Remote, str, aiohttp.ClientSession]
) -> None:
    _, url, session = remote
    mia, c = await setup(config, channel="app")
    reply = await inbox_ops.send_reply(c.id, mia, text="答复")
    await ReplySender(config, {"remote": RemoteChannel(url, session)}).run_until_idle()
    row = await CommentReply.get(id=reply.id)
    assert row.status == "failed" and "渠道「app」未配置或未启用" in row.last_error


async def test_two_senders_at_once_send_each_reply_once(
    any_config: Config, remote: tuple[Remote, str, aiohttp.ClientSession]
) -> None:
    service, url, session = remote
    service.delay = 0.05
    await add_test_user("mia", ["moderator"], "Pw-lima-2026", "system:test")
    mia = await users.actor_for_user("mia")
    inbox = Inbox(any_config)
    for i in range(6):
        done = await inbox.ingest(
            IncomingComment(
                "remote", f"m:{i}", f"第{i}个问题", AT, "message", reply_ref={"user": i}
            )
        )
        await inbox_ops.send_reply(done.comment.id, mia, text=f"答复{i}")
    senders = [
        ReplySender(any_config, {"remote": RemoteChannel(url, session)}, owner=f"s{n}")
        for n in range(2)
    ]
    await asyncio.gather(*(s.run_until_idle() for s in senders))
    assert sorted(r["text"] for r in service.received) == [f"答复{i}" for i in range(6)]
    assert await CommentReply.filter(status="sent").count() == 6


async def test_the_sender_loop_sends_what_is_queued_and_stops(
    config: Config, remote: tuple[Remote, str, aiohttp.ClientSession]
) -> None:
    service, url, session = remote
    config = fast(config, reply_interval_seconds=0.01)
    mia, c = await setup(config)
    sender = ReplySender(config, {"remote": RemoteChannel(url, session)})
    sender.start()
    try:
        await inbox_ops.send_reply(c.id, mia, text="循环发送")
        for _ in range(200):
            if (await Comment.get(id=c.id)).reply_status == "sent":
                break
            await asyncio.sleep(0.01)
    finally:
        await sender.stop()
    assert [r["text"] for r in service.received] == ["循环发送"]
