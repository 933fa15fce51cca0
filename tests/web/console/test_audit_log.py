"""Staff language over a real server and SQLite database: the audit log told as sentences
with people's display names (no stored action names, actor prefixes or JSON), its filters by
person, item, action and date with pagination that keeps them, its CSV export (BOM, Shanghai
times, the filters, formula cells escaped, streamed in batches) for the auditor only, and the
inbox and item pages naming people and states in Chinese."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from tortoise.transactions import in_transaction

from bot import audit, users
from bot.config import Config, StaffConfig
from bot.inbox import ops as inbox_ops
from bot.items import lifecycle
from bot.models import AuditEvent, Comment, CommentNote, Item, User
from bot.web.console import audit_page
from bot.web.console.audit_csv import BOM, FORMULA_STARTS, HEADER
from bot.wechat.events import AUTO_REPLY_AUTHOR, AUTO_REPLY_FLAG
from tests.conftest import Staff, add_test_user
from tests.web.console.test_auth import client_for, in_review, login
from tests.web.console.test_inbox import ingest, send_replies

Client = TestClient[web.Request, web.Application]
AUDREY = ("audrey", "Pw-audit-2026")  # the auditor
LISI = ("lisi", "Pw-lima-2026")  # 李四, a moderator
TITLE = "关于开展政务公开日活动的通知"
SHANGHAI = ZoneInfo("Asia/Shanghai")
# What staff should never read: stored action names, actor prefixes, detail dicts, JSON.
RAW = ("item.approve", "reply.queue", "comment.assign", "user:", "system:", "reply_id=", '{"')
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")
_SENTENCE = re.compile(r"<td>#\d+</td><td>[^<]*</td>\s*<td[^>]*>(.*?)</td>", re.S)


@dataclass
class World:
    item: Item
    comment: Comment


def visible(html: str) -> str:
    """The text a reader sees: no tags, attributes, scripts or styles."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r"</?a\b[^>]*>", "", html)  # a link is part of its sentence
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def sentences(html: str) -> list[str]:
    """The 记录 column of the audit log's rows, as text."""
    return [visible(s) for s in _SENTENCE.findall(html)]


@pytest.fixture
async def world(cconfig: Config, cstaff: Staff) -> World:
    """张三 approves alice's item; 李四 takes a comment and answers it; audrey audits."""
    await add_test_user("zhangsan", ["reviewer"], "Pw-zulu-2026", "system:test", "张三")
    await add_test_user(LISI[0], ["moderator"], LISI[1], "system:test", "李四")
    await add_test_user(AUDREY[0], ["auditor"], AUDREY[1], "system:test")
    item = await in_review(cconfig, cstaff, title=TITLE)
    await lifecycle.approve(item.id, await users.actor_for_user("zhangsan"), cconfig)
    comment = await ingest(cconfig)
    lisi = await users.actor_for_user("lisi")
    await inbox_ops.assign(comment.id, lisi, assignee="lisi")
    await inbox_ops.send_reply(comment.id, lisi, text="您好，一般在 20 个工作日内答复。")
    return World(item, comment)


async def test_the_audit_log_tells_events_as_sentences_with_display_names(
    cclient: Client, world: World
) -> None:
    async with in_transaction() as conn:  # an action no version of the registry knows
        await audit.record(conn, "system:legacy", "legacy.thing", "widget", 7, {"colour": "红"})
    await login(cclient, *AUDREY)
    html = await (await cclient.get("/console/audit")).text()
    told = sentences(html)
    assert f"张三（zhangsan） 批准发布了《{TITLE}》" in told
    assert f"李四（lisi） 答复了留言 #{world.comment.id}" in told
    assert f"李四（lisi） 分派了留言 #{world.comment.id}" in told
    assert f"alice 将《{TITLE}》提交审核" in told
    assert "系统（预审） 预审通过了" in " ".join(told)
    assert "系统（legacy） 对记录 #7进行了操作（legacy.thing）" in told
    text = visible(html)
    assert "经办人：李四（lisi）" in text and "版本：第 1 版" in text and "colour：红" in text
    for raw in RAW:
        assert raw not in text, raw
    assert '{"' not in html and "&#34;" not in html  # no JSON, escaped or not
    # An auditor alone cannot open items or comments: named, not linked.
    assert 'href="/console/items/' not in html and 'href="/console/inbox/' not in html


