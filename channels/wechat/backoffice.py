"""What an operator does in WeChat's back office, through the API: 预览到手机
(message/mass/preview of a draft to one follower) and 留言管理 of an article copy (comment/open,
close, markelect, unmarkelect, delete, reply/delete), each addressed by (msg_data_id, index)
as docs/channels/wechat.md "Identifiers and index bases" says. Errors come back as the
channel's error classes with WeChat's errcode in a Chinese message (channels/wechat/errors.py)."""

from __future__ import annotations

from dataclasses import dataclass

from channels.wechat.api import WechatApi

# [S31][S34]: the 留言 actions that take a comment, by name; comment/open and close take none.
COMMENT_ACTIONS = {
    "elect": "comment/markelect",
    "unelect": "comment/unmarkelect",
    "delete": "comment/delete",
    "delete_reply": "comment/reply/delete",
}


@dataclass(frozen=True)
class PreviewTarget:
    """Who a preview goes to: a follower's openid, or their WeChat id (微信号)."""

    openid: str = ""
    wxname: str = ""


class Backoffice:
    def __init__(self, api: WechatApi) -> None:
        self.api = api

    async def preview(self, media_id: str, to: PreviewTarget) -> str:
        """message/mass/preview of the draft media_id [S49]; the answer's msg_id. It is no 群发:
        nothing is sent to the other followers and no sendall quota is spent."""
        body: dict[str, object] = {"mpnews": {"media_id": media_id}, "msgtype": "mpnews"}
        if to.wxname:
            body["towxname"] = to.wxname
        else:
            body["touser"] = to.openid
        answer = await self.api.call("message/mass/preview", body)
        return str(answer.get("msg_id", ""))

    async def set_comments(self, msg_data_id: int, index: int, open_: bool) -> None:
        """comment/open or comment/close on article `index` (0-based) of a copy [S31]."""
        path = "comment/open" if open_ else "comment/close"
        await self.api.call(path, {"msg_data_id": msg_data_id, "index": index})

    async def comment_action(
        self, action: str, msg_data_id: int, index: int, user_comment_id: int
    ) -> None:
        """One of COMMENT_ACTIONS on a follower's comment [S34][S35]."""
        body = {"msg_data_id": msg_data_id, "index": index, "user_comment_id": user_comment_id}
        await self.api.call(COMMENT_ACTIONS[action], body)
