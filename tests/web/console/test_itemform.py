"""The console item form's 微信标题 field (bot/web/console/itemform.py, item_form.html): shown
with a hint naming WeChat's title limit, saved on create and on edit, shown again."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.config import Config
from bot.models import Item
from tests.conftest import Staff
from tests.web.console.test_auth import in_review, login

Client = TestClient[web.Request, web.Application]

TITLE_33 = "关于进一步做好2026年国庆节期间全市各政务服务大厅窗口开放的通知"
WECHAT_TITLE = "国庆节期间政务服务大厅开放安排"


async def test_new_form_shows_the_wechat_title_field_with_its_limit(cclient: Client) -> None:
    await login(cclient, "alice", "Pw-alpha-2026")
    page = await (await cclient.get("/console/items/new?kind=notice")).text()
    assert '<label for="wechat_title">微信标题</label>' in page
    assert 'name="wechat_title"' in page
    assert "微信公众号标题不超过 32 字" in page


async def test_wechat_title_is_saved_on_create_and_shown_again(cclient: Client) -> None:
    token = await login(cclient, "alice", "Pw-alpha-2026")
    resp = await cclient.post(
        "/console/items",
        data={
            "_csrf": token,
            "kind": "notice",
            "title": TITLE_33,
            "wechat_title": f" {WECHAT_TITLE} ",
            "office": "办公室",
            "body": "国庆节期间办事大厅暂停线下服务。",
            "action": "save",
        },
    )
    assert resp.status == 200, await resp.text()
    item = await Item.get(title=TITLE_33)
    assert item.wechat_title == WECHAT_TITLE
    form = await (await cclient.get(f"/console/items/{item.id}/edit")).text()
    assert f'value="{WECHAT_TITLE}"' in form


async def test_editing_adds_the_wechat_title_to_an_existing_item(
    cclient: Client, cconfig: Config, cstaff: Staff
) -> None:
    item = await in_review(cconfig, cstaff)
    assert item.wechat_title == ""
    token = await login(cclient, "alice", "Pw-alpha-2026")
    resp = await cclient.post(
        f"/console/items/{item.id}",
        data={
            "_csrf": token,
            "kind": item.kind,
            "title": item.title,
            "wechat_title": WECHAT_TITLE,
            "office": item.office,
            "body": item.body,
            "action": "save",
        },
    )
    assert "已保存修改" in await resp.text()
    assert (await Item.get(id=item.id)).wechat_title == WECHAT_TITLE