async def test_a_reader_who_may_open_the_item_gets_a_link_in_the_sentence(
    cconfig: Config, world: World
) -> None:
    await users.set_roles("root", ["admin", "auditor"], "system:test", separate_duties=False)
    merged = cconfig.model_copy(update={"staff": StaffConfig(separate_duties=False)})
    client = await client_for(merged)
    try:
        await login(client, "root", "Pw-romeo-2026")
        html = await (await client.get("/console/audit?action=item.approve")).text()
    finally:
        await client.close()
    link = f'<a href="/console/items/{world.item.id}">《{TITLE}》</a>'
    assert f"张三（zhangsan） 批准发布了{link}" in html


async def test_filters_by_person_item_action_and_date(cclient: Client, world: World) -> None:
    await login(cclient, *AUDREY)

    async def told(query: str) -> list[str]:
        resp = await cclient.get(f"/console/audit?{query}")
        assert resp.status == 200
        return sentences(await resp.text())

    by_zhang = await told("actor=user:zhangsan")
    assert by_zhang and all(s.startswith("张三（zhangsan） ") for s in by_zhang)
    assert await told("actor=zhangsan") == by_zhang  # a username typed alone
    about = await told(f"item={world.item.id}")
    assert len(about) >= 4 and all(TITLE in s for s in about)  # 新建, 提交, 预审, 批准
    assert await told("item=政务公开日") == about
    assert await told(f"item=%23{world.item.id}") == about
    page = await (await cclient.get("/console/audit?item=没有这样的标题")).text()
    assert "没有标题含「没有这样的标题」的稿件。" in page and sentences(page) == []
    approvals = await told("action=item.approve")
    assert approvals == [f"张三（zhangsan） 批准发布了《{TITLE}》"]
    page = await (await cclient.get("/console/audit?action=item.approve")).text()
    assert '<option value="item.approve" selected>批准发布</option>' in page
    assert '<optgroup label="留言">' in page and ">答复留言</option>" in page
    today = datetime.now(SHANGHAI).date().isoformat()
    assert await told(f"since={today}&until={today}&action=item.approve") == approvals
    assert await told("until=2000-01-01") == []
    both = await told("actor=user:lisi&action=reply.queue")
    assert both == [f"李四（lisi） 答复了留言 #{world.comment.id}"]


async def test_pagination_keeps_the_filters(cconfig: Config, world: World) -> None:
    console = cconfig.web.console.model_copy(update={"page_size": 5})
    small = cconfig.model_copy(update={"web": cconfig.web.model_copy(update={"console": console})})
    client = await client_for(small)
    try:
        await login(client, *AUDREY)
        first = await (await client.get("/console/audit?action=user.add")).text()
        assert await AuditEvent.filter(action="user.add").count() > 5
        assert 'href="?action=user.add&amp;page=2"' in first
        assert 'href="/console/audit.csv?action=user.add"' in first  # the export too
        second = await (await client.get("/console/audit?action=user.add&page=2")).text()
        rows = sentences(second)
        assert rows and all("新增了账号" in s for s in rows)
        assert '<option value="user.add" selected>' in second
    finally:
        await client.close()


def read_csv(body: bytes) -> list[list[str]]:
    assert body.startswith(BOM.encode("utf-8"))  # Excel reads UTF-8 only with it
    return list(csv.reader(io.StringIO(body.decode("utf-8").removeprefix(BOM), newline="")))


async def test_the_csv_export_is_filtered_in_shanghai_time_and_escapes_formulas(
    cclient: Client, cconfig: Config, cstaff: Staff, world: World
) -> None:
    await add_test_user("sum", ["reviewer"], "Pw-sierra-2026", "system:test", "@SUM(1)")
    item = await in_review(cconfig, cstaff, title='=HYPERLINK("http://x")')
    await lifecycle.approve(item.id, await users.actor_for_user("sum"), cconfig)
    await login(cclient, *AUDREY)
    resp = await cclient.get("/console/audit.csv")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert resp.headers["X-Frame-Options"] == "DENY"  # the console's headers, sent first
    rows = read_csv(await resp.read())
    assert rows[0] == list(HEADER)
    assert len(rows) - 1 == await AuditEvent.all().count()
    for cells in rows[1:]:  # no cell a spreadsheet would evaluate
        assert len(cells) == 5
        assert not any(c.lstrip(" ").startswith(FORMULA_STARTS) for c in cells), cells
    added = next(r for r in rows if r[2] == "新增账号" and "sum" in r[3])
    assert added[3] == "'@SUM(1)（sum）"  # the object: the new account's name, escaped

    resp = await cclient.get("/console/audit.csv?action=item.approve")
    rows = read_csv(await resp.read())
    assert [r[2] for r in rows[1:]] == ["批准发布", "批准发布"]  # the filter holds
    mine = rows[1]  # newest first
    assert mine[1] == "'@SUM(1)（sum）"
    assert mine[3] == '《=HYPERLINK("http://x")》'  # starts with 《: inert
    assert mine[4].startswith('\'@SUM(1)（sum） 批准发布了《=HYPERLINK("http://x")》。')
    assert "渠道：" in mine[4] and "版本：第 1 版" in mine[4]
    event = await AuditEvent.filter(action="item.approve", target_id=str(item.id)).get()
    assert mine[0] == event.at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


