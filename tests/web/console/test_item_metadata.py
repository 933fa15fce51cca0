"""The 主动公开目录 metadata in the console (issue 23): the editor's 成文日期 (a date input),
主题分类 (a select of the configured list) and 发布机构 (prefilled with the configured one), errors
shown by field, an unchanged save that changes nothing, and the 索引号 on the item page once the
item is approved."""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.config import Config
from bot.items import lifecycle
from bot.models import Item
from tests.conftest import Staff
from tests.web.console.test_auth import login
from tests.web.console.test_pages import item_id_of

Client = TestClient[web.Request, web.Application]

FIELDS = {
    "kind": "notice",
    "title": "关于调整办事大厅开放时间的通知",
    "body": "自下月起，办事大厅周六上午开放。",
    "office": "办公室",
    "written_on": "2026-03-02",
    "topic": "综合政务",
    "publisher": "上海市地方金融管理局",
}


async def test_the_editor_offers_the_fields_and_saves_them(
    cclient: Client, cconfig: Config, cstaff: Staff
) -> None:
    token = await login(cclient, "alice", "Pw-alpha-2026")
    form = await (await cclient.get("/console/items/new?kind=policy")).text()
    assert re.search(r'<input id="written_on" name="written_on" type="date"', form)
    assert "成文日期（政策文件必填）" in form and "主题分类（政策文件必填）" in form
    options = re.findall(
        r'<option value="([^"]*)"', form.split('id="topic"')[1].split("</select>")[0]
    )
    assert options == ["", *cconfig.disclosure.topics]
    assert (
        f'id="publisher" name="publisher" type="text" maxlength="128" value="{cconfig.publisher()}"'
        in form
    )

    resp = await cclient.post("/console/items", data={**FIELDS, "_csrf": token})
    assert resp.status == 200, await resp.text()
    item = await Item.get(id=item_id_of(str(resp.url)))
    assert (
        item.written_on.isoformat() if item.written_on else None,
        item.topic,
        item.publisher,
    ) == (
        "2026-03-02",
        "综合政务",
        "上海市地方金融管理局",
    )
    page = await resp.text()
    assert "首次批准时生成" in page  # no 索引号 before the first approval

    # Saving the form unchanged changes nothing (the date compares equal).
    edit = await (await cclient.get(f"/console/items/{item.id}/edit")).text()
    assert 'value="2026-03-02"' in edit and '<option value="综合政务" selected>' in edit
    resp = await cclient.post(
        f"/console/items/{item.id}", data={**FIELDS, "_csrf": token, "action": "save"}
    )
    assert "内容没有变化" in await resp.text()

    await lifecycle.submit(item.id, cstaff.editor, cconfig)
    await lifecycle.approve(item.id, cstaff.reviewer, cconfig)
    index_no = (await Item.get(id=item.id)).index_no
    assert index_no is not None
    assert (
        f"<dt>索引号</dt><dd>{index_no}</dd>"
        in await (await cclient.get(f"/console/items/{item.id}")).text()
    )


async def test_a_bad_date_or_topic_is_shown_by_its_field_and_nothing_is_saved(
    cclient: Client, cconfig: Config
) -> None:
    token = await login(cclient, "alice", "Pw-alpha-2026")
    resp = await cclient.post(
        "/console/items", data={**FIELDS, "written_on": "2026-02-30", "_csrf": token}
    )
    page = await resp.text()
    assert resp.status == 422
    assert re.search(r'id="err-written_on">成文日期：应为日期', page)
    resp = await cclient.post(
        "/console/items", data={**FIELDS, "topic": "金融稳定", "_csrf": token}
    )
    page = await resp.text()
    assert resp.status == 422 and 'id="err-topic">主题分类（topic）「金融稳定」' in page
    assert await Item.all().count() == 0
