"""Moderator operations (bot/inbox/ops.py): each is audited in its own transaction, refused with
a Chinese message for a wrong role or state, bulk actions give a result per comment, marking
not-spam restores the clock from the original receipt, and the list filters work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot import audit, users
from bot.actors import Actor
from bot.config import Config
from bot.errors import NotPermitted
from bot.inbox import ops as inbox_ops
from bot.inbox.ingest import Inbox
from bot.inbox.ops import (
    CommentNotFound,
    IllegalCommentState,
    InboxFilter,
    InvalidInput,
    ReplyInProgress,
)
from bot.models import AuditEvent, Comment, CommentNote, CommentReply
from channels.base import IncomingComment
from tests.conftest import Staff, add_test_user

AT = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai


async def moderator() -> Actor:
    await add_test_user("mia", ["moderator"], "Pw-lima-2026", "system:test", office="办公室")
    return await users.actor_for_user("mia")


async def comment(
    config: Config, remote_id: str, text: str = "请问这项政策何时实施？", **kw: object
) -> Comment:
    data: dict[str, object] = {
        "channel": "wechat",
        "remote_id": remote_id,
        "text": text,
        "received_at": AT,
        "kind": "message",
        "author_ref": f"a:{remote_id}",
    }
    data.update(kw)
    done = await Inbox(config).ingest(IncomingComment(**data))  # type: ignore[arg-type]
    return await Comment.get(id=done.comment.id)


async def events(comment_id: int) -> list[str]:
    rows = await AuditEvent.filter(target_type="comment", target_id=str(comment_id)).order_by("id")
    return [r.action for r in rows]


async def test_every_action_is_audited_with_who_did_it(config: Config, staff: Staff) -> None:
    mia = await moderator()
    c = await comment(config, "m1")
    await inbox_ops.assign(c.id, mia, assignee="mia", office="法规处")
    await inbox_ops.add_note(c.id, mia, text="需要法规处确认实施日期")
    draft = await inbox_ops.draft_reply(c.id, mia, text="您好，该政策自发布之日起施行。")
    await inbox_ops.send_reply(c.id, mia, reply_id=draft.id)
    await inbox_ops.escalate(c.id, mia, reason="涉及多个处室")
    await inbox_ops.close(c.id, mia, reason="已答复")
    await inbox_ops.reopen(c.id, mia, config=config, reason="追问")
    await inbox_ops.mark_spam(c.id, mia)
    await inbox_ops.mark_not_spam(c.id, mia, config=config)
    assert await events(c.id) == [
        "comment.assign",
        "comment.note",
        "reply.draft",
        "reply.queue",
        "comment.escalate",
        "comment.close",
        "comment.reopen",
        "comment.spam",
        "comment.not_spam",
    ]
    rows = await AuditEvent.filter(target_type="comment", target_id=str(c.id))
    assert {r.actor for r in rows} == {"user:mia"}
    assert (await audit.verify()).ok
    stored = await Comment.get(id=c.id)
    assert stored.office == "法规处" and stored.assignee_id == mia.user_id
    assert stored.escalation_level == 1 and stored.status == "open"
    assert stored.original_text == "请问这项政策何时实施？"
    assert await CommentNote.filter(comment_id=c.id).count() == 1
    reply = await CommentReply.get(id=draft.id)
    assert reply.status == "queued" and reply.author == "user:mia"


async def test_staff_without_the_moderator_role_are_refused_and_nothing_changes(
    config: Config, staff: Staff
) -> None:
    c = await comment(config, "m2")
    for actor in (staff.editor, staff.reviewer):
        with pytest.raises(NotPermitted, match="留言处理"):
            await inbox_ops.close(c.id, actor)
        with pytest.raises(NotPermitted, match="角色"):
            await inbox_ops.send_reply(c.id, actor, text="答复")
    assert (await Comment.get(id=c.id)).status == "open"
    assert await events(c.id) == []
    # An admin may act.
    await inbox_ops.close(c.id, staff.admin)
    assert (await Comment.get(id=c.id)).status == "closed"


async def test_actions_in_the_wrong_state_are_refused_with_the_state_named(
    config: Config, staff: Staff
) -> None:
    mia = await moderator()
    c = await comment(config, "m3")
    with pytest.raises(IllegalCommentState, match="无法重新打开：留言当前状态为「待答复」"):
        await inbox_ops.reopen(c.id, mia, config=config)
    with pytest.raises(IllegalCommentState, match="取消垃圾信息标记"):
        await inbox_ops.mark_not_spam(c.id, mia, config=config)
    await inbox_ops.close(c.id, mia)
    with pytest.raises(IllegalCommentState, match="「已办结」"):
        await inbox_ops.send_reply(c.id, mia, text="迟到的答复")
    with pytest.raises(IllegalCommentState):
        await inbox_ops.close(c.id, mia)
    with pytest.raises(CommentNotFound, match="留言 #999999 不存在"):
        await inbox_ops.close(999_999, mia)
    with pytest.raises(InvalidInput, match="备注不能为空"):
        await inbox_ops.add_note(c.id, mia, text="  ")
    with pytest.raises(InvalidInput, match="用户不存在"):
        await inbox_ops.assign(c.id, mia, assignee="nobody")
    assert await events(c.id) == ["comment.close"]


async def test_a_second_reply_is_refused_while_one_is_queued(config: Config, staff: Staff) -> None:
    mia = await moderator()
    c = await comment(config, "m4")
    await inbox_ops.send_reply(c.id, mia, text="第一条答复")
    with pytest.raises(ReplyInProgress, match="发送队列"):
        await inbox_ops.send_reply(c.id, mia, text="重复点击")
    assert await CommentReply.filter(comment_id=c.id).count() == 1
    assert (await Comment.get(id=c.id)).reply_status == "queued"


async def test_escalation_stops_at_level_three(config: Config, staff: Staff) -> None:
    mia = await moderator()
    c = await comment(config, "m5")
    for _ in range(3):
        await inbox_ops.escalate(c.id, mia, reason="督办")
    with pytest.raises(InvalidInput, match="最高督办级别"):
        await inbox_ops.escalate(c.id, mia, reason="再督办")
    with pytest.raises(InvalidInput, match="督办理由不能为空"):
        await inbox_ops.escalate(c.id, mia, reason="")


async def test_not_spam_reopens_with_the_due_time_counted_from_the_original_receipt(
    config: Config, staff: Staff
) -> None:
    mia = await moderator()
    c = await comment(config, "m6", "加微信领取福利 www.spam-ad.com 点击链接")
    assert c.status == "spam" and c.hidden
    restored = await inbox_ops.mark_not_spam(c.id, mia, config=config)
    assert restored.status == "open" and not restored.hidden
    # Received Monday 2025-03-03: five working days later is Monday 2025-03-10.
    assert restored.due_at is not None
    assert restored.due_at.astimezone(UTC).date() == datetime(2025, 3, 10).date()
    stored = await Comment.get(id=c.id)
    assert stored.due_at == restored.due_at and "spam" not in stored.flags


async def test_bulk_gives_one_result_per_comment_and_a_refusal_does_not_stop_the_rest(
    config: Config, staff: Staff
) -> None:
    mia = await moderator()
    a = await comment(config, "b1", "问题一：关于政策解读")
    b = await comment(config, "b2", "问题二：关于执法公示")
    await inbox_ops.close(b.id, mia)
    results = await inbox_ops.bulk("close", [a.id, b.id, 424242, a.id], mia, reason="批量办结")
    assert [(r.comment_id, r.ok) for r in results] == [(a.id, True), (b.id, False), (424242, False)]
    assert "已办结" in results[1].error and "不存在" in results[2].error
    with pytest.raises(InvalidInput, match="批量操作"):
        await inbox_ops.bulk("delete", [a.id], mia)
    with pytest.raises(NotPermitted):
        await inbox_ops.bulk("close", [a.id], staff.editor)


async def test_list_filters_by_status_channel_office_category_assignee_and_due(
    config: Config, staff: Staff
) -> None:
    mia = await moderator()
    old = await comment(config, "l1", "请问政策什么时候实施？", received_at=AT - timedelta(days=30))
    soon = await comment(config, "l2", "我要投诉窗口服务态度差", channel="feed", kind="form")
    later = await comment(
        config, "l3", "建议延长办事大厅开放时间", received_at=AT + timedelta(days=3)
    )
    await inbox_ops.assign(soon.id, mia, assignee="mia", office="投诉处理处")
    await inbox_ops.close(later.id, mia)
    now = soon.due_at - timedelta(hours=2)  # type: ignore[operator]

    async def ids(**f: object) -> list[int]:
        page = await inbox_ops.list_comments(InboxFilter(**f), config, now=now)  # type: ignore[arg-type]
        assert page.total == len(page.comments)
        return [c.id for c in page.comments]

    assert await ids() == [later.id, soon.id, old.id]  # newest first
    assert await ids(status="open") == [old.id, soon.id]  # most urgent first
    assert await ids(channel="feed") == [soon.id]
    assert await ids(office="投诉处理处") == [soon.id]
    assert await ids(category=soon.category) == [soon.id]
    assert await ids(assignee="mia") == [soon.id]
    assert await ids(assignee="-") == [later.id, old.id]
    assert await ids(overdue=True) == [old.id]
    assert await ids(due_soon=True) == [soon.id]
    assert await ids(due_soon=True, overdue=True) == [old.id, soon.id]
    page = await inbox_ops.list_comments(InboxFilter(), config, page=2, per_page=2, now=now)
    assert page.total == 3 and [c.id for c in page.comments] == [old.id]
    with pytest.raises(InvalidInput, match="状态「nope」无效"):
        await inbox_ops.list_comments(InboxFilter(status="nope"), config)


async def test_show_returns_replies_notes_and_history(config: Config, staff: Staff) -> None:
    mia = await moderator()
    c = await comment(config, "s1")
    await inbox_ops.add_note(c.id, mia, text="内部备注")
    await inbox_ops.draft_reply(c.id, mia, text="草稿")
    await inbox_ops.assign(c.id, mia, assignee="mia")
    detail = await inbox_ops.get_comment(c.id)
    assert detail.assignee == "mia"
    assert [n.text for n in detail.notes] == ["内部备注"]
    assert [r.status for r in detail.replies] == ["draft"]
    assert [e.action for e in detail.history] == ["comment.note", "reply.draft", "comment.assign"]
