"""Article comments polled from the simulator (comment/list by the msg_data_id the 发表 returned,
with a per-copy cursor that re-reads a window), replies to them (comment/reply/add), and
customer-service replies to follower messages inside and outside WeChat's 48-hour window, over
real HTTP. Both copies (发表 and 群发) are in tests/wechat/test_mass_send_comments.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.models import Item
from channels.base import NeedsOtherRoute, PermanentError, opaque_author
from channels.wechat.channel import WechatChannel
from tests.channels.test_wechat import WechatEnv, make_env, started


@pytest.fixture
async def env(backend_url: str) -> AsyncIterator[WechatEnv]:
    async for e in make_env(backend_url, comment_page_size=2):
        yield e


async def published(
    env: WechatEnv, title: str = "关于开展政务公开日活动的通知"
) -> tuple[Item, str, int]:
    """A published item, its freepublish article_id and its 发表 copy's msg_data_id."""
    item = await env.approved(title)
    await env.run()
    delivery = await env.delivery(item)
    assert delivery.status == "done", delivery.last_error
    # freepublish/submit's msg_data_id (a string [S16]) is kept as the number comment/* take.
    assert delivery.checkpoint["msg_data_id"] == env.sim.msg_data_id_of(delivery.remote_id)
    assert delivery.checkpoint["msg_data_index"] == 0
    return item, delivery.remote_id, delivery.checkpoint["msg_data_id"]


@pytest.fixture
async def channel(env: WechatEnv) -> AsyncIterator[WechatChannel]:
    async for ch in started(env):
        yield ch


async def test_comments_are_polled_in_pages_and_the_cursor_moves_on(
    env: WechatEnv, channel: WechatChannel
) -> None:
    item, article, copy = await published(env)
    for n in range(3):
        env.sim.add_comment(copy, f"o_user{n}", f"请问活动在哪里举办？{n}")
    page = await channel.poll_comments({})
    assert [c.text for c in page.comments] == [f"请问活动在哪里举办？{n}" for n in range(3)]
    first = page.comments[0]
    assert first.remote_id == f"comment:{copy}:0:1"
    assert (first.kind, first.item_id, first.remote_item_ref, first.channel) == (
        "article_comment",
        item.id,
        article,
        "wechat",
    )
    assert first.reply_ref == {
        "type": "article_comment",
        "msg_data_id": copy,
        "index": 0,
        "user_comment_id": 1,
        "copy": "publish",
    }
    assert first.author_ref == opaque_author(env.config.author_key(), "wechat", "o_user0")
    assert "o_user0" not in first.author_ref
    # The list was 3 long; the next poll reads again from a page (2 here) before its end.
    assert page.cursor == {f"{copy}:0": {"read": 3, "seen": [1, 2, 3]}}
    # Nothing new: nothing returned; a new comment: only it.
    assert (await channel.poll_comments(page.cursor)).comments == []
    env.sim.add_comment(copy, "o_user9", "谢谢")
    again = await channel.poll_comments(page.cursor)
    assert [c.text for c in again.comments] == ["谢谢"]
    assert again.cursor == {f"{copy}:0": {"read": 4, "seen": [1, 2, 3, 4]}}


async def test_a_comment_its_author_deletes_does_not_hide_the_next_one(
    env: WechatEnv, channel: WechatChannel
) -> None:
    _, _, copy = await published(env)
    for n in range(3):
        env.sim.add_comment(copy, f"o_user{n}", f"留言{n}")
    cursor = (await channel.poll_comments({})).cursor
    # The first comment goes; the next one takes position 3 - 1 = 2, which an offset cursor
    # (begin = 3) would step over.
    env.sim.remove_comment(copy, 1)
    env.sim.add_comment(copy, "o_user9", "新留言")
    page = await channel.poll_comments(cursor)
    assert [c.text for c in page.comments] == ["新留言"]
    assert (await channel.poll_comments(page.cursor)).comments == []


async def test_a_new_comment_is_found_once_when_the_list_turns_newest_first(
    env: WechatEnv, channel: WechatChannel
) -> None:
    _, _, copy = await published(env)
    for n in range(5):
        env.sim.add_comment(copy, f"o_user{n}", f"留言{n}")
    page = await channel.poll_comments({})
    assert len(page.comments) == 5
    # comment/list's order is not documented: should WeChat list newest first, the new comment
    # is at the top and every old one has moved.
    env.sim.add_comment(copy, "o_user9", "最新留言")
    env.sim.ledger.comments[f"{copy}:0"].reverse()
    again = await channel.poll_comments(page.cursor)
    assert [c.text for c in again.comments] == ["最新留言"]
    assert (await channel.poll_comments(again.cursor)).comments == []


async def test_article_with_comments_closed_is_skipped_not_fatal(
    env: WechatEnv, channel: WechatChannel
) -> None:
    _, _, closed = await published(env, "第一篇")
    _, open_, copy = await published(env, "第二篇")
    env.sim.close_comments(closed)
    env.sim.add_comment(copy, "o_a", "好")
    page = await channel.poll_comments({})
    assert [c.remote_item_ref for c in page.comments] == [open_]


async def test_reply_to_article_comment_is_added_once(
    env: WechatEnv, channel: WechatChannel
) -> None:
    _, _, copy = await published(env)
    env.sim.add_comment(copy, "o_user", "几点开始？")
    (comment,) = (await channel.poll_comments({})).comments
    ref = await channel.send_reply(comment.reply_ref, "上午九点开始。", key="reply-1")
    stored = env.sim.ledger.comments[f"{copy}:0"][0]
    assert stored["reply"]["content"] == "上午九点开始。"
    # A retry of the same reply (its answer lost) is not an error and changes nothing.
    assert await channel.send_reply(comment.reply_ref, "上午九点开始。", key="reply-1") == ref
    assert stored["reply"]["content"] == "上午九点开始。"


async def test_reply_to_missing_comment_is_permanent_in_chinese(
    env: WechatEnv, channel: WechatChannel
) -> None:
    _, _, copy = await published(env)
    ref = {"type": "article_comment", "msg_data_id": copy, "index": 0, "user_comment_id": 42}
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
