"""自定义菜单: the account's menu as `[channels.wechat] menu` defines it, checked against WeChat's
limits before anything is sent (3 buttons, 5 sub_buttons, names of 16 and 60 bytes, keys of 128,
URLs of 1024: docs/channels/wechat.md [S52]) and pushed with menu/create — by a command, and at
start-up when it changed, once for the whole deployment: the first process to insert the JobSlot
row ("wechat.menu", the menu's digest) pushes it, the others see the row and do nothing."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot import audit
from bot.config import Config, WechatMenuButton
from bot.errors import Refusal
from bot.models import JobSlot
from channels.base import ChannelError
from channels.wechat.api import WechatApi

log = logging.getLogger(__name__)
JOB = "wechat.menu"
ACTOR = "system:menu"
MAX_BUTTONS, MAX_SUB_BUTTONS = 3, 5
NAME_BYTES, SUB_NAME_BYTES, KEY_BYTES, URL_BYTES = 16, 60, 128, 1024
KEY_TYPES = frozenset({"click", "scancode_push", "scancode_waitmsg", "location_select"})
URL_TYPES = frozenset({"view"})
WHERE = "配置 channels.wechat.menu"


class MenuRefused(Refusal):
    """The configured menu breaks one of WeChat's limits: the message names it."""

    status_code = 422
    code = "wechat_menu_refused"


def _size(text: str) -> int:
    return len(text.encode())


def _check_button(b: WechatMenuButton, where: str, name_max: int) -> None:
    if not b.name or _size(b.name) > name_max:
        raise MenuRefused(
            f"{WHERE}：{where}「{b.name}」的名称为 {_size(b.name)} 字节，微信要求 1 至 "
            f"{name_max} 字节（约 {name_max // 3} 个汉字）。"
        )
    if b.type in URL_TYPES:
        if not b.url or _size(b.url) > URL_BYTES:
            raise MenuRefused(
                f"{WHERE}：{where}「{b.name}」的网址须填写且不超过 {URL_BYTES} 字节。"
            )
    elif b.type in KEY_TYPES:
        if not b.key or _size(b.key) > KEY_BYTES:
            raise MenuRefused(
                f"{WHERE}：{where}「{b.name}」的 key 须填写且不超过 {KEY_BYTES} 字节。"
            )
    else:
        kinds = "、".join(sorted(URL_TYPES | KEY_TYPES))
        raise MenuRefused(f"{WHERE}：{where}「{b.name}」的类型「{b.type}」不支持，可用：{kinds}。")


def check(menu: list[WechatMenuButton]) -> None:
    """MenuRefused naming the first limit the menu breaks."""
    if not menu:
        raise MenuRefused(f"{WHERE} 为空，没有可推送的自定义菜单。")
    if len(menu) > MAX_BUTTONS:
        raise MenuRefused(
            f"{WHERE}：一级菜单最多 {MAX_BUTTONS} 个，现有 {len(menu)} 个"
            f"（{'、'.join(b.name for b in menu)}）。"
        )
    for n, button in enumerate(menu, 1):
        if not button.sub_button:
            _check_button(button, f"第 {n} 个一级菜单", NAME_BYTES)
            continue
        if len(button.sub_button) > MAX_SUB_BUTTONS:
            raise MenuRefused(
                f"{WHERE}：一级菜单「{button.name}」下的二级菜单最多 {MAX_SUB_BUTTONS} 个，"
                f"现有 {len(button.sub_button)} 个。"
            )
        if not button.name or _size(button.name) > NAME_BYTES:
            raise MenuRefused(
                f"{WHERE}：第 {n} 个一级菜单「{button.name}」的名称为 {_size(button.name)} "
                f"字节，微信要求 1 至 {NAME_BYTES} 字节（约 {NAME_BYTES // 3} 个汉字）。"
            )
        for m, sub in enumerate(button.sub_button, 1):
            _check_button(sub, f"「{button.name}」的第 {m} 个二级菜单", SUB_NAME_BYTES)


def body(menu: list[WechatMenuButton]) -> dict[str, Any]:
    """menu/create's request body [S52]."""

    def one(b: WechatMenuButton) -> dict[str, Any]:
        if b.sub_button:
            return {"name": b.name, "sub_button": [one(s) for s in b.sub_button]}
        out: dict[str, Any] = {"type": b.type, "name": b.name}
        out["url" if b.type in URL_TYPES else "key"] = b.url if b.type in URL_TYPES else b.key
        return out

    return {"button": [one(b) for b in menu]}


def digest(menu: list[WechatMenuButton]) -> str:
    text = json.dumps(body(menu), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


async def push(config: Config, api: WechatApi, actor: str = ACTOR) -> str:
    """Check the configured menu and send it with menu/create; its digest. Audited."""
    menu = config.channels.wechat.menu
    check(menu)
    try:
        await api.call("menu/create", body(menu))
    except ChannelError as exc:
        raise MenuRefused(f"微信未接受自定义菜单：{exc}") from exc
    sha = digest(menu)
    async with in_transaction() as conn:
        details = {"digest": sha, "buttons": [b.name for b in menu]}
        await audit.record(conn, actor, "wechat.menu_push", "wechat_menu", sha, details)
    return sha


async def push_if_changed(config: Config, api: WechatApi, owner: str) -> str | None:
    """At start-up: push the configured menu unless this very menu was pushed already (by any
    process); the digest when this process pushed it, else None. A failed push leaves no row,
    so the next start tries again."""
    menu = config.channels.wechat.menu
    if not config.channels.wechat.enabled or not menu:
        return None
    check(menu)  # a bad menu is refused before any row is taken or anything sent
    sha = digest(menu)
    if await JobSlot.filter(job=JOB, slot=sha).exists():
        return None

    try:  # the unique (job, slot) row is the lease: one process of the deployment wins it
        row = await JobSlot.create(job=JOB, slot=sha, owner=owner, started_at=datetime.now(UTC))
    except IntegrityError:
        return None
    try:
        await push(config, api)
    except BaseException:
        await JobSlot.filter(id=row.id).delete()
        raise
    await JobSlot.filter(id=row.id).update(finished_at=datetime.now(UTC), result={"digest": sha})
    return sha


async def live(api: WechatApi) -> dict[str, Any]:
    """menu/get (GET [S52]): the menu WeChat shows now; {} when there is none (46003)."""
    try:
        return await api.call("menu/get", method="GET")
    except ChannelError as exc:
        if "46003" in str(exc):
            return {}
        raise
