"""The staff console's pages over a real server and database: the editor's policy → 退文 →
interpretation → approval flow with findings shown inline, self-approval refused in Chinese,
override and return, the queue's tabs, filters and pagination, the calendar, history and
diff, deliveries retried and cancelled, the audit log, and that hostile text in titles and
bodies is shown as text on every page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from aiohttp import web
from aiohttp.test_utils import TestClient

from bot import users
from bot.config import Config
from bot.models import AuditEvent, Delivery, Finding, Item
from bot.outbox.channel_set import build_channels
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.wakeup import Wakeup
from tests.conftest import Staff
from tests.web.console.test_auth import csrf_of, in_review, login

Client = TestClient[web.Request, web.Application]


POLICY_BODY = "第一条 为规范政务公开工作，制定本办法。\n\n第二条 本办法适用于本局各处室。"
INTERP_BODY = (
    "本办法出台的背景是进一步规范政务公开。我们重点说明了适用范围，各处室在日常工作中应当"
    "主动公开政策文件，并同步做好解读，回应社会关切。"
)


async def post_form(cclient: Client, path: str, token: str, **data: str) -> str:
    resp = await cclient.post(path, data={**data, "_csrf": token})
    assert resp.status == 200, (path, resp.status, await resp.text())
    return await resp.text()


def item_id_of(resp_url: str) -> int:
    match = re.search(r"/console/items/(\d+)$", resp_url)
    assert match, resp_url
    return int(match.group(1))


async def run_dispatcher(config: Config) -> None:
    await Dispatcher(config, build_channels(config), Wakeup()).run_until_idle()


async def test_policy_without_interpretation_is_returned_then_approved_with_it(
    cclient: Client, cconfig: Config
) -> None:
    token = await login(cclient, "alice", "Pw-alpha-2026")
    resp = await cclient.post(
        "/console/items",
        data={
            "_csrf": token,
            "kind": "policy",
            "title": "政务公开工作办法",
            "doc_number": "沪金管〔2021〕3号",
            "office": "办公室",
            "written_on": "2021-03-01",
            "topic": "综合政务",
            "body": POLICY_BODY,
            "action": "submit",
        },
    )
    page = await resp.text()
    policy_id = item_id_of(str(resp.url))
    assert "缺少政策解读稿件" in page and "已退文" in page
    assert (await Item.get(id=policy_id)).status == "returned"

    form = await (
        await cclient.get(f"/console/items/new?kind=interpretation&related_id={policy_id}")
    ).text()
    assert f'value="{policy_id}" selected' in form
    resp = await cclient.post(
        "/console/items",
        data={
            "_csrf": token,
            "kind": "interpretation",
            "title": "《政务公开工作办法》解读",
            "related_id": str(policy_id),
            "interpretation_forms": "图解",
            "body": INTERP_BODY,
            "action": "submit",
        },
    )
    interp_id = item_id_of(str(resp.url))
    assert (await Item.get(id=interp_id)).related_id == policy_id
    page = await post_form(cclient, f"/console/items/{policy_id}/submit", token)
    assert "预审通过" in page
    assert (await Item.get(id=policy_id)).status == "in_review"

    cclient.session.cookie_jar.clear()
    token = await login(cclient, "bob", "Pw-bravo-2026")
    page = await post_form(cclient, f"/console/items/{policy_id}/approve", token)
    assert "已批准" in page
    assert {i.status for i in await Item.filter(id__in=[policy_id, interp_id])} <= {
        "approved",
        "scheduled",
    }
    await run_dispatcher(cconfig)
    page = await (await cclient.get("/console/")).text()
    assert "网站：已完成" in page or "已完成" in page
    assert (await Item.get(id=policy_id)).status == "published"


async def test_findings_show_the_offending_text_highlighted_with_the_suggestion(
    cclient: Client, cconfig: Config, cstaff: Staff
) -> None:
    token = await login(cclient, "alice", "Pw-alpha-2026")
    body = "请联系张三，电话 13812345678，了解详情。"
    resp = await cclient.post(
        "/console/items",
        data={
            "_csrf": token,
            "kind": "notice",
            "title": "关于办事指南的通知",
            "body": body,
            "action": "submit",
        },
    )
    page = await resp.text()
    finding = await Finding.filter(
        item_id=item_id_of(str(resp.url)), span_start__isnull=False
    ).first()
    assert finding is not None
    marked = body[finding.span_start : finding.span_end]
    assert f"<mark>{marked}</mark>" in page
    if finding.suggestion:
        assert finding.suggestion in page


async def test_self_approval_is_refused_in_chinese(
    cclient: Client, cconfig: Config, cstaff: Staff
) -> None:
    item = await in_review(cconfig, cstaff)
    # carol is editor and reviewer; make her the author of the item
    await Item.filter(id=item.id).update(author_id=cstaff.editor2.user_id)
    token = await login(cclient, "carol", "Pw-charlie-2026")
    page = await post_form(cclient, f"/console/items/{item.id}/approve", token)
    assert "不能批准自己撰写的稿件" in page
    assert (await Item.get(id=item.id)).status == "in_review"


async def test_return_needs_a_reason_and_sends_the_item_back(
    cclient: Client, cconfig: Config, cstaff: Staff
) -> None:
    item = await in_review(cconfig, cstaff)
    token = await login(cclient, "bob", "Pw-bravo-2026")
    page = await post_form(cclient, f"/console/items/{item.id}/return", token, reason=" ")
    assert "退文须填写理由" in page
    page = await post_form(cclient, f"/console/items/{item.id}/return", token, reason="标题不规范")
    assert "退文理由：标题不规范" in page
    assert (await Item.get(id=item.id)).status == "returned"


async def test_a_warning_is_overridden_with_a_written_reason_then_approved(
    cclient: Client, cconfig: Config, cstaff: Staff
) -> None:
    # A signing date (落款) in the future: a warning a reviewer may accept in writing.
    item = await in_review(cconfig, cstaff, body="活动安排如下。\n\n办公室\n\n2099年1月1日")
    warn = await Finding.get(item_id=item.id, stage="submit", severity="warn")
    token = await login(cclient, "bob", "Pw-bravo-2026")
    page = await cclient.get(f"/console/items/{item.id}")
    assert "<mark>2099年1月1日</mark>" in await page.text()
    page = await post_form(cclient, f"/console/items/{item.id}/approve", token)
    assert "未经审核人员书面确认" in page
    page = await post_form(cclient, f"/console/findings/{warn.id}/override", token, reason=" ")
    assert "须填写书面理由" in page
    page = await post_form(cclient, f"/console/findings/{warn.id}/override", token, reason="已核实")
    assert "已由 bob 于" in page and "已核实" in page and "user:bob" not in page
    page = await post_form(cclient, f"/console/items/{item.id}/approve", token)
    assert "已批准" in page


async def test_queue_tabs_filters_search_and_pagination(
    cclient: Client, cconfig: Config, cstaff: Staff
) -> None:
    for n in range(25):
        await in_review(
            cconfig, cstaff, title=f"关于第{n}号事项的通知", doc_number=f"沪金管〔2021〕{n}号"
        )
    await login(cclient, "alice", "Pw-alpha-2026")
    page = await (await cclient.get("/console/?status=in_review")).text()
    assert '待审核<span class="count">25</span>' in page
    assert "第 1 / 2 页" in page
    page2 = await (await cclient.get("/console/?status=in_review&page=2")).text()
    assert page2.count("/console/items/") - page2.count("items/new") == 5
    found = await (await cclient.get("/console/?q=〔2021〕7号")).text()
    assert "关于第7号事项的通知" in found and "关于第8号事项的通知" not in found
    none = await (await cclient.get("/console/?kind=enforcement")).text()
    assert "没有符合条件的稿件" in none


async def test_calendar_shows_scheduled_items_on_their_shanghai_day(
    cclient: Client, cconfig: Config, cstaff: Staff
) -> None:
    item = await in_review(cconfig, cstaff, title="排期发布的通知")
    # 2030-03-31 17:00 UTC is 2030-04-01 01:00 in Shanghai
    await Item.filter(id=item.id).update(publish_at=datetime(2030, 3, 31, 17, 0, tzinfo=UTC))
    await login(cclient, "alice", "Pw-alpha-2026")
    april = await (await cclient.get("/console/calendar?month=2030-04")).text()
    assert "01:00" in april and "排期发布的通知" in april
    march = await (await cclient.get("/console/calendar?month=2030-03")).text()
    assert "排期发布的通知" not in march


async def test_editing_makes_a_diff_and_an_audit_trail_on_the_history_page(
    cclient: Client, cconfig: Config, cstaff: Staff
) -> None:
    item = await in_review(cconfig, cstaff, body="原来的正文。")
    token = await login(cclient, "alice", "Pw-alpha-2026")
    form = await (await cclient.get(f"/console/items/{item.id}/edit")).text()
    assert "原来的正文。" in form
    resp = await cclient.post(
        f"/console/items/{item.id}",
        data={
            "_csrf": token,
            "kind": "notice",
            "title": item.title,
            "body": "修改后的正文。",
            "action": "save",
        },
    )
    assert "已保存修改" in await resp.text()
    page = await (await cclient.get(f"/console/items/{item.id}/history?a=1&b=current")).text()
    assert '<div class="del">-原来的正文。</div>' in page
    assert '<div class="add">+修改后的正文。</div>' in page
    # The trail told in words: who by name, what in Chinese, never the stored action names
    assert "alice 修改了" in page and "alice 将" in page and "提交审核" in page
    assert "item.edit" not in page and "user:alice" not in page


async def test_unchanged_save_does_not_make_a_new_version(
    cclient: Client, cconfig: Config, cstaff: Staff
) -> None:
    item = await in_review(cconfig, cstaff)
    token = await login(cclient, "alice", "Pw-alpha-2026")
    resp = await cclient.post(
        f"/console/items/{item.id}",
        data={
            "_csrf": token,
            "kind": "notice",
            "title": item.title,
            "body": item.body,
            "action": "save",
        },
    )
    assert "内容没有变化" in await resp.text()
    assert (await Item.get(id=item.id)).status == "in_review"


async def test_form_errors_name_the_field_and_keep_what_was_typed(cclient: Client) -> None:
    token = await login(cclient, "alice", "Pw-alpha-2026")
    resp = await cclient.post(
        "/console/items",
        data={
            "_csrf": token,
            "kind": "notice",
            "title": " ",
            "body": "保留的正文",
            "publish_at": "明天",
            "action": "save",
        },
    )
    assert resp.status == 422
    page = await resp.text()
    assert "标题：不能为空" in page and "发布时间「明天」格式不正确" in page
    assert "保留的正文" in page
    assert await Item.all().count() == 0


async def test_publish_time_entered_in_shanghai_is_stored_in_utc(cclient: Client) -> None:
    token = await login(cclient, "alice", "Pw-alpha-2026")
    resp = await cclient.post(
        "/console/items",
        data={
            "_csrf": token,
            "kind": "notice",
            "title": "定时通知",
            "body": "正文",
            "publish_at": "2030-05-01T09:30",
            "action": "save",
        },
    )
    item = await Item.get(id=item_id_of(str(resp.url)))
    assert item.publish_at == datetime(2030, 5, 1, 1, 30, tzinfo=UTC)
    assert "2030-05-01T09:30" in await (await cclient.get(f"/console/items/{item.id}/edit")).text()


async def test_preview_endpoint_renders_markdown_like_the_feed(cclient: Client) -> None:
    token = await login(cclient, "alice", "Pw-alpha-2026")
    resp = await cclient.post(
        "/console/preview", data={"body": "**要点**\n\n<b>x</b>"}, headers={"X-CSRF-Token": token}
    )
    html = await resp.text()
    assert "<strong>要点</strong>" in html
    assert "<b>" not in html and "&lt;b&gt;" in html
    page = await post_form(
        cclient, "/console/items", token, kind="notice", title="t", body="# 标题", action="preview"
    )
    assert "<h1>标题</h1>" in page
    assert await Item.all().count() == 0


async def test_dead_delivery_is_highlighted_retried_and_cancelled_with_audit(
    cclient: Client, cconfig: Config, cstaff: Staff
) -> None:
    item = await in_review(cconfig, cstaff)
    token = await login(cclient, "bob", "Pw-bravo-2026")
    await post_form(cclient, f"/console/items/{item.id}/approve", token)
    delivery = await Delivery.get(item_id=item.id, channel="feed")
    await Delivery.filter(id=delivery.id).update(
        status="dead",
        attempts=8,
        last_error="已重试 8 次仍失败：对方服务器错误",
        finished_at=datetime.now(UTC),
        due_at=datetime.now(UTC) - timedelta(days=3),
    )
    page = await (await cclient.get("/console/deliveries?status=problem")).text()
    assert '<tr class="dead">' in page and "已重试 8 次仍失败：对方服务器错误" in page
    assert "需要处理" in page
    page = await post_form(cclient, f"/console/deliveries/{delivery.id}/retry", token)
    fresh = await Delivery.get(id=delivery.id)
    assert fresh.status == "pending" and fresh.attempts == 0
    assert await AuditEvent.filter(action="delivery.retry", target_id=str(delivery.id)).exists()
    page = await post_form(cclient, f"/console/deliveries/{delivery.id}/retry", token)
    assert "只有失败、已错过或结果待确认的投递可以重试" in page
    await post_form(cclient, f"/console/deliveries/{delivery.id}/cancel", token)
    assert (await Delivery.get(id=delivery.id)).status == "cancelled"
    assert await AuditEvent.filter(action="delivery.cancel").exists()


async def test_audit_page_searches_and_reports_the_chain_verified(
    cclient: Client, cconfig: Config, cstaff: Staff
) -> None:
    item = await in_review(cconfig, cstaff)
    # One account both admin and auditor: only as a small office's merged duties.
    await users.set_roles("root", ["admin", "auditor"], "system:test", separate_duties=False)
    await login(cclient, "root", "Pw-romeo-2026")
    page = await (await cclient.get(f"/console/audit?target=item:{item.id}")).text()
    assert "哈希链校验通过" in page
    assert "alice 将" in page and "新增了账号" not in page  # 提交审核 told, no account added
    page = await (await cclient.get("/console/audit?actor=system:test&action=user.add")).text()
    assert "新增了账号" in page and "alice 将" not in page
    page = await (await cclient.get("/console/audit?since=bad")).text()
    assert "日期「bad」格式不正确" in page
    await AuditEvent.filter(action="user.add").limit(1).update(actor="someone-else")
    page = await (await cclient.get("/console/audit")).text()
    assert "哈希链校验失败" in page


HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


async def test_hostile_titles_and_bodies_are_shown_as_text_everywhere(
    cclient: Client, cconfig: Config, cstaff: Staff
) -> None:
    item = await in_review(
        cconfig, cstaff, title="通知" + HOSTILE, body="正文" + HOSTILE, doc_number=HOSTILE[:100]
    )
    token = await login(cclient, "alice", "Pw-alpha-2026")
    await cclient.post(
        f"/console/items/{item.id}",
        data={
            "_csrf": token,
            "kind": "notice",
            "title": "通知" + HOSTILE,
            "body": "正文二" + HOSTILE,
            "action": "save",
        },
    )
    cclient.session.cookie_jar.clear()
    await users.set_roles(  # for the audit log (a small office's merged duties)
        "root", ["admin", "auditor"], "system:test", separate_duties=False
    )
    await login(cclient, "root", "Pw-romeo-2026")
    pages = [
        "/console/",
        f"/console/?q={HOSTILE[:20]}",
        "/console/calendar",
        f"/console/items/{item.id}",
        f"/console/items/{item.id}/edit",
        f"/console/items/{item.id}/history",
        f"/console/items/{item.id}/preview",
        "/console/deliveries",
        "/console/audit",
    ]
    for path in pages:
        html = await (await cclient.get(path)).text()
        assert "<script>alert" not in html, path
        assert "<img src=x" not in html, path
    item_page = await (await cclient.get(f"/console/items/{item.id}")).text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in item_page
    token = csrf_of(item_page)
    preview = await cclient.post(
        "/console/preview", data={"body": HOSTILE}, headers={"X-CSRF-Token": token}
    )
    assert "<script>" not in await preview.text() and "<img" not in await preview.text()
