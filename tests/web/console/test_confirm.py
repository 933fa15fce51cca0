"""No surprises (issue 28): 撤稿, 发送答复 and 选登 in the console first answer a page that names
what will happen (the channels an item is on with when it was published there, the reply's
text, channel and timing, the masked exchange as the public will see it) and change nothing;
only the page's 确认 (the same fields again, confirmed=1 and the CSRF token) acts, once. Over a
real server and SQLite database, with the real dispatcher and reply sender."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.config import Config
from bot.items import lifecycle
from bot.models import AuditEvent, CommentReply, Delivery, Item, QaEntry
from tests.conftest import Staff
from tests.web.conftest import run_dispatcher
from tests.web.console.test_auth import in_review, login
from tests.web.console.test_inbox import ingest, post, send_replies

Client = TestClient[web.Request, web.Application]
_FORM = re.compile(r'<form method="post" action="([^"]+)" class="actions">(.*?)</form>', re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def confirmation(page: str) -> tuple[str, dict[str, str]]:
    """The confirmation page's form: where it posts and the fields it posts."""
    match = _FORM.search(page)
    assert match, "no confirmation form on the page"
    fields = {name: html.unescape(value) for name, value in _HIDDEN.findall(match.group(2))}
    return match.group(1), fields


def consequence(page: str) -> str:
    match = re.search(r'data-confirm="consequence">(.*?)</p>', page, re.S)
    assert match, "no consequence on the page"
    return html.unescape(match.group(1))


async def published_item(config: Config, staff: Staff) -> Item:
    """An item the website feed published (the real dispatcher), and that WeChat carried too
    (a channel since turned off here: it cannot retract, someone must delete it by hand)."""
    item = await in_review(config, staff, title="关于调整办事大厅开放时间的通知")
    await lifecycle.approve(item.id, staff.reviewer, config)
    await run_dispatcher(config)
    feed = await Delivery.get(item_id=item.id, channel="feed", action="publish")
    assert feed.status == "done"
    at = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    await Delivery.create(
        item_id=item.id,
        item_version=item.version,
        channel="wechat",
        status="done",
        due_at=at,
        next_attempt_at=at,
        finished_at=at,
    )
    return await Item.get(id=item.id)


async def test_retract_first_names_the_channels_it_is_on_and_changes_nothing(
    cclient: Client, cconfig: Config, cstaff: Staff
) -> None:
    item = await published_item(cconfig, cstaff)
    feed = await Delivery.get(item_id=item.id, channel="feed")
    shown = feed.finished_at.astimezone(ZoneInfo(cconfig.app.timezone)).strftime("%Y-%m-%d %H:%M")
    token = await login(cclient, "bob", "Pw-bravo-2026")
    path = f"/console/items/{item.id}/retract"

    status, page = await post(cclient, path, token, reason="政策调整，需重新发布")
    assert status == 200
    assert consequence(page) == (
        f"将从以下渠道撤下《{item.title}》：网站（已发布 {shown}）、"
        "微信公众号（已发布 2026-12-01 10:00）；已撤下的内容无法恢复。"
    )
    assert "不支持自动撤稿，确认后须到渠道后台人工删除：微信公众号" in page
    assert "政策调整，需重新发布" in page  # the reason, as it will be recorded
    assert f'href="/console/items/{item.id}">取消</a>' in page
    # Nothing happened: the item, its deliveries and the audit log are as they were.
    assert (await Item.get(id=item.id)).status == item.status
    assert not await Delivery.filter(item_id=item.id, action="retract").exists()
    assert not await AuditEvent.filter(action="item.retract").exists()

    action, fields = confirmation(page)
    assert action == path
    assert fields == {"_csrf": token, "reason": "政策调整，需重新发布", "confirmed": "1"}
    status, page = await post(
        cclient, action, token, **{k: v for k, v in fields.items() if k != "_csrf"}
    )
    assert status == 200 and "已撤稿" in page
    assert (await Item.get(id=item.id)).status == "retracted"
    retractions = await Delivery.filter(item_id=item.id, action="retract")
    assert [d.channel for d in retractions] == ["feed"]
    assert await AuditEvent.filter(action="item.retract").count() == 1


async def test_retract_without_a_reason_or_twice_is_refused_before_any_confirmation(
    cclient: Client, cconfig: Config, cstaff: Staff
) -> None:
    item = await published_item(cconfig, cstaff)
    token = await login(cclient, "bob", "Pw-bravo-2026")
    path = f"/console/items/{item.id}/retract"
    _, page = await post(cclient, path, token, reason="  ")
    assert "撤稿须填写理由" in page and "data-confirm" not in page
    await post(cclient, path, token, reason="误发", confirmed="1")
    assert (await Item.get(id=item.id)).status == "retracted"
    _, page = await post(cclient, path, token, reason="再撤一次")
    assert "无法撤稿" in page and "data-confirm" not in page
    assert await AuditEvent.filter(action="item.retract").count() == 1


async def test_an_item_not_yet_published_says_so_on_the_confirmation(
    cclient: Client, cconfig: Config, cstaff: Staff
) -> None:
    item = await in_review(cconfig, cstaff, publish_at=datetime(2099, 1, 1, tzinfo=UTC))
    await lifecycle.approve(item.id, cstaff.reviewer, cconfig)
    token = await login(cclient, "bob", "Pw-bravo-2026")
    _, page = await post(cclient, f"/console/items/{item.id}/retract", token, reason="暂缓")
    assert (
        consequence(page) == f"《{item.title}》尚未在任何渠道发布；撤稿后它不再发布，也无法恢复。"
    )
    assert "尚未发出的投递将取消：网站" in page
    assert (await Item.get(id=item.id)).status == "scheduled"


