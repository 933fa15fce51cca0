"""自定义菜单 (bot/wechat/menu.py) against the simulator: a menu over WeChat's limits is refused
before anything is sent, naming the limit; three processes starting together push the menu
once, and it is what menu/get shows; a changed menu is pushed again. The simulator's limits and
errcodes are checked with wechatpy's own client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from bot.config import Config, WechatMenuButton
from bot.models import AuditEvent, JobSlot
from bot.wechat import menu
from tests.channels.test_wechat import APP_ID, SECRET, WechatEnv, make_env

SITE = "https://www.example.gov.cn"
MENU = [
    {
        "name": "政务公开",
        "sub_button": [
            {"name": "首页", "type": "view", "url": f"{SITE}/"},
            {"name": "通知公告", "type": "view", "url": f"{SITE}/columns/notice"},
        ],
    },
    {"name": "一网通查", "type": "view", "url": f"{SITE}/search"},
    {
        "name": "互动交流",
        "sub_button": [
            {"name": "我要留言", "type": "view", "url": f"{SITE}/feedback"},
            {"name": "留言查询", "type": "view", "url": f"{SITE}/feedback/query"},
        ],
    },
]


def with_menu(config: Config, buttons: list[dict[str, Any]]) -> Config:
    """The configuration with another [channels.wechat] menu (it is frozen)."""
    wechat = config.channels.wechat.model_copy(
        update={"menu": [WechatMenuButton.model_validate(b) for b in buttons]}
    )
    channels = config.channels.model_copy(update={"wechat": wechat})
    return config.model_copy(update={"channels": channels})


def changed(**fields: Any) -> list[dict[str, Any]]:
    """MENU with its second button changed."""
    return [MENU[0], {**MENU[1], **fields}, MENU[2]]


@pytest.fixture
async def env(backend_url: str) -> AsyncIterator[WechatEnv]:
    async for e in make_env(backend_url, menu=MENU):
        yield e


async def test_three_processes_starting_together_push_the_menu_once(env: WechatEnv) -> None:
    channels = [env.channel() for _ in range(3)]
    for ch in channels:
        await ch.start()
    try:
        assert await menu.live(channels[0].api) == {}  # 46003: no menu yet
        pushed = await asyncio.gather(
            *(menu.push_if_changed(env.config, ch.api, f"p{n}") for n, ch in enumerate(channels))
        )
        assert len([p for p in pushed if p]) == 1
        assert env.sim.ledger.calls["menu/create"] == 1
        live = await menu.live(channels[0].api)
        names = [b["name"] for b in live["menu"]["button"]]
        assert names == ["政务公开", "一网通查", "互动交流"]
        assert live["menu"]["button"][2]["sub_button"][1]["url"] == f"{SITE}/feedback/query"
        # A later start with the same menu sends nothing.
        assert await menu.push_if_changed(env.config, channels[1].api, "p9") is None
        assert env.sim.ledger.calls["menu/create"] == 1
        event = await AuditEvent.get(action="wechat.menu_push")
        assert event.actor == "system:menu"
        # A changed menu is pushed once more.
        renamed = with_menu(env.config, changed(name="检索"))
        assert await menu.push_if_changed(renamed, channels[2].api, "p1") is not None
        assert env.sim.ledger.calls["menu/create"] == 2
        assert env.sim.menu is not None and env.sim.menu[1]["name"] == "检索"
    finally:
        for ch in channels:
            await ch.close()


async def test_a_menu_with_four_buttons_is_refused_before_anything_is_sent(
    backend_url: str,
) -> None:
    four = [*MENU, {"name": "办事服务", "type": "view", "url": f"{SITE}/services"}]
    async for env in make_env(backend_url, menu=four):
        ch = env.channel()
        await ch.start()
        try:
            with pytest.raises(menu.MenuRefused, match="一级菜单最多 3 个，现有 4 个"):
                await menu.push_if_changed(env.config, ch.api, "p1")
        finally:
            await ch.close()
        assert env.sim.ledger.calls["menu/create"] == 0
        assert not await JobSlot.filter(job=menu.JOB).exists()


async def test_names_and_addresses_over_the_limits_are_named(env: WechatEnv) -> None:
    long_name = with_menu(env.config, changed(name="政务公开信息查询"))  # 24 bytes
    with pytest.raises(menu.MenuRefused, match="24 字节，微信要求 1 至 16 字节"):
        menu.check(long_name.channels.wechat.menu)
    long_url = with_menu(env.config, changed(url=SITE + "/" + "a" * 1024))
    with pytest.raises(menu.MenuRefused, match="网址须填写且不超过 1024 字节"):
        menu.check(long_url.channels.wechat.menu)
    six = [{**MENU[0], "sub_button": MENU[0]["sub_button"] * 3}, MENU[1]]
    with pytest.raises(menu.MenuRefused, match="二级菜单最多 5 个，现有 6 个"):
        menu.check(with_menu(env.config, six).channels.wechat.menu)


async def test_wechatpy_meets_the_simulators_menu_limits(env: WechatEnv) -> None:
    env.sim.tokens["wp-token"] = env.sim.now() + 7200
    client = WeChatClient(APP_ID, SECRET, access_token="wp-token")
    client.API_BASE_URL = env.config.channels.wechat.api_base_url + "/cgi-bin/"
    view = {"type": "view", "name": "首页", "url": f"{SITE}/"}

    def codes() -> dict[str, Any]:
        out: dict[str, Any] = {}
        out["none"] = client.menu.get()  # wechatpy answers None for 46003 (no menu)
        bad = {
            "four": {"button": [view] * 4},
            "name": {"button": [{**view, "name": "一二三四五六"}]},  # 18 bytes
            "url": {"button": [{**view, "url": "https://x/" + "a" * 1020}]},
            "subs": {"button": [{"name": "更多", "sub_button": [view] * 6}]},
            "sub_name": {"button": [{"name": "更多", "sub_button": [{**view, "name": "字" * 21}]}]},
            "sub_url": {"button": [{"name": "更多", "sub_button": [{**view, "url": "h" * 1025}]}]},
            "type": {"button": [{**view, "type": "teleport"}]},
        }
        for name, data in bad.items():
            with pytest.raises(WeChatClientException) as refused:
                client.menu.create(data)
            out[name] = refused.value.errcode
        client.menu.create({"button": [view, {"name": "更多", "sub_button": [view] * 5}]})
        out["live"] = client.menu.get()
        return out

    got = await asyncio.to_thread(codes)
    assert got["none"] is None
    assert [got[k] for k in ("four", "name", "url", "subs", "sub_name", "sub_url", "type")] == [
        40016,
        40018,
        40020,
        40023,
        40025,
        40027,
        40017,
    ]
    assert [b["name"] for b in got["live"]["menu"]["button"]] == ["首页", "更多"]
    assert env.sim.ledger.calls["menu/create"] == 8
