"""Findings while writing: the editor's form is pre-reviewed as typed without storing anything,
and a new draft is pre-reviewed when it is saved, so its page shows before submit what submit
will say (issue 28, item 2)."""

from __future__ import annotations

from bot.models import Finding, Item
from tests.web.console.test_auth import Client, login

PHONE_BODY = "即日起办公地点迁至新址。联系人：王明，手机 13912345678。"


async def test_the_form_as_typed_is_pre_reviewed_and_nothing_is_stored(cclient: Client) -> None:
    token = await login(cclient, "alice", "Pw-alpha-2026")
    resp = await cclient.post(
        "/console/prereview",
        data={"kind": "notice", "title": "关于调整办公地点的通知", "body": PHONE_BODY},
        headers={"X-CSRF-Token": token},
    )
    fragment = await resp.text()
    assert resp.status == 200
    assert "手机号码" in fragment and "<mark>13912345678</mark>" in fragment
    assert "阻断" in fragment and "提交后将被退文" in fragment
    assert await Item.all().count() == 0 and await Finding.all().count() == 0


async def test_an_unknown_kind_is_refused_in_chinese(cclient: Client) -> None:
    token = await login(cclient, "alice", "Pw-alpha-2026")
    resp = await cclient.post(
        "/console/prereview", data={"kind": "memo", "body": "x"}, headers={"X-CSRF-Token": token}
    )
    assert resp.status == 400
    assert "稿件类型「memo」不存在" in await resp.text()


async def test_a_saved_draft_shows_its_findings_before_submit(cclient: Client) -> None:
    token = await login(cclient, "alice", "Pw-alpha-2026")
    resp = await cclient.post(
        "/console/items",
        data={
            "_csrf": token,
            "kind": "notice",
            "title": "关于调整办公地点的通知",
            "body": PHONE_BODY,
            "action": "save",
        },
    )
    page = await resp.text()
    item = await Item.get(title="关于调整办公地点的通知")
    assert item.status == "draft"
    assert "手机号码" in page and "没有预审提示" not in page
    rules = {f.rule async for f in Finding.filter(item_id=item.id, stage="edit")}
    assert any("privacy" in rule for rule in rules), rules


async def test_the_findings_of_an_existing_item_use_its_kind(cclient: Client) -> None:
    token = await login(cclient, "alice", "Pw-alpha-2026")
    await cclient.post(
        "/console/items",
        data={"_csrf": token, "kind": "notice", "title": "通知一", "body": "正文。"},
    )
    item = await Item.get(title="通知一")
    resp = await cclient.post(
        f"/console/prereview?item={item.id}",
        data={"kind": "memo", "title": "通知一", "body": "联系邮箱 zhangsan1987@163.com。"},
        headers={"X-CSRF-Token": token},
    )
    assert resp.status == 200
    assert "电子邮箱" in await resp.text()
