"""WeChat follow-up links (bot/wechat/follow_up.py) through the WeChat simulator and the bot's
real callback, relay and reply sender, on SQLite and PostgreSQL: a follower whose message the
auto-reply did not answer gets one customer-service text with the public search's top three
links — once, and as no answer (the comment stays open); a message the auto-reply answered,
one the search finds nothing for, and one outside the 48-hour window get none."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from bot import db
from bot.config import Config, parse_config
from bot.inbox import ops as inbox_ops
from bot.inbox import qa
from bot.inbox.replies import ReplySender
from bot.models import FOLLOW_UP_AUTHOR, ChannelEvent, Comment, CommentReply, Faq, QaEntry
from bot.outbox.channel_set import build_channels
from bot.web.app import create_app
from bot.web.keys import WECHAT_CALLBACK
from bot.wechat.callback import CallbackState
from bot.wechat.events import process_messages, store
from bot.wechat.follow_up import OPENING, FollowUps
from bot.wechat.relay import MessageRelay
from channels.sandbox.wechat import Callback, WechatSimulator
from channels.wechat.messages import classify, parse_xml
from tests.conftest import AUDIT_KEY
from tests.search.test_export import faq, moderator

APP_ID, SECRET, TOKEN = "wx-follow-up", "follow-up-secret", "follow-up-token"
AES_KEY = base64.b64encode(b"fedcba9876543210fedcba9876543210").decode().rstrip("=")
AUTHOR_KEY = "test-author-key"
BASE = "https://www.example.gov.cn"
CARD = [  # three FAQ entries the search finds for a lost 社保卡, one it does not
    ("社保卡丢失后如何挂失？", "拨打服务热线或在线挂失社保卡。", ["社保卡", "挂失"]),
    ("社保卡补办需要什么材料？", "携带身份证到任一网点补办社保卡。", ["社保卡", "补办"]),
    ("社保卡补办多久能拿到？", "现场制卡的网点当场可取社保卡。", ["社保卡", "补办", "制卡"]),
]
LICENCE = ("营业执照如何办理？", "请到政务服务中心窗口办理营业执照。", ["营业执照"])


@dataclass
class Env:
    config: Config
    sim: WechatSimulator
    state: CallbackState
    faqs: list[Faq]

    @property
    def relay(self) -> MessageRelay:
        assert self.state.relay is not None
        return self.state.relay

    async def send_replies(self) -> int:
        channels = build_channels(self.config)
        for channel in channels.values():
            await channel.start()
        try:
            return await ReplySender(self.config, channels).run_until_idle()
        finally:
            for channel in channels.values():
                await channel.close()


def follow_up_config(db_url: str, api: str, **callback: Any) -> Config:
    wechat = {
        "enabled": True,
        "app_id": APP_ID,
        "message_mode": "safe",
        "api_base_url": api,
        "fallback_base_urls": [],
        "timeout_seconds": 2,
        "callback": callback,
    }
    return parse_config(
        {
            "database": {"url": db_url},
            "app": {"public_base_url": BASE},
            "channels": {"feed": {"enabled": False}, "wechat": wechat},
            "inbox": {"reply_backoff_base_seconds": 0.01, "reply_backoff_max_seconds": 0.02},
        },
        "test",
        environ={
            "GONGKAI_WECHAT_SECRET": SECRET,
            "GONGKAI_WECHAT_TOKEN": TOKEN,
            "GONGKAI_WECHAT_AES_KEY": AES_KEY,
            "GONGKAI_AUTHOR_KEY": AUTHOR_KEY,
            "GONGKAI_AUDIT_KEY": AUDIT_KEY,
        },
    )


async def make_env(backend_url: str, **callback: Any) -> AsyncIterator[Env]:
    sim = WechatSimulator(APP_ID, SECRET, Callback("", TOKEN, AES_KEY, APP_ID, "safe"))
    api = TestServer(sim.app, host="127.0.0.1")
    await api.start_server()
    config = follow_up_config(backend_url, str(api.make_url("")).rstrip("/"), **callback)
    await db.init(config, check_schema=False)
    await db.upgrade()
    bot = None
    try:
        faqs = [await faq(*entry) for entry in (*CARD, LICENCE)]
        # Started after the database: its handlers inherit the ORM's context.
        bot = TestServer(create_app(config), host="127.0.0.1")
        await bot.start_server()
        sim.callback.url = str(bot.make_url("/wechat/callback"))
        state = bot.app[WECHAT_CALLBACK]
        assert state.inbox is not None
        await state.inbox.refresh_knowledge()
        yield Env(config, sim, state, faqs)
    finally:
        if bot is not None:
            await bot.close()
        await api.close()
        await db.close()


@pytest.fixture
async def env(backend_url: str) -> AsyncIterator[Env]:
    async for e in make_env(backend_url):
        yield e


async def comment_of(openid_text: str) -> Comment:
    return await Comment.get(original_text=openid_text)


async def test_an_unanswered_message_gets_three_links_once_and_stays_open(env: Env) -> None:
    result = await env.sim.push_follower_message("o_follower", "社保卡丢了怎么补办？")
    assert (result.status, result.body) == (200, "success")  # no passive answer
    await env.relay.wait_idle()
    assert await env.send_replies() == 1

    (sent,) = env.sim.ledger.custom_messages
    assert sent["touser"] == "o_follower"
    links = [line for line in sent["content"].splitlines() if line.startswith(BASE)]
    assert sorted(links) == sorted(f"{BASE}/faq#faq-{f.id}" for f in env.faqs[:3])
    assert all(q in sent["content"] for q, _, _ in CARD)

    comment = await comment_of("社保卡丢了怎么补办？")
    assert (comment.status, comment.reply_status, comment.first_reply_at) == ("open", "", None)
    (reply,) = await CommentReply.filter(comment_id=comment.id)
    assert (reply.author, reply.status) == (FOLLOW_UP_AUTHOR, "sent")

    # Another relay meeting the same message (a sweep after a crash) queues nothing more.
    row = await ChannelEvent.get(key__startswith="msg:", handled_at__not_isnull=True)
    follow_ups = FollowUps.from_config(env.config)
    assert env.state.inbox is not None
    await process_messages([row], env.state.inbox, AUTHOR_KEY.encode(), follow_ups)
    assert await env.relay.sweep(older_than=None) == 0
    assert await env.send_replies() == 0
    assert await CommentReply.filter(comment_id=comment.id).count() == 1
    assert len(env.sim.ledger.custom_messages) == 1


async def test_a_moderator_answers_beside_the_links_and_qa_takes_that_answer(env: Env) -> None:
    await env.sim.push_follower_message("o_follower", "社保卡丢了怎么补办？")
    await env.relay.wait_idle()
    comment = await comment_of("社保卡丢了怎么补办？")
    assert await CommentReply.filter(comment_id=comment.id, status="queued").count() == 1
    mod = await moderator()
    # The queued links hold no answer back.
    await inbox_ops.send_reply(comment.id, mod, text="请携带身份证到社保中心补办。")
    assert await env.send_replies() == 2
    links, answer = env.sim.ledger.custom_messages
    assert links["content"].startswith(OPENING)
    assert answer["content"] == "请携带身份证到社保中心补办。"
    comment = await Comment.get(id=comment.id)
    assert (comment.status, comment.reply) == ("replied", "请携带身份证到社保中心补办。")
    entry = await qa.select(comment.id, mod)
    assert isinstance(entry, QaEntry) and entry.answer == "请携带身份证到社保中心补办。"


async def test_a_message_the_auto_reply_answered_or_the_search_cannot_gets_none(
    env: Env,
) -> None:
    answered = await env.sim.push_follower_message("o_asker", "营业执照如何办理？")
    assert answered.status == 200 and answered.body != "success"  # the passive reply
    nothing = await env.sim.push_follower_message("o_chatty", "今天天气很好")
    assert nothing.body == "success"
    await env.relay.wait_idle()
    assert await Comment.all().count() == 2
    assert await env.send_replies() == 0
    assert env.sim.ledger.custom_messages == []
    assert await CommentReply.all().count() == 0


async def test_outside_the_48_hour_window_no_link_reaches_the_follower(env: Env) -> None:
    # Queued in time, but WeChat's window closed before the sender got to it.
    await env.sim.push_follower_message("o_follower", "社保卡丢了怎么补办？")
    await env.relay.wait_idle()
    env.sim.advance(48 * 3600 + 60)
    await env.send_replies()
    assert env.sim.ledger.custom_messages == []
    comment = await comment_of("社保卡丢了怎么补办？")
    (reply,) = await CommentReply.filter(comment_id=comment.id)
    assert reply.status == "other_route"
    assert (comment.status, comment.reply_status) == ("open", "")  # no answer was due from it

    # A message relayed only now, two days after it was written: nothing is queued at all.
    old = int(time.time()) - 49 * 3600
    xml = (
        "<xml><ToUserName>gh_sandbox</ToUserName><FromUserName>o_late</FromUserName>"
        f"<CreateTime>{old}</CreateTime><MsgType>text</MsgType>"
        "<Content>社保卡补办需要什么材料？</Content><MsgId>4242</MsgId></xml>"
    )
    await store(classify(parse_xml(xml.encode())))
    assert await env.relay.sweep(older_than=None) == 1
    late = await Comment.get(remote_id="msg:4242")
    assert await CommentReply.filter(comment_id=late.id).count() == 0


async def test_the_switch_off_sends_no_links(backend_url: str) -> None:
    async for env in make_env(backend_url, follow_up_links=False):
        await env.sim.push_follower_message("o_follower", "社保卡丢了怎么补办？")
        await env.relay.wait_idle()
        assert await Comment.all().count() == 1
        assert await env.send_replies() == 0
        assert env.sim.ledger.custom_messages == []
