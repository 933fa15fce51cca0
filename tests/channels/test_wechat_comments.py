"""Article comments polled from the simulator (comment/list with a per-article cursor), replies
to them (comment/reply/add), and customer-service replies to follower messages inside and
outside WeChat's 48-hour window, over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from channels.base import NeedsOtherRoute, PermanentError, opaque_author
from channels.wechat.channel import WechatChannel
from tests.channels.test_wechat import WechatEnv, make_env


@pytest.fixture
async def env(backend_url: str) -> AsyncIterator[WechatEnv]:
    async for e in make_env(backend_url, comment_page_size=2):
        yield e


async def published(env: WechatEnv, title: str = "关于开展政务公开日活动的通知") -> str:
    item = await env.approved(title)
    await env.run()
    delivery = await env.delivery(item)
    assert delivery.status == "done", delivery.last_error
    return delivery.remote_id


@pytest.fixture
async def channel(env: WechatEnv) -> AsyncIterator[WechatChannel]:
    ch = env.channel()
    await ch.start()
    yield ch
    await ch.close()


async def test_comments_are_polled_in_pages_and_the_cursor_moves_on(
    env: WechatEnv, channel: WechatChannel
) -> None:
    article = await published(env)
    for n in range(3):
        env.sim.add_comment(article, f"o_user{n}", f"请问活动在哪里举办？{n}")
    page = await channel.poll_comments({})
    assert [c.text for c in page.comments] == [f"请问活动在哪里举办？{n}" for n in range(3)]
    first = page.comments[0]
    assert first.remote_id == f"comment:{article}:0:1"
    assert (first.kind, first.remote_item_ref, first.channel) == (
        "article_comment",
        article,
        "wechat",
    )
    assert first.reply_ref == {
        "type": "article_comment",
        "msg_data_id": article,
        "index": 0,
        "user_comment_id": 1,
    }
    assert first.author_ref == opaque_author(env.config.author_key(), "wechat", "o_user0")
    assert "o_user0" not in first.author_ref
    assert page.cursor == {article: 3}
    # Nothing new: nothing returned; a new comment: only it.
    assert (await channel.poll_comments(page.cursor)).comments == []
    env.sim.add_comment(article, "o_user9", "谢谢")
    again = await channel.poll_comments(page.cursor)
    assert [c.text for c in again.comments] == ["谢谢"]
    assert again.cursor == {article: 4}


async def test_article_with_comments_closed_is_skipped_not_fatal(
    env: WechatEnv, channel: WechatChannel
) -> None:
    closed = await published(env, "第一篇")
    open_ = await published(env, "第二篇")
    env.sim.comments_closed.add(closed)
    env.sim.add_comment(open_, "o_a", "好")
    page = await channel.poll_comments({})
    assert [c.remote_item_ref for c in page.comments] == [open_]


async def test_reply_to_article_comment_is_added_once(
    env: WechatEnv, channel: WechatChannel
) -> None:
    article = await published(env)
    env.sim.add_comment(article, "o_user", "几点开始？")
    (comment,) = (await channel.poll_comments({})).comments
    ref = await channel.send_reply(comment.reply_ref, "上午九点开始。", key="reply-1")
    stored = env.sim.ledger.comments[f"{article}:0"][0]
    assert stored["reply"]["content"] == "上午九点开始。"
    # A retry of the same reply (its answer lost) is not an error and changes nothing.
    assert await channel.send_reply(comment.reply_ref, "上午九点开始。", key="reply-1") == ref
    assert stored["reply"]["content"] == "上午九点开始。"


async def test_reply_to_missing_comment_is_permanent_in_chinese(
    env: WechatEnv, channel: WechatChannel
) -> None:
    article = await published(env)
    ref = {"type": "article_comment", "msg_data_id": article, "index": 0, "user_comment_id": 42}
    with pytest.raises(PermanentError, match="留言不存在"):
        await channel.send_reply(ref, "答复", key="reply-2")


async def test_follower_message_answered_inside_the_48_hour_window(
    env: WechatEnv, channel: WechatChannel
) -> None:
    result = await env.sim.push_follower_message("o_follower", "怎么申请信息公开？")
    assert result.status == 200
    assert env.received[-1]["Content"] == "怎么申请信息公开？"
    ref = {"type": "custom", "openid": "o_follower", "at": "2026-01-01T00:00:00+00:00"}
    await channel.send_reply(ref, "请登录门户网站依申请公开栏目。", key="reply-3")
    assert env.sim.ledger.custom_messages == [
        {"touser": "o_follower", "content": "请登录门户网站依申请公开栏目。"}
    ]


async def test_window_closed_after_48_hours_needs_other_route(
    env: WechatEnv, channel: WechatChannel
) -> None:
    await env.sim.push_follower_message("o_follower", "在吗？")
    env.sim.advance(48 * 3600 + 60)
    ref = {"type": "custom", "openid": "o_follower", "at": "2026-01-01T00:00:00+00:00"}
    with pytest.raises(NeedsOtherRoute, match="48小时"):
        await channel.send_reply(ref, "您好。", key="reply-4")
    assert env.sim.ledger.custom_messages == []
