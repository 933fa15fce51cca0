"""留言管理 on WeChat (bot/wechat/comment_admin.py) against the simulator: closing an item's
comments closes them on both its copies, and the simulator then refuses new comments there;
精选 and delete (of a comment, of our reply) reach the simulator's state and the audit log with
the reason; refusals in Chinese. wechatpy's own client drives the same endpoints."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from bot import users
from bot.inbox import ops as inbox_ops
from bot.inbox.ingest import Inbox
from bot.inbox.replies import ReplySender
from bot.models import AuditEvent, Comment
from bot.wechat.comment_admin import WechatCommentRefused, comment_action, set_item_comments
from channels.sandbox.wechat_comments import CommentsClosed
from channels.wechat.channel import WechatChannel
from scheduler.polling import poll_channel
from tests.channels.test_wechat import APP_ID, JPEG, SECRET, WechatEnv
from tests.conftest import add_test_user
from tests.wechat.conftest import published_and_mass_sent


async def test_closing_an_items_comments_makes_the_simulator_refuse_new_ones_on_both_copies(
    env: WechatEnv, channel: WechatChannel
) -> None:
    _, second, mass = await published_and_mass_sent(env, channel)
    published = env.sim.msg_data_id_of((await env.delivery(second)).remote_id)

    done = await set_item_comments(env.config, second.id, env.staff.reviewer, False, channel)

    assert {(t.msg_data_id, t.index) for t in done} == {(published, 0), (mass["msg_data_id"], 1)}
    with pytest.raises(CommentsClosed):
        env.sim.add_comment(published, "o_reader", "还能留言吗？")
    with pytest.raises(CommentsClosed):
        env.sim.add_comment(mass["msg_data_id"], "o_reader", "还能留言吗？", index=1)
    env.sim.add_comment(mass["msg_data_id"], "o_reader", "第一篇不受影响", index=0)
    event = await AuditEvent.get(action="wechat.comments_close")
    assert (event.actor, event.target_id) == ("user:bob", str(second.id))

    await set_item_comments(env.config, second.id, env.staff.reviewer, True, channel)
    env.sim.add_comment(published, "o_reader", "重新开放后的留言")
    assert await AuditEvent.filter(action="wechat.comments_open").count() == 1


async def test_an_item_not_on_wechat_has_no_comments_to_close(
    env: WechatEnv, channel: WechatChannel
) -> None:
    item = await env.approved("还没发出的通知")  # approved, not yet dispatched
    with pytest.raises(WechatCommentRefused, match="还没有在微信发表或群发"):
        await set_item_comments(env.config, item.id, env.staff.reviewer, False, channel)
    assert env.sim.ledger.calls["comment/close"] == 0


async def test_elect_and_delete_reach_the_simulator_and_the_audit_log_with_the_reason(
    env: WechatEnv, channel: WechatChannel
) -> None:
    _, second, _ = await published_and_mass_sent(env, channel)
    published = env.sim.msg_data_id_of((await env.delivery(second)).remote_id)
    env.sim.add_comment(published, "o_a", "请问几点开始？")
    env.sim.add_comment(published, "o_b", "广告：加微信")
    await poll_channel(Inbox(env.config), "wechat", channel)
    comments = {c.original_text: c for c in await Comment.filter(kind="article_comment")}
    question, ad = comments["请问几点开始？"], comments["广告：加微信"]
    await add_test_user("mia", ["moderator"], "Pw-lima-2026", "system:test")
    mia = await users.actor_for_user("mia")
    await inbox_ops.send_reply(question.id, mia, text="上午九点。")
    await ReplySender(env.config, {"wechat": channel}, owner="t").run_until_idle()
    book = env.sim.ledger.comments[f"{published}:0"]

    await comment_action(env.config, question.id, mia, "elect", channel=channel)
    assert book[0]["comment_type"] == 1  # 精选
    with pytest.raises(WechatCommentRefused, match="删除回复需要填写理由"):
        await comment_action(env.config, question.id, mia, "delete_reply", channel=channel)
    await comment_action(env.config, question.id, mia, "delete_reply", "答复有误", channel=channel)
    assert "reply" not in book[0]
    with pytest.raises(WechatCommentRefused, match="88009"):  # no reply left to delete
        await comment_action(env.config, question.id, mia, "delete_reply", "再删", channel=channel)
    await comment_action(env.config, ad.id, mia, "delete", "广告信息", channel=channel)
    assert [c["content"] for c in book] == ["请问几点开始？"]

    events = await AuditEvent.filter(action__startswith="wechat.").order_by("id")
    told = [(e.action, e.target_id, e.details.get("reason")) for e in events]
    assert told[-3:] == [
        ("wechat.comment_elect", str(question.id), None),
        ("wechat.reply_delete", str(question.id), "答复有误"),
        ("wechat.comment_delete", str(ad.id), "广告信息"),
    ]
    with pytest.raises(WechatCommentRefused, match="不认识的微信留言操作「drop_table」"):
        await comment_action(env.config, ad.id, mia, "drop_table", "x", channel=channel)


async def test_a_comment_from_another_channel_is_refused_in_chinese(
    env: WechatEnv, channel: WechatChannel
) -> None:
    comment = await Comment.create(
        channel="feed", remote_id="f1", original_text="网站留言", received_at=datetime.now(UTC)
    )
    with pytest.raises(WechatCommentRefused, match="不是微信文章下的留言"):
        await comment_action(env.config, comment.id, env.staff.admin, "elect", channel=channel)


async def test_wechatpy_opens_closes_elects_and_deletes_on_the_simulator(env: WechatEnv) -> None:
    env.sim.tokens["wp-token"] = env.sim.now() + 7200
    client = WeChatClient(APP_ID, SECRET, access_token="wp-token")
    client.API_BASE_URL = env.config.channels.wechat.api_base_url + "/cgi-bin/"

    def manage() -> dict[str, Any]:
        thumb = client.material.add("image", ("cover.jpg", JPEG, "image/jpeg"))["media_id"]
        article = {"title": "通知", "content": "<p>通知</p>", "thumb_media_id": thumb}
        media_id = client.draft.add([article])["media_id"]
        sent = client.message.send_mass_article(media_id, is_to_all=True, client_msg_id="wp-c")
        mdi = sent["msg_data_id"]
        cid = env.sim.add_comment(mdi, "o_reader", "请问报名方式？")
        client.material.markelect_comment(mdi, 0, cid)
        elected = client.material.list_comment(mdi, index=0, count=49, type=2)["comment"]
        client.material.close_comment(mdi, index=0)
        with pytest.raises(WeChatClientException) as closed:
            client.material.list_comment(mdi, index=0, count=49)
        try:
            env.sim.add_comment(mdi, "o_other", "关闭后")
            refused = False
        except CommentsClosed:
            refused = True
        client.material.open_comment(mdi, index=0)
        client.material.delete_comment(mdi, 0, cid)
        left = client.material.list_comment(mdi, index=0, count=49)["comment"]
        return {
            "elected": elected,
            "closed": closed.value.errcode,
            "refused": refused,
            "left": left,
        }

    got = await asyncio.to_thread(manage)
    assert [c["content"] for c in got["elected"]] == ["请问报名方式？"]
    assert got["closed"] == 88000
    assert got["refused"] is True
    assert got["left"] == []


async def test_a_selected_exchange_is_marked_elect_on_wechat_and_unmarked_when_withdrawn(
    env: WechatEnv, channel: WechatChannel
) -> None:
    from bot.inbox import qa
    from bot.wechat.comment_admin import follow_qa

    _, second, _ = await published_and_mass_sent(env, channel)
    published = env.sim.msg_data_id_of((await env.delivery(second)).remote_id)
    env.sim.add_comment(published, "o_a", "请问活动在哪里举办？")
    await poll_channel(Inbox(env.config), "wechat", channel)
    comment = await Comment.get(kind="article_comment")
    await add_test_user("mia", ["moderator"], "Pw-lima-2026", "system:test")
    mia = await users.actor_for_user("mia")
    await inbox_ops.send_reply(comment.id, mia, text="在市民中心举办。")
    await ReplySender(env.config, {"wechat": channel}, owner="t").run_until_idle()
    entry = await qa.select(comment.id, mia)
    book = env.sim.ledger.comments[f"{published}:0"]

    assert await follow_qa(env.config, comment.id, mia, selected=True) == ""
    assert book[0]["comment_type"] == 1
    await qa.withdraw(entry.id, mia, "信息已过时")
    assert await follow_qa(env.config, comment.id, mia, selected=False) == ""
    assert book[0]["comment_type"] == 0
    env.sim.faults.fail("comment/markelect", 88003)  # 精选 full
    problem = await follow_qa(env.config, comment.id, mia, selected=True)
    assert "88003" in problem and "精选留言数量已达上限" in problem
    actions = [e.action for e in await AuditEvent.filter(target_type="comment").order_by("id")]
    assert actions[-2:] == ["wechat.comment_elect", "wechat.comment_unelect"]


async def test_the_inbox_page_offers_wechat_actions_and_refuses_a_delete_without_reason(
    env: WechatEnv, channel: WechatChannel
) -> None:
    from tests.web.console.test_auth import client_for, login

    _, second, _ = await published_and_mass_sent(env, channel)
    published = env.sim.msg_data_id_of((await env.delivery(second)).remote_id)
    env.sim.add_comment(published, "o_a", "广告：加微信")
    await poll_channel(Inbox(env.config), "wechat", channel)
    comment = await Comment.get(kind="article_comment")
    cclient = await client_for(env.config)
    try:
        token = await login(cclient, "root", "Pw-romeo-2026")
        page = await (await cclient.get(f"/console/inbox/{comment.id}")).text()
        assert "微信留言管理" in page and "在微信删除该留言" in page
        path = f"/console/inbox/{comment.id}/wechat"
        refused = await cclient.post(path, data={"action": "delete", "_csrf": token})
        assert "删除留言需要填写理由" in await refused.text()
        assert len(env.sim.ledger.comments[f"{published}:0"]) == 1
        done = await cclient.post(path, data={"action": "delete", "reason": "广告", "_csrf": token})
        assert "已在微信删除留言" in await done.text()
    finally:
        await cclient.close()
    assert env.sim.ledger.comments[f"{published}:0"] == []
    event = await AuditEvent.get(action="wechat.comment_delete")
    assert (event.actor, event.details["reason"]) == ("user:root", "广告")
