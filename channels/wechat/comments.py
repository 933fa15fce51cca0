"""Article comments (留言) on WeChat: read with comment/list, answered with comment/reply/add.

An item can be on WeChat twice: the 发表 copy (freepublish/submit) and, when it was in the day's
群发, the 群发 copy (message/mass/sendall) that followers receive. WeChat keeps one comment list
per copy and article, addressed by (msg_data_id, index): msg_data_id is the number the send
returned, never a freepublish article_id, and index is 0-based (docs/channels/wechat.md
"Identifiers and index bases" and Q1: S31 S32 S33 S36 S37). The copies to read come from the
application (CommentTarget); a comment is answered on the copy it came from.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from channels.base import CommentPage, IncomingComment, PermanentError, opaque_author
from channels.wechat.api import WechatApi, WechatError
from channels.wechat.errors import COMMENT_ALREADY_REPLIED, UNKNOWN_ARTICLE, classify

log = logging.getLogger(__name__)
CLOSED = frozenset({88000, 88002})  # comments closed, or limited for safety: skipped quietly


def msg_data_id(value: Any) -> int | None:
    """A msg_data_id as WeChat returned it: sendall gives a JSON number [S38], freepublish/submit
    a string [S16]; both become the number comment/* take [S32]. None for anything else (absent,
    empty, or not a number, such as an article_id)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


@dataclass(frozen=True)
class CommentTarget:
    """One article of one copy whose comments are read."""

    msg_data_id: int
    index: int = 0  # the article's place in its copy, 0-based [S32]
    item_id: int | None = None
    article_id: str = ""  # the item's freepublish article_id (its publish delivery's remote_id)
    copy: str = "publish"  # publish (发表) | mass (群发)

    @property
    def key(self) -> str:
        return f"{self.msg_data_id}:{self.index}"


class ArticleComments:
    """Reads new comments of the given copies and answers them.

    The cursor holds, per copy ("msg_data_id:index"), {"read": n, "seen": [ids]}: how long the
    list of comment/list was when last read, and the user_comment_ids read so far (exactly the
    listed ones after a read of the whole list, so deleted ones drop out). A poll reads from
    one page (`page_size`) before `read` to the end: a comment its author deletes moves every
    later one up a place, so `read` alone could step over a new one. comment/list's order is not
    documented, so when the list is longer than that window the first page is read too (where a
    newest-first list puts new comments), and if the list still holds more unseen comments than
    were found, all of it. Ids in `seen` are not returned again, and a comment that does come
    back (its id lost with a cursor) is stored once all the same: its remote_id is
    (msg_data_id, index, user_comment_id), which the inbox keeps unique.
    """

    def __init__(self, api: WechatApi, channel: str, author_key: bytes, page_size: int) -> None:
        self.api = api
        self.channel = channel
        self.author_key = author_key
        self.size = max(1, min(page_size, 49))  # comment/list refuses count >= 50 [S32]

    async def poll(self, targets: list[CommentTarget], cursor: dict[str, Any]) -> CommentPage:
        found: list[IncomingComment] = []
        moved: dict[str, Any] = {}
        for target in dict.fromkeys(targets):
            state = cursor.get(target.key)
            state = state if isinstance(state, dict) else {}
            try:
                new, moved[target.key] = await self._poll_copy(target, state)
            except WechatError as exc:
                if exc.errcode == UNKNOWN_ARTICLE:
                    # WeChat does not know the id: the article was deleted, or the id is not one
                    # comment/* take (unconfirmed for a 发表's msg_data_id, Q1).
                    log.warning(
                        "wechat comment/list: 88001 for msg_data_id %s index %s (%s copy of "
                        "article %s): %s",
                        target.msg_data_id,
                        target.index,
                        target.copy,
                        target.article_id or "-",
                        exc.errmsg,
                    )
                elif exc.errcode in CLOSED:
                    log.info("wechat comments of %s closed: %s", target.key, exc)
                else:
                    raise classify(exc.errcode, exc.errmsg, "comment/list") from exc
                if state:
                    moved[target.key] = state
                continue
            found.extend(new)
        return CommentPage(found, moved)

    async def _poll_copy(
        self, target: CommentTarget, state: dict[str, Any]
    ) -> tuple[list[IncomingComment], dict[str, Any]]:
        read = int(state.get("read") or 0)
        known = {int(i) for i in state.get("seen") or []}
        seen_before = len(known)
        new: list[IncomingComment] = []
        start = max(0, read - self.size)
        listed, total = await self._read(target, start, known, new)
        if start > 0:
            await self._read(target, 0, known, new, pages=1)
            if total - seen_before > len(new):  # more unseen than found: read all of it
                start = 0
                listed, total = await self._read(target, 0, known, new)
        if start == 0:
            known = set(listed)
        return new, {"read": start + len(listed), "seen": sorted(known)}

    async def _read(
        self,
        target: CommentTarget,
        begin: int,
        known: set[int],
        new: list[IncomingComment],
        pages: int = 1 << 30,
    ) -> tuple[list[int], int]:
        """Read from `begin` (at most `pages` pages): comments whose id is not in `known` go to
        `new` and their ids into `known`. (The ids listed, in order; the list's total.)"""
        listed: list[int] = []
        total = 0
        for _ in range(pages):
            body = {
                "msg_data_id": target.msg_data_id,
                "index": target.index,
                "begin": begin,
                "count": self.size,
                "type": 0,  # 普通 and 精选
            }
            answer = await self.api.call("comment/list", body, raw=True)
            page = answer.get("comment") or []
            total = int(answer.get("total") or 0)
            for c in page:
                cid = int(c["user_comment_id"])
                if cid not in known:
                    known.add(cid)
                    new.append(self._comment(target, cid, c))
                listed.append(cid)
            begin += len(page)
            if len(page) < self.size:
                break
        return listed, total

    def _comment(self, target: CommentTarget, cid: int, c: dict[str, Any]) -> IncomingComment:
        return IncomingComment(
            channel=self.channel,
            remote_id=f"comment:{target.msg_data_id}:{target.index}:{cid}",
            text=str(c.get("content", "")),
            received_at=_created(c.get("create_time")),
            kind="article_comment",
            author_ref=opaque_author(self.author_key, self.channel, str(c.get("openid", ""))),
            item_id=target.item_id,
            remote_item_ref=target.article_id,
            reply_ref={
                "type": "article_comment",
                "msg_data_id": target.msg_data_id,
                "index": target.index,
                "user_comment_id": cid,
                "copy": target.copy,
            },
        )

    async def reply(self, reply_ref: dict[str, Any], text: str) -> str:
        """comment/reply/add on the copy and article the comment came from."""
        mdi = msg_data_id(reply_ref.get("msg_data_id"))
        if mdi is None:
            raise PermanentError(
                "该留言记录的不是微信的 msg_data_id（旧版本按文章编号记录），无法在线答复，"
                "请在公众平台答复。"
            )
        body = {
            "msg_data_id": mdi,
            "index": int(reply_ref.get("index", 0)),
            "user_comment_id": int(reply_ref["user_comment_id"]),
            "content": text,
        }
        ref = f"comment-reply:{mdi}:{body['index']}:{body['user_comment_id']}"
        try:
            await self.api.call("comment/reply/add", body, raw=True)
        except WechatError as exc:
            if exc.errcode == COMMENT_ALREADY_REPLIED:  # our earlier, unanswered attempt
                return ref
            if exc.errcode == UNKNOWN_ARTICLE:
                log.warning("wechat comment/reply/add: 88001 for msg_data_id %s", mdi)
            raise classify(exc.errcode, exc.errmsg, "comment/reply/add") from exc
        return ref


def _created(value: Any) -> datetime:
    """When a comment was written: comment/list's create_time (seconds, a JSON number [S32]);
    a value that is no such number (absent, text, out of range) is taken as now, so that one
    odd comment cannot stop the polling of the others."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10**11:
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 11:
        return datetime.fromtimestamp(int(value), UTC)
    return datetime.now(UTC)
