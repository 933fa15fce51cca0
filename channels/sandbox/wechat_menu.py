"""The WeChat simulator's 自定义菜单: menu/create checks a menu with WeChat's documented limits
and errcodes and keeps it; menu/get (GET) gives it back, 46003 when there is none."""

from __future__ import annotations

from typing import Any

from channels.sandbox.wechat_state import error

# docs/channels/wechat.md [S52] (自定义菜单 创建接口): 1 to 3 buttons, each with 0 (a button
# of its own) or 1 to 5 sub_buttons; name at most 16 bytes (sub: 60), key 128 bytes, url 1024
# bytes (UTF-8).
MAX_BUTTONS, MAX_SUB_BUTTONS = 3, 5
NAME_BYTES, SUB_NAME_BYTES, KEY_BYTES, URL_BYTES = 16, 60, 128, 1024
# [S52] the button types; click and the scan/photo/location ones need a key, view and
# miniprogram a url, media_id/article_id types their id.
KEY_TYPES = frozenset(
    {
        "click",
        "scancode_push",
        "scancode_waitmsg",
        "pic_sysphoto",
        "pic_photo_or_album",
        "pic_weixin",
        "location_select",
    }
)
URL_TYPES = frozenset({"view", "miniprogram"})
ID_TYPES = frozenset({"media_id", "view_limited", "article_id", "article_view_limited"})
# [S40] (全局返回码): the codes of a top-level button, and of a sub_button.
TOP = {"count": 40016, "type": 40017, "name": 40018, "key": 40019, "url": 40020}
SUB = {"count": 40023, "type": 40024, "name": 40025, "key": 40026, "url": 40027}


def _bytes(value: Any) -> int:
    return len(value.encode()) if isinstance(value, str) else -1


def _check(button: Any, codes: dict[str, int], name_max: int) -> dict[str, Any] | None:
    if not isinstance(button, dict):
        return error(codes["type"], "invalid button type")
    if not 0 < _bytes(button.get("name")) <= name_max:
        return error(codes["name"], "invalid button name size")
    kind = button.get("type")
    if kind in KEY_TYPES:
        if not 0 < _bytes(button.get("key")) <= KEY_BYTES:
            return error(codes["key"], "invalid button key size")
    elif kind in URL_TYPES:
        if not 0 < _bytes(button.get("url")) <= URL_BYTES:
            return error(codes["url"], "invalid button url size")
    elif kind not in ID_TYPES:
        return error(codes["type"], "invalid button type")
    return None


def create(body: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    """menu/create's answer, and the menu to keep (None when refused)."""
    buttons = body.get("button")
    if not isinstance(buttons, list) or not 0 < len(buttons) <= MAX_BUTTONS:
        return error(TOP["count"], "invalid button size"), None
    for button in buttons:
        subs = button.get("sub_button") if isinstance(button, dict) else None
        if subs:  # a button that opens sub_buttons has only a name
            if not isinstance(subs, list) or len(subs) > MAX_SUB_BUTTONS:
                return error(SUB["count"], "invalid sub button size"), None
            if not 0 < _bytes(button.get("name")) <= NAME_BYTES:
                return error(TOP["name"], "invalid button name size"), None
            for sub in subs:
                refused = _check(sub, SUB, SUB_NAME_BYTES)
                if refused is not None:
                    return refused, None
            continue
        refused = _check(button, TOP, NAME_BYTES)
        if refused is not None:
            return refused, None
    return {"errcode": 0, "errmsg": "ok"}, buttons


def get(menu: list[dict[str, Any]] | None) -> dict[str, Any]:
    """menu/get [S52]: {"menu": {"button": [...]}}; 46003 "menu no exist" without one [S40]."""
    if menu is None:
        return error(46003, "menu no exist")
    shown = [{**b, "sub_button": b.get("sub_button") or []} for b in menu]
    return {"menu": {"button": shown}}
