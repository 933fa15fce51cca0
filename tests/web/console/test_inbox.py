"""The console's inbox (留言处理) over a real server and SQLite database: role checks (editors
get 403, moderators cannot approve items), CSRF on its forms, filters and pagination, due
badges, bulk actions with a result per comment, the comment page's actions (assign, reply and
its delivery status, drafts, notes, close, reopen, spam, escalate, 选登) and that hostile or
personal text is shown only masked and escaped."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.config import Config
from bot.inbox.ingest import Inbox
from bot.inbox.replies import ReplySender
from bot.models import AuditEvent, Comment, CommentNote, CommentReply, Item, QaEntry, User
from bot.outbox.channel_set import build_channels
from channels.base import IncomingComment
from tests.conftest import Staff
from tests.web.console.test_auth import in_review, login

Client = TestClient[web.Request, web.Application]
HOSTILE = '<script>alert(1)</script> "><img src=x onerror=alert(2)> 请问政务公开申请怎么办理？'
_ROW = re.compile(r'data-row="(\d+)"')


async def ingest(
    config: Config, text: str = "请问政府信息公开申请需要多长时间答复？", **kw: Any
) -> Comment:
    """A comment as a channel hands it in (a website form message by default)."""
    data: dict[str, Any] = {
        "channel": "feed",
        "remote_id": uuid.uuid4().hex,
        "text": text,
        "received_at": datetime.now(UTC),
        "kind": "form",
        "reply_ref": {"type": "query_code"},
    }
    data.update(kw)
    return (await Inbox(config).ingest(IncomingComment(**data))).comment


def rows(page: str) -> list[int]:
    return [int(i) for i in _ROW.findall(page)]


async def get_ok(cclient: Client, path: str) -> str:
    resp = await cclient.get(path)
    assert resp.status == 200, (path, resp.status)
    return await resp.text()


async def post(cclient: Client, path: str, token: str, **data: Any) -> tuple[int, str]:
    resp = await cclient.post(path, data={**data, "_csrf": token})
    return resp.status, await resp.text()


async def send_replies(config: Config) -> int:
    return await ReplySender(config, build_channels(config)).run_until_idle()


async def test_editor_gets_403_on_every_inbox_page_and_form(
    cclient: Client, cconfig: Config
) -> None:
    comment = await ingest(cconfig)
    token = await login(cclient, "alice", "Pw-alpha-2026")
    assert "留言处理" not in await get_ok(cclient, "/console/")  # no menu entry either
    for path in ("/console/inbox", f"/console/inbox/{comment.id}"):
        resp = await cclient.get(path)
        assert resp.status == 403
        assert "留言处理" in await resp.text()  # names the role needed
    status, _ = await post(cclient, f"/console/inbox/{comment.id}/close", token)
    assert status == 403
    status, _ = await post(cclient, "/console/inbox/bulk", token, op="close", ids=str(comment.id))
    assert status == 403
    assert (await Comment.get(id=comment.id)).status == "open"


async def test_moderator_cannot_approve_items_but_sees_the_inbox(
    cclient: Client, cconfig: Config, cstaff: Staff
) -> None:
    item = await in_review(cconfig, cstaff)
    token = await login(cclient, "mod", "Pw-mike-2026")
    status, page = await post(cclient, f"/console/items/{item.id}/approve", token)
    assert status == 403 and "审核" in page
    assert (await Item.get(id=item.id)).status == "in_review"
    queue = await get_ok(cclient, "/console/")
    assert 'href="/console/inbox"' in queue and "新建稿件" not in queue
    assert "群发计划" not in queue
    assert (await cclient.get("/console/mass-send")).status == 403


async def test_inbox_forms_refuse_a_missing_or_wrong_csrf_token(
    cclient: Client, cconfig: Config
) -> None:
    comment = await ingest(cconfig)
    token = await login(cclient, "mod", "Pw-mike-2026")
    path = f"/console/inbox/{comment.id}/close"
    assert (await cclient.post(path, data={})).status == 403
    assert (await cclient.post(path, data={"_csrf": token[:-2] + "xx"})).status == 403
    resp = await cclient.post(
        "/console/inbox/bulk", data={"op": "spam", "ids": str(comment.id), "_csrf": "nope"}
    )
    assert resp.status == 403 and "防伪令牌" in await resp.text()
    assert (await Comment.get(id=comment.id)).status == "open"
    detail = await get_ok(cclient, f"/console/inbox/{comment.id}")
    forms = re.findall(r"<form method=\"post\".*?</form>", detail, re.S)
    assert len(forms) >= 6 and all(f'name="_csrf" value="{token}"' in f for f in forms)
    status, _ = await post(cclient, path, token)
    assert status == 200
    assert (await Comment.get(id=comment.id)).status == "closed"


async def test_bulk_actions_show_a_result_per_comment(cclient: Client, cconfig: Config) -> None:
    first = await ingest(cconfig)
    second = await ingest(cconfig)
    third = await ingest(cconfig)
    token = await login(cclient, "mod", "Pw-mike-2026")
    await post(cclient, f"/console/inbox/{second.id}/close", token)
    ids = [str(first.id), str(second.id), str(third.id)]
    status, page = await post(cclient, "/console/inbox/bulk", token, op="close", ids=ids)
    assert status == 200
    assert "成功 2 条，未执行 1 条" in page
    failed = re.search(rf'data-result="{second.id}">(.*?)</tr>', page, re.S)
    assert failed and "未执行" in failed.group(1) and "无法办结" in failed.group(1)
    assert [(await Comment.get(id=i)).status for i in map(int, ids)] == ["closed"] * 3

    fresh = await ingest(cconfig)
    status, page = await post(
        cclient, "/console/inbox/bulk", token, op="assign_me", ids=[str(fresh.id), str(first.id)]
    )
    assert "成功 1 条，未执行 1 条" in page
    mod = await User.get(username="mod")
    assert (await Comment.get(id=fresh.id)).assignee_id == mod.id
    status, page = await post(cclient, "/console/inbox/bulk", token, op="escalate", ids=[fresh.id])
    assert "督办理由不能为空" in page
    status, page = await post(
        cclient, "/console/inbox/bulk", token, op="escalate", ids=[fresh.id], reason="逾期风险"
    )
    assert "成功 1 条" in page and (await Comment.get(id=fresh.id)).escalation_level == 1
    status, page = await post(cclient, "/console/inbox/bulk", token, op="spam", ids=[fresh.id])
    assert (await Comment.get(id=fresh.id)).status == "spam"
    status, page = await post(cclient, "/console/inbox/bulk", token, op="not_spam", ids=[fresh.id])
    assert (await Comment.get(id=fresh.id)).status == "open"
    resp = await cclient.post(
        "/console/inbox/bulk", data={"_csrf": token, "op": "close"}, allow_redirects=True
    )
    assert "请先勾选要处理的留言" in await resp.text()


async def test_filters_select_by_status_channel_category_assignee_and_due(
    cclient: Client, cconfig: Config
) -> None:
    now = datetime.now(UTC)
    overdue = await ingest(cconfig)
    soon = await ingest(cconfig)
    later = await ingest(cconfig)
    hotline = await ingest(cconfig, channel="hotline", kind="hotline", reply_ref={})
    closed = await ingest(cconfig)
    await Comment.filter(id=overdue.id).update(due_at=now - timedelta(hours=1), category="投诉")
    await Comment.filter(id=soon.id).update(due_at=now + timedelta(hours=2), category="咨询")
    await Comment.filter(id=later.id).update(due_at=now + timedelta(days=4), category="咨询")
    await Comment.filter(id=hotline.id).update(
        due_at=now + timedelta(days=4), office="宣传处", category="求助"
    )
    await Comment.filter(id=closed.id).update(status="closed")
    mod = await User.get(username="mod")
    await Comment.filter(id=later.id).update(assignee_id=mod.id)
    await login(cclient, "mod", "Pw-mike-2026")

    default = rows(await get_ok(cclient, "/console/inbox"))
    assert default == [overdue.id, soon.id, later.id, hotline.id]  # open, most urgent first
    assert set(rows(await get_ok(cclient, "/console/inbox?status=all"))) == {
        overdue.id,
        soon.id,
        later.id,
        hotline.id,
        closed.id,
    }
    assert rows(await get_ok(cclient, "/console/inbox?status=closed")) == [closed.id]
    assert rows(await get_ok(cclient, "/console/inbox?channel=hotline")) == [hotline.id]
    assert rows(await get_ok(cclient, "/console/inbox?office=%E5%AE%A3%E4%BC%A0%E5%A4%84")) == [
        hotline.id
    ]
    assert rows(await get_ok(cclient, "/console/inbox?category=%E5%92%A8%E8%AF%A2")) == [
        soon.id,
        later.id,
    ]
    assert rows(await get_ok(cclient, "/console/inbox?assignee=mod")) == [later.id]
    assert mod.id and later.id not in rows(await get_ok(cclient, "/console/inbox?assignee=-"))
    assert rows(await get_ok(cclient, "/console/inbox?due=overdue")) == [overdue.id]
    assert rows(await get_ok(cclient, "/console/inbox?due=soon")) == [soon.id]
    page = await get_ok(cclient, "/console/inbox?assignee=nobody")
    assert "用户不存在：nobody" in page and rows(page) == []

    page = await get_ok(cclient, "/console/inbox")
    badges = dict(re.findall(r'data-row="(\d+)".*?class="badge due-(\w+)"', page, re.S))
    assert badges == {
        str(overdue.id): "overdue",
        str(soon.id): "soon",
        str(later.id): "ok",
        str(hotline.id): "ok",
    }


async def test_the_list_is_paginated(cclient: Client, cconfig: Config) -> None:
    size = cconfig.web.console.page_size
    made = [await ingest(cconfig) for _ in range(size + 3)]
    await login(cclient, "mod", "Pw-mike-2026")
    first = rows(await get_ok(cclient, "/console/inbox?status=all"))
    second = rows(await get_ok(cclient, "/console/inbox?status=all&page=2"))
    assert len(first) == size and len(second) == 3
    assert sorted(first + second) == sorted(c.id for c in made)
    page = await get_ok(cclient, "/console/inbox?status=all&page=99")  # past the end: last page
    assert rows(page) == second and "第 2 / 2 页" in page


async def test_hostile_and_personal_text_is_shown_masked_and_escaped(
    cclient: Client, cconfig: Config
) -> None:
    comment = await ingest(cconfig, HOSTILE + " 我的手机 13812345678")
    assert "13812345678" in comment.original_text
    token = await login(cclient, "mod", "Pw-mike-2026")
    await post(cclient, f"/console/inbox/{comment.id}/reply", token, text=HOSTILE, action="draft")
    await post(cclient, f"/console/inbox/{comment.id}/note", token, text=HOSTILE)
    for path in ("/console/inbox", f"/console/inbox/{comment.id}"):
        page = await get_ok(cclient, path)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path
        assert "<script>alert" not in page and "<img src=x" not in page, path
        assert "13812345678" not in page, path  # the original text never reaches a page
    detail = await get_ok(cclient, f"/console/inbox/{comment.id}")
    assert detail.count("&lt;img src=x onerror=alert(2)&gt;") == 3  # comment, reply, note


async def test_reply_is_sent_and_its_delivery_status_shown(
    cclient: Client, cconfig: Config
) -> None:
    comment = await ingest(cconfig)
    token = await login(cclient, "mod", "Pw-mike-2026")
    status, page = await post(
        cclient,
        f"/console/inbox/{comment.id}/reply",
        token,
        text="您好，一般在20个工作日内答复。",
        confirmed="1",
    )
    assert status == 200 and "答复已排入发送队列" in page
    assert 'data-reply-status="queued">待发送' in page
    assert await send_replies(cconfig) == 1
    page = await get_ok(cclient, f"/console/inbox/{comment.id}")
    assert 'data-reply-status="sent">已送达' in page
    assert (await Comment.get(id=comment.id)).status == "replied"

    # A channel that is not enabled: the reply fails and the page says why.
    other = await ingest(
        cconfig, channel="wechat", kind="message", reply_ref={"type": "custom", "openid": "o1"}
    )
    await post(cclient, f"/console/inbox/{other.id}/reply", token, text="您好", confirmed="1")
    await send_replies(cconfig)
    page = await get_ok(cclient, f"/console/inbox/{other.id}")
    assert 'data-reply-status="failed">发送失败' in page
    assert "渠道「wechat」未配置或未启用" in page


async def test_detail_actions_go_through_the_inbox_and_are_audited(
    cclient: Client, cconfig: Config
) -> None:
    comment = await ingest(cconfig)
    token = await login(cclient, "mod", "Pw-mike-2026")
    path = f"/console/inbox/{comment.id}"
    _, page = await post(cclient, f"{path}/assign-me", token)
    assert "已分派给我（mod）" in page
    _, page = await post(cclient, f"{path}/assign", token, assignee="root", office="办公室")
    c = await Comment.get(id=comment.id)
    assert c.office == "办公室" and c.assignee_id == (await User.get(username="root")).id
    _, page = await post(cclient, f"{path}/assign", token, assignee="ghost")
    assert "用户不存在或已停用：ghost" in page
    _, page = await post(cclient, f"{path}/note", token, text="已电话联系")
    assert await CommentNote.filter(comment_id=comment.id, text="已电话联系").exists()
    _, page = await post(cclient, f"{path}/reply", token, text="草稿答复", action="draft")
    draft = await CommentReply.get(comment_id=comment.id)
    assert draft.status == "draft" and "发送此草稿" in page
    _, page = await post(cclient, f"{path}/replies/{draft.id}/send", token, confirmed="1")
    assert (await CommentReply.get(id=draft.id)).status == "queued"
    _, page = await post(cclient, f"{path}/reply", token, text="再答复一次")
    assert "已有一条答复在发送队列中" in page
    _, page = await post(cclient, f"{path}/escalate", token, reason="")
    assert "督办理由不能为空" in page
    await post(cclient, f"{path}/escalate", token, reason="群众反映强烈")
    assert (await Comment.get(id=comment.id)).escalation_level == 1
    await post(cclient, f"{path}/spam", token)
    assert (await Comment.get(id=comment.id)).status == "spam"
    _, page = await post(cclient, f"{path}/close", token)
    assert "无法办结" in page  # a spam comment cannot be closed: the op's error is shown
    await post(cclient, f"{path}/not-spam", token)
    await post(cclient, f"{path}/close", token, reason="已电话答复")
    await post(cclient, f"{path}/reopen", token, reason="留言人追问")
    assert (await Comment.get(id=comment.id)).status == "open"
    actions = await AuditEvent.filter(target_type="comment", target_id=str(comment.id)).values_list(
        "action", flat=True
    )
    assert set(actions) >= {
        "comment.assign",
        "comment.note",
        "reply.draft",
        "reply.queue",
        "comment.escalate",
        "comment.spam",
        "comment.not_spam",
        "comment.close",
        "comment.reopen",
    }
    page = await get_ok(cclient, path)
    # The history told in words (the target links to the comment): no stored action names
    for label in ("mod 分派了", "督办升级了", "标记为垃圾信息", "重新打开了", "mod 答复了"):
        assert label in page
    assert "user:mod" not in page and "reply.queue" not in page


async def test_qa_selection_previews_masks_selects_and_withdraws(
    cclient: Client, cconfig: Config
) -> None:
    comment = await ingest(cconfig, "我的手机13812345678，请问信息公开申请怎么提交？")
    token = await login(cclient, "mod", "Pw-mike-2026")
    path = f"/console/inbox/{comment.id}"
    assert "预览并选登" not in await get_ok(cclient, path)  # not answered yet
    await post(cclient, f"{path}/reply", token, text="您好，可在网站在线提交申请。", confirmed="1")
    await send_replies(cconfig)
    assert "预览并选登" in await get_ok(cclient, path)
    preview = await get_ok(cclient, f"{path}/qa")
    assert "13812345678" not in preview and "信息公开申请怎么提交" in preview
    _, page = await post(
        cclient,
        f"{path}/qa",
        token,
        question="请问信息公开申请怎么提交？联系电话 13912345678",
        answer="您好，可在网站在线提交申请。",
        confirmed="1",
    )
    assert "已选登到公开问答页" in page
    entry = await QaEntry.get(comment_id=comment.id)
    assert "13912345678" not in entry.question and entry.withdrawn_at is None
    _, page = await post(cclient, f"{path}/qa/withdraw", token, reason="")
    assert "请填写撤下「原因」" in page
    _, page = await post(cclient, f"{path}/qa/withdraw", token, reason="内容已过时")
    assert "已从公开问答页撤下" in page
    assert (await QaEntry.get(id=entry.id)).withdrawn_at is not None
    assert "从公开问答页撤下" in page and "选登到公开问答页" in page  # in the history
