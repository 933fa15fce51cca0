"""预览到手机 (bot/wechat/preview.py) against the simulator: an approved item reaches the preview
ledger for the staff member's openid (or 微信号), built like the 群发's article, and is never a
send; an item not approved, a person without a WeChat recipient, a recipient who does not follow
the account are refused in Chinese. The simulator's message/mass/preview is also driven by
wechatpy's own client, and the console's button and 个人设置 page over real HTTP."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from bot.errors import EXIT_REFUSED, Refusal
from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from bot.models import AuditEvent, User
from bot.wechat.preview import NoRecipient, PreviewRefused, preview_item
from channels.wechat.channel import WechatChannel
from tests.channels.test_wechat import APP_ID, JPEG, SECRET, WechatEnv
from tests.conftest import AUDIT_KEY
from tests.web.console.test_auth import client_for, login

OPENID = "oAlice_preview_openid_000001"  # 28 characters, as wechatpy tells an openid
assert len(OPENID) == 28


async def _with_openid(env: WechatEnv, username: str = "alice", openid: str = OPENID) -> None:
    await User.filter(username=username).update(wechat_openid=openid)
    env.sim.follow(openid, "alice_wx")


async def test_preview_reaches_the_ledger_for_the_staff_members_openid_and_is_no_send(
    env: WechatEnv, channel: WechatChannel
) -> None:
    await _with_openid(env)
    item = await env.approved("关于开展政务公开日活动的通知", notify=True)
    await env.run()  # published: the preview reuses its uploaded cover
    materials = len(env.sim.ledger.materials)

    sent = await preview_item(env.config, item.id, env.staff.reviewer, "alice", channel)

    (shown,) = env.sim.ledger.previews
    assert shown["touser"] == OPENID
    assert shown["titles"] == ["关于开展政务公开日活动的通知"]
    assert str(shown["msg_id"]) == sent.msg_id
    draft = env.sim.ledger.drafts[shown["media_id"]]["articles"][0]
    assert "preview=1" in draft["content_source_url"]
    assert len(env.sim.ledger.materials) == materials  # the cover was not uploaded again
    assert env.sim.ledger.mass_sends == []  # never a 群发
    assert env.sim.ledger.calls["message/mass/sendall"] == 0
    event = await AuditEvent.get(action="wechat.preview")
    assert (event.actor, event.target_id) == ("user:bob", str(item.id))
    assert event.details["username"] == "alice"


async def test_preview_by_wechat_id_when_no_openid_is_stored(
    env: WechatEnv, channel: WechatChannel
) -> None:
    env.sim.follow(OPENID, "alice_wx")
    await User.filter(username="alice").update(wechat_id="alice_wx")
    item = await env.approved()
    await preview_item(env.config, item.id, env.staff.reviewer, "alice", channel)
    (shown,) = env.sim.ledger.previews
    assert (shown["touser"], shown["towxname"]) == (OPENID, "alice_wx")


async def test_an_item_not_approved_cannot_be_previewed(
    env: WechatEnv, channel: WechatChannel
) -> None:
    await _with_openid(env)
    data = {"kind": "notice", "title": "尚在审核的通知", "body": "正文。", "office": "办公室"}
    item = await lifecycle.create_item(
        ItemCreate.model_validate(data), env.staff.editor, env.config
    )
    await lifecycle.submit(item.id, env.staff.editor, env.config)
    with pytest.raises(PreviewRefused, match="只有已批准且未撤稿的稿件才能预览到手机"):
        await preview_item(env.config, item.id, env.staff.reviewer, "alice", channel)
    assert env.sim.ledger.previews == []
    assert env.sim.ledger.calls["draft/add"] == 0
    assert not await AuditEvent.filter(action="wechat.preview").exists()


async def test_refusals_name_the_missing_recipient_and_the_unfollowed_account(
    env: WechatEnv, channel: WechatChannel
) -> None:
    item = await env.approved()
    with pytest.raises(NoRecipient, match="个人设置"):
        await preview_item(env.config, item.id, env.staff.reviewer, "alice", channel)
    with pytest.raises(NoRecipient, match="nobody"):
        await preview_item(env.config, item.id, env.staff.reviewer, "nobody", channel)
    await User.filter(username="alice").update(wechat_openid=OPENID)  # does not follow
    with pytest.raises(PreviewRefused, match="43004"):
        await preview_item(env.config, item.id, env.staff.reviewer, "alice", channel)
    assert env.sim.ledger.previews == []


async def test_wechatpy_previews_a_draft_by_openid_and_by_wechat_id(env: WechatEnv) -> None:
    env.sim.follow(OPENID, "alice_wx")
    env.sim.tokens["wp-token"] = env.sim.now() + 7200  # as if stable_token had issued it
    client = WeChatClient(APP_ID, SECRET, access_token="wp-token")
    client.API_BASE_URL = env.config.channels.wechat.api_base_url + "/cgi-bin/"

    def preview_both() -> dict[str, Any]:
        thumb = client.material.add("image", ("cover.jpg", JPEG, "image/jpeg"))["media_id"]
        article = {"title": "预览", "content": "<p>预览</p>", "thumb_media_id": thumb}
        media_id = client.draft.add([article])["media_id"]
        by_openid = client.message.send_mass_article(media_id, OPENID, preview=True)
        by_name = client.message.send_mass_article(media_id, "alice_wx", preview=True)
        with pytest.raises(WeChatClientException) as stranger:
            client.message.send_mass_article(media_id, "o" * 28, preview=True)
        with pytest.raises(WeChatClientException) as no_draft:
            client.message.send_mass_article("nope", OPENID, preview=True)
        return {
            "answers": (by_openid, by_name),
            "errcodes": (stranger.value.errcode, no_draft.value.errcode),
        }

    got = await asyncio.to_thread(preview_both)
    assert all(a["errmsg"] == "preview success" for a in got["answers"])
    assert got["errcodes"] == (43004, 40007)
    assert [(p["touser"], p["towxname"]) for p in env.sim.ledger.previews] == [
        (OPENID, ""),
        (OPENID, "alice_wx"),
    ]
    assert env.sim.ledger.mass_sends == []


async def test_console_profile_then_item_button_previews_to_ones_own_phone(
    env: WechatEnv,
) -> None:
    env.sim.follow(OPENID)
    item = await env.approved()
    cclient: TestClient[Any, Any] = await client_for(env.config)
    try:
        token = await login(cclient, "bob", "Pw-bravo-2026")
        bad = await cclient.post("/console/profile", data={"openid": "含中文", "_csrf": token})
        assert bad.status == 422
        assert "OpenID 格式不对" in await bad.text()
        ok = await cclient.post("/console/profile", data={"openid": OPENID, "_csrf": token})
        assert ok.status == 200 and "个人设置已保存" in await ok.text()
        page = await (await cclient.get(f"/console/items/{item.id}")).text()
        assert "预览到手机" in page
        resp = await cclient.post(f"/console/items/{item.id}/wechat/preview", data={"_csrf": token})
        assert resp.status == 200
        assert "预览发送到您的微信" in await resp.text()
    finally:
        await cclient.close()
    (shown,) = env.sim.ledger.previews
    assert shown["touser"] == OPENID
    assert await AuditEvent.filter(action="user.set_wechat").count() == 1


async def test_an_editor_without_the_item_page_role_is_refused_in_chinese(
    env: WechatEnv, channel: WechatChannel
) -> None:
    item = await env.approved()
    from bot.actors import Actor

    nobody = Actor("user:aud", None, frozenset({"auditor"}))
    with pytest.raises(Refusal, match="没有权限：预览到手机"):
        await preview_item(env.config, item.id, nobody, "alice", channel)


@pytest.mark.slow  # two `gongkai` processes
async def test_cli_previews_an_item_to_a_user_and_refuses_a_draft(
    env: WechatEnv, tmp_path: Path
) -> None:
    """`gongkai wechat preview ITEM --to USER`, run as a process on the same database."""
    await _with_openid(env)
    item = await env.approved()
    draft = await lifecycle.create_item(
        ItemCreate.model_validate({"kind": "notice", "title": "草稿", "body": "正文。"}),
        env.staff.editor,
        env.config,
    )
    w = env.config.channels.wechat
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "{env.config.database.url}"\n'
        f"[review]\ncheck_links = false\n"
        f"[channels.feed]\nenabled = false\n"
        f'[channels.wechat]\nenabled = true\napp_id = "{w.app_id}"\n'
        f'app_secret_env = "GONGKAI_WEBHOOK_SECRET"\napi_base_url = "{w.api_base_url}"\n'
        "fallback_base_urls = []\n",
        encoding="utf-8",
    )
    run_env = {**os.environ, "GONGKAI_WEBHOOK_SECRET": SECRET, "GONGKAI_AUDIT_KEY": AUDIT_KEY}
    run_env["GONGKAI_AUTHOR_KEY"] = "test-author-key"

    async def gongkai(*args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli.main",
            "--config",
            str(config),
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=run_env,
        )
        out, _ = await proc.communicate()
        return proc.returncode or 0, out.decode()

    code, out = await gongkai("wechat", "preview", str(item.id), "--to", "alice", "--as", "bob")
    assert code == 0, out
    assert f"已将条目 #{item.id} 第 1 版预览发送给 alice" in out
    code, out = await gongkai("wechat", "preview", str(draft.id), "--to", "alice", "--as", "bob")
    assert code == EXIT_REFUSED, out
    assert "只有已批准且未撤稿的稿件才能预览到手机" in out
    assert [p["touser"] for p in env.sim.ledger.previews] == [OPENID]