async def test_send_reply_first_shows_the_text_channel_and_when_then_queues_it_once(
    cclient: Client, cconfig: Config
) -> None:
    comment = await ingest(cconfig)
    token = await login(cclient, "mod", "Pw-mike-2026")
    path = f"/console/inbox/{comment.id}/reply"
    text = "您好，政府信息公开申请一般在 20 个工作日内答复。\n详见办事指南。"

    status, page = await post(cclient, path, token, text=f"  {text}  ", action="send")
    assert status == 200
    assert consequence(page) == (
        "将通过网站：显示在留言人的查询码页面上（网站留言）把以下答复发给留言人：确认后立即"
        "排入发送队列，后台发送程序通常在 5 秒内发出；发出后无法撤回。"
    )
    quoted = re.search(r'data-confirm="quote">(.*?)</div>', page, re.S)
    assert quoted and html.unescape(quoted.group(1)) == text  # exactly what goes out
    assert not await CommentReply.filter(comment_id=comment.id).exists()
    assert not await AuditEvent.filter(action="reply.queue").exists()

    action, fields = confirmation(page)
    assert action == path and fields["action"] == "send" and fields["confirmed"] == "1"
    _, page = await post(
        cclient, action, token, **{k: v for k, v in fields.items() if k != "_csrf"}
    )
    assert "答复已排入发送队列" in page
    reply = await CommentReply.get(comment_id=comment.id)
    assert reply.status == "queued" and reply.text == text
    # The same confirmation posted again (a second click) queues nothing more.
    _, page = await post(
        cclient, action, token, **{k: v for k, v in fields.items() if k != "_csrf"}
    )
    assert "已有一条答复在发送队列中" in page
    assert await CommentReply.filter(comment_id=comment.id).count() == 1
    assert await send_replies(cconfig) == 1


async def test_sending_a_draft_and_saving_one_follow_the_same_rule(
    cclient: Client, cconfig: Config
) -> None:
    comment = await ingest(cconfig)
    token = await login(cclient, "mod", "Pw-mike-2026")
    base = f"/console/inbox/{comment.id}"
    _, page = await post(cclient, f"{base}/reply", token, text="草稿答复", action="draft")
    assert "答复草稿已保存" in page  # a draft goes nowhere: no confirmation
    draft = await CommentReply.get(comment_id=comment.id)
    _, page = await post(cclient, f"{base}/replies/{draft.id}/send", token)
    assert "确认发送答复" in page and "草稿答复" in page
    assert (await CommentReply.get(id=draft.id)).status == "draft"
    await post(cclient, f"{base}/replies/{draft.id}/send", token, confirmed="1")
    assert (await CommentReply.get(id=draft.id)).status == "queued"


async def test_a_wechat_reply_names_the_window_and_a_disabled_channel(
    cclient: Client, cconfig: Config
) -> None:
    comment = await ingest(
        cconfig, channel="wechat", kind="message", reply_ref={"type": "custom", "openid": "o1"}
    )
    token = await login(cclient, "mod", "Pw-mike-2026")
    _, page = await post(cclient, f"/console/inbox/{comment.id}/reply", token, text="您好")
    assert "微信公众号：以客服消息发给留言人" in consequence(page)
    assert "48 小时内" in page
    assert "渠道「微信公众号」未配置或未启用，答复将发送失败" in page


async def test_qa_selection_first_shows_the_masked_exchange_then_publishes_it_once(
    cclient: Client, cconfig: Config
) -> None:
    comment = await ingest(cconfig, "我的手机13812345678，请问信息公开申请怎么提交？")
    token = await login(cclient, "mod", "Pw-mike-2026")
    base = f"/console/inbox/{comment.id}"
    await post(cclient, f"{base}/reply", token, text="您好，可在网站在线提交申请。", confirmed="1")
    await send_replies(cconfig)
    edited = "请问信息公开申请怎么提交？联系电话 13912345678"

    _, page = await post(cclient, f"{base}/qa", token, question=edited, answer="可在网站在线提交。")
    assert consequence(page).startswith("将把以下问题和答复公开在网站公开问答页（/qa）")
    quotes = [html.unescape(q) for q in re.findall(r'data-confirm="quote">(.*?)</div>', page)]
    assert quotes[1] == "可在网站在线提交。"
    assert "13912345678" not in quotes[0] and "请问信息公开申请怎么提交" in quotes[0]
    assert "已遮盖：手机号码" in page
    assert not await QaEntry.filter(comment_id=comment.id).exists()

    action, fields = confirmation(page)
    assert fields["question"] == edited  # posted again as typed, masked again when stored
    _, page = await post(
        cclient, action, token, **{k: v for k, v in fields.items() if k != "_csrf"}
    )
    assert "已选登到公开问答页" in page
    entry = await QaEntry.get(comment_id=comment.id)
    assert entry.question == quotes[0] and entry.answer == quotes[1]
    _, page = await post(
        cclient, action, token, **{k: v for k, v in fields.items() if k != "_csrf"}
    )
    assert "已选登" in page and await QaEntry.filter(comment_id=comment.id).count() == 1
    assert await AuditEvent.filter(action="qa.select").count() == 1
