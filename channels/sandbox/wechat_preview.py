"""The WeChat simulator's 预览 (message/mass/preview): a draft shown to one follower before the
群发, by openid or WeChat id, kept in the ledger's preview list; it never counts as a 群发 (no
mass_sends entry, no sendall quota spent)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from channels.sandbox.wechat_state import Ledger, error

# docs/channels/wechat.md "Sources" [S49] (预览消息 api_preview, 请求体): msgtype is one of these.
PREVIEW_TYPES = frozenset({"mpnews", "text", "voice", "music", "image", "mpvideo", "wxcard"})


def preview(
    ledger: Ledger,
    body: dict[str, Any],
    followers: dict[str, str],
    quota: Callable[[], bool],
    msg_id: int,
    day: str,
) -> dict[str, Any]:
    """message/mass/preview of an mpnews draft to `touser` (an openid of a follower) or
    `towxname` (a follower's WeChat id); `followers` maps openid to WeChat id."""
    # [S49] 请求体: msgtype is required; an mpnews preview names a draft's media_id ("其中
    # media_id与根据分组群发中的media_id相同"): an unknown one is 40007 (global table [S40]).
    kind = body.get("msgtype")
    if kind not in PREVIEW_TYPES:
        return error(40008, "invalid message type")  # [S40] 不合法的消息类型
    if kind != "mpnews":
        return error(40008, "invalid message type")  # the simulator holds only 图文 drafts
    media_id = (body.get("mpnews") or {}).get("media_id")
    draft = ledger.drafts.get(media_id) if isinstance(media_id, str) else None
    if draft is None:
        return error(40007, "invalid media_id")
    wxname, openid = body.get("towxname"), body.get("touser")
    # [S49]: touser and towxname, "二选一"; the old page: "towxname和touser同时赋值时，以
    # towxname优先", and previews to a WeChat id are limited to 100 a day ("每日调用次数有限制
    # (100次)"; the errcode past it is unconfirmed: 45009, the global table's daily limit).
    if isinstance(wxname, str) and wxname:
        matches = [o for o, name in followers.items() if name == wxname]
        if not matches:
            return error(40132, "invalid username")  # [S40] 微信号不合法 (unconfirmed here)
        if not quota():
            return error(45009, "reach max api daily quota limit")
        openid = matches[0]
    elif not isinstance(openid, str) or not openid:
        return error(40003, "invalid openid")  # [S40] 不合法的 OpenID
    elif openid not in followers:
        # [S40] 43004 需要接收者关注: a preview goes only to a follower of the account.
        return error(43004, "require subscribe")
    ledger.previews.append(
        {
            "touser": openid,
            "towxname": wxname or "",
            "media_id": media_id,
            "titles": [a["title"] for a in draft["articles"]],
            "msg_id": msg_id,
            "day": day,
        }
    )
    # [S49] 返回参数: errcode, errmsg and msg_id (a number).
    return {"errcode": 0, "errmsg": "preview success", "msg_id": msg_id}
