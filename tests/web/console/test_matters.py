"""The console's 办事事项 and 专项回应 pages over a real server and SQLite database: the matters
with their figures and a matter's own page, the tasks and a task's page in staff language (no
stored names or keys shown), closing a task (refused, in Chinese, without a published response
item), answering its comments in bulk only after a confirmation page and once, the dashboard's
panel, and who may do what."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot import db
from bot.config import Config
from bot.items import lifecycle
from bot.matters.tasks import scan
from bot.models import CommentReply, MatterTask
from tests.conftest import Staff
from tests.matters.support import MATTERS
from tests.scheduler.support import publish
from tests.web.console.test_auth import client_for, console_config, console_staff, in_review, login
from tests.web.console.test_confirm import confirmation, consequence
from tests.web.console.test_inbox import ingest, post

Client = TestClient[web.Request, web.Application]
_TAGS = re.compile(r"<script.*?</script>|<[^>]+>", re.S)
# What staff must never read on a page: identifiers and actor prefixes (the browser crawl's
# patterns, tests/browser/test_console_crawl.py) and our stored reasons and methods.
_RAW = re.compile(
    r"(?<![\w./:-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w.(/-])"
    r"|\b(?:user|system|token|cli|source):[\w-]"
    r"|\b(?:complaints|keyword|similar|open|closed)\b"
)


def visible(page: str) -> str:
    return unescape(_TAGS.sub(" ", page))


@pytest.fixture
async def setup(sqlite_url: str) -> AsyncIterator[tuple[Config, Staff, Client]]:
    config = console_config(sqlite_url, matters=MATTERS, hot_matters={"tasks": {"complaints": 3}})
    await db.init(config, check_schema=False)
    await db.upgrade()
    staff = await console_staff()
    client = await client_for(config)
    try:
        yield config, staff, client
    finally:
        await client.close()
        await db.close()


async def _task(config: Config) -> int:
    now = datetime.now(UTC)
    for n, text in enumerate(
        ("营业执照办了一个月还没下来", "开办企业网上提交总报错", "营业执照变更要跑三次")
    ):
        await ingest(config, text, received_at=now - timedelta(days=n + 1))
    await ingest(config, "公积金提取要多久", received_at=now - timedelta(days=1))
    [task_id] = (await scan(config, now)).opened
    return task_id


async def test_pages_show_matters_and_tasks_in_staff_language(
    setup: tuple[Config, Staff, Client],
) -> None:
    config, _, client = setup
    task_id = await _task(config)
    await login(client, "alice", "Pw-alpha-2026")  # an editor reads them too
    for path in (
        "/console/matters",
        "/console/matters/kaiban",
        "/console/tasks",
        f"/console/tasks/{task_id}",
        "/console/dashboard",
    ):
        resp = await client.get(path)
        assert resp.status == 200, path
        text = visible(await resp.text())
        assert not _RAW.search(text), (path, _RAW.search(text))
    matters = visible(await (await client.get("/console/matters")).text())
    assert "企业开办" in matters and "企业服务处" in matters and "办理中" in matters
    task = visible(await (await client.get(f"/console/tasks/{task_id}")).text())
    assert "诉求集中" in task and "系统（诉求归集与专项回应）" in task
    assert "办结任务" in task and "关联留言（3 条）" in task
    dashboard = visible(await (await client.get("/console/dashboard")).text())
    assert "集中诉求与专项回应" in dashboard and "专项回应按期办结率" in dashboard
    missing = await client.get("/console/matters/nothing-here")
    assert missing.status == 404 and "未在配置中列出" in await missing.text()


async def test_a_task_closes_only_with_a_published_item_and_its_comments_are_answered_once(
    setup: tuple[Config, Staff, Client],
) -> None:
    config, staff, client = setup
    task_id = await _task(config)
    token = await login(client, "mod", "Pw-mike-2026")
    path = f"/console/tasks/{task_id}"
    _, page = await post(client, f"{path}/close", token, item_id="abc", note="一次告知")
    assert "回应稿件编号「abc」无效" in visible(page)
    draft = await in_review(config, staff, title="关于企业开办提速的专项回应")
    _, page = await post(client, f"{path}/close", token, item_id=str(draft.id), note="一次告知")
    assert "当前状态为「待审核」" in visible(page)
    assert (await MatterTask.get(id=task_id)).status == "open"
    await lifecycle.approve(draft.id, staff.reviewer, config)
    item = await publish(config, staff, title="关于企业开办一次告知的专项回应")
    _, page = await post(client, f"{path}/close", token, item_id=str(item.id), note="  ")
    assert "请填写办结说明" in visible(page)
    _, page = await post(client, f"{path}/close", token, item_id=str(item.id), note="一次告知")
    assert "已办结（按期）" in visible(page) and "批量答复关联留言" in visible(page)

    resp = await client.post(f"{path}/reply-all", data={"_csrf": token, "text": "已专项回应"})
    page = await resp.text()
    assert "将把以下答复分别发给 3 条关联留言" in consequence(page)
    assert await CommentReply.all().count() == 0  # the question changes nothing
    action, fields = confirmation(page)
    for _ in range(2):  # confirmed twice (a double click): each comment answered once
        await client.post(action, data=fields)
    replies = await CommentReply.all()
    assert len(replies) == 3 and len({r.comment_id for r in replies}) == 3
    assert all(f"/items/{item.id}" in r.text and r.text.startswith("已专项回应") for r in replies)
    closed = visible(await (await client.get(path)).text())
    assert "已答复（" in closed and "流程改进" in closed and not _RAW.search(closed)


async def test_an_editor_may_close_but_not_answer_and_an_unknown_task_is_not_found(
    setup: tuple[Config, Staff, Client],
) -> None:
    config, _, client = setup
    task_id = await _task(config)
    token = await login(client, "alice", "Pw-alpha-2026")
    status, _ = await post(client, f"/console/tasks/{task_id}/reply-all", token, text="x")
    assert status == 403
    resp = await client.get("/console/tasks/99999")
    assert resp.status == 404 and "专项回应任务 #99999 不存在" in await resp.text()