async def test_a_bad_filter_sends_the_export_back_to_the_page_that_says_why(
    cclient: Client, world: World
) -> None:
    await login(cclient, *AUDREY)
    resp = await cclient.get("/console/audit.csv?since=昨天", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/console/audit?since=")
    page = await (await cclient.get(resp.headers["Location"])).text()
    assert "日期「昨天」格式不正确" in page


async def test_the_csv_export_streams_in_batches_and_leaves_nothing_out(
    cclient: Client, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_page, "CSV_BATCH", 3)
    await login(cclient, *AUDREY)
    rows = read_csv(await (await cclient.get("/console/audit.csv")).read())[1:]
    events = await AuditEvent.all().order_by("-id")
    assert len(rows) == len(events) > 3 * 3
    assert [r[0] for r in rows] == [
        e.at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S") for e in events
    ]


async def test_only_the_auditor_exports_the_audit_log(cclient: Client, world: World) -> None:
    await login(cclient, "root", "Pw-romeo-2026")  # an admin, duties separate
    resp = await cclient.get("/console/audit.csv")
    assert resp.status == 403 and "审计员（auditor）" in await resp.text()


async def test_inbox_and_item_pages_name_people_and_states_in_chinese(
    cclient: Client, cconfig: Config, world: World
) -> None:
    c = world.comment
    await CommentNote.create(comment_id=c.id, author=AUTO_REPLY_AUTHOR, text="自动回复：您好")
    await Comment.filter(id=c.id).update(flags=[AUTO_REPLY_FLAG])
    await send_replies(cconfig)  # 系统（答复发送） delivers 李四's answer
    await login(cclient, *LISI)
    detail = visible(await (await cclient.get(f"/console/inbox/{c.id}")).text())
    listing = visible(await (await cclient.get("/console/inbox?status=all")).text())
    cclient.session.cookie_jar.clear()
    await login(cclient, "alice", "Pw-alpha-2026")
    item = visible(await (await cclient.get(f"/console/items/{world.item.id}")).text())
    history = visible(await (await cclient.get(f"/console/items/{world.item.id}/history")).text())
    assert "经办人 李四（lisi）" in detail and "系统（微信自动回复）" in detail
    assert "已自动回复" in detail and "auto_replied" not in detail
    assert f"系统（答复发送） 将留言 #{c.id}的答复送达留言人" in detail
    assert "经办人：李四（lisi）" in detail
    assert "李四（lisi）" in listing
    assert "本版本参与人：alice（撰写）" in item
    assert f"张三（zhangsan） 批准发布了《{TITLE}》" in history
    for name, text in (("detail", detail), ("list", listing), ("item", item), ("history", history)):
        for raw in RAW:
            assert raw not in text, (name, raw)
        assert SNAKE.findall(text) == [], name


async def test_details_of_every_kind_of_event_read_in_chinese(
    cclient: Client, world: World
) -> None:
    """Events as the writers shape them (outbox, staff, inbox, media, training):
    each field by its Chinese name, each value in words."""
    item = world.item.id
    zhang = await User.get(username="zhangsan")
    when = datetime(2030, 5, 1, 1, 30, tzinfo=UTC).isoformat()  # 09:30 in Shanghai
    events = [
        (
            "system:dispatcher",
            "delivery.dead",
            "delivery",
            5,
            {
                "item_id": item,
                "version": 1,
                "channel": "feed",
                "action": "publish",
                "attempts": 3,
                "error": "对方服务器错误",
            },
        ),
        (
            "system:dispatcher",
            "item.partly_published",
            "item",
            item,
            {"version": 1, "from": "publishing"},
        ),
        (
            "user:zhangsan",
            "item.edit",
            "item",
            item,
            {
                "fields": ["body", "title"],
                "new_version": 2,
                "cancelled_deliveries": 1,
                "findings": ["wording.typo", "links.insecure"],
            },
        ),
        (
            "user:zhangsan",
            "item.validity",
            "item",
            item,
            {"validity": "repealed", "reason": "废止"},
        ),
        ("user:zhangsan", "item.schedule", "item", item, {"publish_at": when}),
        (
            "user:zhangsan",
            "item.retract",
            "item",
            item,
            {
                "reason": "有误",
                "cancelled_deliveries": 0,
                "retract_on": ["feed"],
                "cannot_retract": ["wechat"],
            },
        ),
        (
            "user:root",
            "user.set_roles",
            "user",
            zhang.id,
            {"username": "zhangsan", "before": ["reviewer"], "roles": ["reviewer", "editor"]},
        ),
        (
            "cli:ops",
            "user.sessions_end",
            "user",
            zhang.id,
            {"username": "zhangsan", "ended": 2, "reason": "disable"},
        ),
        (
            "system:console",
            "console.login_throttled",
            "user",
            "zhangsan",
            {"key": "account", "ip": "203.0.113.9", "failures": 5, "wait": 60},
        ),
        (
            "user:zhangsan",
            "media.upload",
            "media",
            "ab12.png",
            {"filename": "示意图.png", "type": "png", "bytes": 2048, "new": True, "item_id": item},
        ),
        (
            "system:mass_send",
            "wechat.mass_send",
            "mass_send",
            1,
            {"day": "2030-05-01", "items": [item], "msg_id": "1000"},
        ),
        (
            "cli:ops",
            "hotline.import",
            "import",
            "orders.xlsx",
            {"rows": 3, "created": 2, "duplicates": 1, "errors": []},
        ),
        (
            "系统（夜间重新训练）",
            "triage.train",
            "category_model",
            1,
            {"sha256": "ab", "examples": 10, "labels": 3, "accuracy": 0.9, "held_out": []},
        ),
        (
            "user:lisi",
            "comment.categorize",
            "comment",
            world.comment.id,
            {"from": "咨询", "to": "投诉", "status": "open"},
        ),
        (
            "system:sla",
            "comment.escalate",
            "comment",
            world.comment.id,
            {"level": 2, "from": 1, "auto": True},
        ),
        (
            "user:lisi",
            "reply.signed_off",
            "comment",
            world.comment.id,
            {"reply_id": 1, "author": "user:lisi", "sent_by": "user:lisi"},
        ),
    ]
    async with in_transaction() as conn:
        for actor, action, kind, ident, details in events:
            await audit.record(conn, actor, action, kind, ident, details)
    await login(cclient, *AUDREY)
    text = visible(await (await cclient.get("/console/audit")).text())
    for raw in RAW:
        assert raw not in text, raw
    assert SNAKE.findall(text) == []
    for expected in (
        f"系统（发布调度） 报告投递 #5（《{TITLE}》，网站）失败",
        "尝试次数：3",
        "动作：发布",
        f"系统（发布调度） 确认《{TITLE}》只在部分渠道发布成功",
        "原状态：发布中",
        "修改的内容：正文、标题",
        "新版本：第 2 版",
        "预审发现：用语 1 条、链接 1 条",
        "效力：已废止",
        "定时发布时间：2030-05-01 09:30",
        "不能撤稿的渠道：微信公众号",
        "root 调整了张三（zhangsan）的角色",
        "原角色：审核；角色：审核、编辑",
        "命令行（服务器用户 ops） 注销了张三（zhangsan）的登录",
        "理由：账号停用",
        "系统（工作台登录保护） 因登录失败次数过多，暂时限制了张三（zhangsan）的登录",
        "限制依据：账号",
        f"上传了素材「示意图.png」（用于《{TITLE}》）",
        "大小：2.0 KB",
        "2030-05-01 的微信群发",
        f"群发稿件：《{TITLE}》",
        "导入了 12345 工单文件「orders.xlsx」",
        "系统（夜间重新训练） 训练了留言分类模型 #1",
        "交叉验证准确率：90.0%",
        "原分类：咨询；新分类：投诉；留言状态：待答复",
        "督办级别：2 级；原督办级别：1 级；自动督办：是",
        "撰写人：李四（lisi）",
    ):
        assert expected in text, expected
