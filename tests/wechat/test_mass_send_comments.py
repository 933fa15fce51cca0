"""Comments on both WeChat copies of an item (docs/channels/wechat.md Q1): the 发表 copy
(freepublish/submit's msg_data_id) and the 群发 copy followers receive (sendall's msg_data_id,
the item's place in it as index) are polled into the inbox once each, linked to the item, and
each answer goes back to the copy its comment came from."""

from __future__ import annotations

from bot import users
from bot.inbox import ops as inbox_ops
from bot.inbox.ingest import Inbox
from bot.inbox.replies import ReplySender
from bot.models import Comment
from channels.wechat.channel import WechatChannel
from scheduler.polling import poll_channel
from tests.channels.test_wechat import WechatEnv
from tests.conftest import add_test_user
from tests.wechat.conftest import published_and_mass_sent


async def test_comments_on_both_copies_reach_the_inbox_once_each_and_replies_go_back(
    env: WechatEnv, channel: WechatChannel
) -> None:
    first, second, mass = await published_and_mass_sent(env, channel)
    published = env.sim.msg_data_id_of((await env.delivery(second)).remote_id)
    # The second item is the 群发's second article (index 1), and has its own 发表 copy; each
    # list numbers its comments from 1, so only the msg_data_id tells them apart.
    env.sim.add_comment(mass["msg_data_id"], "o_follower", "群发里看到的：在哪报名？", index=1)
    env.sim.add_comment(published, "o_reader", "网页上看到的：几点开始？")
    env.sim.add_comment(mass["msg_data_id"], "o_other", "第一篇的留言", index=0)

    inbox = Inbox(env.config)
    for _ in range(3):  # polling again finds nothing new
        await poll_channel(inbox, "wechat", channel)
    rows = await Comment.filter(kind="article_comment")
    comments = {c.original_text: c for c in rows}
    assert len(rows) == len(comments) == 3
    assert set(comments) == {"群发里看到的：在哪报名？", "网页上看到的：几点开始？", "第一篇的留言"}
    assert comments["群发里看到的：在哪报名？"].item_id == second.id
    assert comments["网页上看到的：几点开始？"].item_id == second.id
    assert comments["第一篇的留言"].item_id == first.id

    await add_test_user("mia", ["moderator"], "Pw-lima-2026", "system:test", office="办公室")
    mia = await users.actor_for_user("mia")
    await inbox_ops.send_reply(comments["群发里看到的：在哪报名？"].id, mia, text="请在线报名。")
    await inbox_ops.send_reply(comments["网页上看到的：几点开始？"].id, mia, text="上午九点。")
    await ReplySender(env.config, {"wechat": channel}, owner="t").run_until_idle()

    book = env.sim.ledger.comments
    assert book[f"{mass['msg_data_id']}:1"][0]["reply"]["content"] == "请在线报名。"
    assert book[f"{published}:0"][0]["reply"]["content"] == "上午九点。"
    assert "reply" not in book[f"{mass['msg_data_id']}:0"][0]
