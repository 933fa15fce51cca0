"""The WeChat simulator's 留言 (comments): which 图文 copies exist under which msg_data_id, the
comments of each (msg_data_id, index), and the comment/* endpoints with WeChat's id rules.

A 群发 (message/mass/sendall) and a 发表 (freepublish/submit) of the same text are two copies
with two msg_data_ids and two comment lists. A freepublish article_id is no msg_data_id: the
comment endpoints answer 88001 for it, as for any id WeChat does not know
(docs/channels/wechat.md "Identifiers and index bases" and Q1: S31 S32 S33 S36 S37).
"""

from __future__ import annotations

from typing import Any

from channels.sandbox.wechat_state import error

MAX_REPLY_CHARS = 600  # unconfirmed: the pages give only 88007 "beyond max len" [S33][S35]


class CommentsClosed(ValueError):
    """A follower tried to comment on an article whose comments are closed."""


def copy_id(value: Any) -> int | None:
    """A msg_data_id as sent: the documented JSON number, or a string of digits (the
    freepublish/submit page types its msg_data_id as a string [S16]); anything else is no
    msg_data_id (e.g. an article_id)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


class CommentDesk:
    """The copies (msg_data_id: {kind, count, ref, deleted}) and their comments ("id:index":
    [comment]), both dicts of the simulator's ledger."""

    def __init__(
        self, copies: dict[int, dict[str, Any]], comments: dict[str, list[dict[str, Any]]]
    ) -> None:
        self.copies = copies
        self.comments = comments
        self.closed: set[str] = set()  # "msg_data_id:index" whose comments are closed

    # -- the simulator's side ------------------------------------------------------------
    def add_copy(self, msg_data_id: int, kind: str, count: int, ref: str) -> None:
        """A 图文 that went out: kind "mass" (ref: its msg_id) or "publish" (ref: article_id)."""
        self.copies[msg_data_id] = {"kind": kind, "count": count, "ref": ref, "deleted": False}

    def delete_copies(self, kind: str, ref: str, article: int = 0) -> None:
        """The copy of that kind and ref is deleted: article `article` (1-based, as
        freepublish/delete and message/mass/delete number them [S21][S27]) or, for 0, all of
        it; the comments of what was deleted answer 88001 from now on."""
        for copy in self.copies.values():
            if (copy["kind"], copy["ref"]) == (kind, ref):
                if article == 0:
                    copy["deleted"] = True
                else:
                    copy.setdefault("gone", set()).add(article - 1)

    def copy_of(self, kind: str, ref: str) -> int:
        """The msg_data_id of the copy of that kind and ref (a 发表's article_id, a 群发's
        msg_id); KeyError if there is none."""
        for msg_data_id, copy in self.copies.items():
            if (copy["kind"], copy["ref"]) == (kind, str(ref)):
                return msg_data_id
        raise KeyError(f"no {kind} copy for {ref!r}")

    def add(self, msg_data_id: int | str, openid: str, content: str, index: int, now: float) -> int:
        """A follower comments on article `index` (0-based) of the copy msg_data_id; the
        comment's user_comment_id. ValueError for an id that is no copy's (an article_id)."""
        comments = self._list(msg_data_id, index)
        if isinstance(comments, dict):
            raise ValueError(f"msg_data_id {msg_data_id!r} index {index}: {comments['errmsg']}")
        if f"{copy_id(msg_data_id)}:{index}" in self.closed:
            # [S31][S34]: comment/close turns the article's 留言 off; followers can no longer
            # write (88000 "without comment privilege" where the API is asked).
            raise CommentsClosed(f"msg_data_id {msg_data_id!r} index {index}: comments closed")
        cid = max((c["user_comment_id"] for c in comments), default=0) + 1
        comments.append(
            {
                "user_comment_id": cid,
                "openid": openid,
                "create_time": int(now),
                "content": content,
                "comment_type": 0,
            }
        )
        return cid

    def remove(self, msg_data_id: int | str, user_comment_id: int, index: int = 0) -> None:
        """The follower deletes their comment: it leaves the list (later ones move up)."""
        comments = self._list(msg_data_id, index)
        if isinstance(comments, dict):
            raise ValueError(f"msg_data_id {msg_data_id!r}: {comments['errmsg']}")
        comments[:] = [c for c in comments if c["user_comment_id"] != user_comment_id]

    # -- the endpoints -----------------------------------------------------------------------
    def answer(self, endpoint: str, body: dict[str, Any], now: float) -> dict[str, Any] | None:
        """The answer of comment/<...> to `body`; None for an endpoint WeChat does not have."""
        if endpoint == "comment/list":
            return self._page(body)
        if endpoint not in _ACTIONS:
            return None
        key = self._key(body)
        if key is None:
            return error(88001, "msg_data is not exists")
        if endpoint in ("comment/open", "comment/close"):
            # [S31]: needs 留言 permission; an article that is gone answers 88001 above.
            if endpoint == "comment/open":
                self.closed.discard(key)
            else:
                self.closed.add(key)
            return {"errcode": 0, "errmsg": "ok"}
        comments = self.comments.setdefault(key, [])
        wanted = copy_id(body.get("user_comment_id"))
        found = [c for c in comments if c["user_comment_id"] == wanted]
        if not found:
            return error(88008, "comment is not exists")
        comment = found[0]
        if endpoint == "comment/reply/add":
            return self._reply(comment, str(body.get("content", "")), now)
        if endpoint == "comment/reply/delete":
            if comment.pop("reply", None) is None:
                return error(88009, "reply is not exists")  # [S35]
        elif endpoint in ("comment/markelect", "comment/unmarkelect"):
            comment["comment_type"] = int(endpoint == "comment/markelect")
        elif endpoint == "comment/delete":
            comments.remove(comment)
        return {"errcode": 0, "errmsg": "ok"}

    def _page(self, body: dict[str, Any]) -> dict[str, Any]:
        # comment/list [S32]: count < 50 (">=50会被拒绝"), 88010 otherwise [S35].
        begin, count = int(body.get("begin", 0)), int(body.get("count", 0))
        if count <= 0 or count >= 50:
            return error(88010, "count range error. cout <= 0 or count > 50")
        key = self._key(body)
        if key is None:
            return error(88001, "msg_data is not exists")
        if key in self.closed:
            return error(88000, "without comment privilege")
        kind = int(body.get("type", 0))  # 0 普通+精选, 1 普通, 2 精选
        chosen = [
            c for c in self.comments.get(key, []) if kind == 0 or c["comment_type"] + 1 == kind
        ]
        return {
            "errcode": 0,
            "errmsg": "ok",
            "total": len(chosen),
            "comment": chosen[begin : begin + count],
        }

    @staticmethod
    def _reply(comment: dict[str, Any], content: str, now: float) -> dict[str, Any]:
        # comment/reply/add [S33][S35]: 88007 empty or too long, 88005 already replied.
        if not content or len(content) > MAX_REPLY_CHARS:
            return error(88007, "reply content beyond max len or content len is zero")
        if "reply" in comment:
            return error(88005, "already reply")
        comment["reply"] = {"content": content, "create_time": int(now)}
        return {"errcode": 0, "errmsg": ""}

    def _key(self, body: dict[str, Any]) -> str | None:
        """ "msg_data_id:index" of a copy WeChat has, or None (→ 88001).

        docs/channels/wechat.md "Identifiers and index bases": msg_data_id is the number a
        群发 (or a 发表) returned, never an article_id [S36]; index is 0-based and absent means
        the first article [S31][S32]. An index past the copy's last article answers 88001 too
        (unconfirmed: no page says which code it gets)."""
        msg_data_id = copy_id(body.get("msg_data_id"))
        copy = self.copies.get(msg_data_id) if msg_data_id is not None else None
        if copy is None or copy["deleted"]:
            return None
        index = body.get("index", 0)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < copy["count"]:
            return None
        if index in copy.get("gone", ()):
            return None  # that one article was deleted
        return f"{msg_data_id}:{index}"

    def _list(self, msg_data_id: int | str, index: int) -> list[dict[str, Any]] | dict[str, Any]:
        key = self._key({"msg_data_id": msg_data_id, "index": index})
        if key is None:
            return error(88001, "msg_data is not exists")
        return self.comments.setdefault(key, [])


_ACTIONS = frozenset(
    {
        "comment/open",
        "comment/close",
        "comment/reply/add",
        "comment/reply/delete",
        "comment/markelect",
        "comment/unmarkelect",
        "comment/delete",
    }
)
