"""留言管理 on WeChat's side: comments opened or closed on an item's articles (every copy of it:
the 发表 and the 群发, docs/channels/wechat.md Q1), a follower's comment marked 精选 when it is
选登 (and unmarked when withdrawn), a comment or our reply deleted from the inbox with a reason.
Each call that WeChat accepted is audited; a refusal comes back as a Refusal in Chinese."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.transactions import in_transaction

from bot import audit
from bot.actors import Actor
from bot.config import Config
from bot.errors import Refusal
from bot.models import Comment, Item, Role
from bot.outbox.channel_set import build_wechat
from bot.outbox.channel_state import WechatCommentTargets
from channels.base import ChannelError
from channels.wechat.backoffice import Backoffice
from channels.wechat.channel import WechatChannel
from channels.wechat.comments import CommentTarget, msg_data_id

CHANNEL = "wechat"
ALL_COPIES_DAYS = 3650  # an article's comments can be closed however old it is
REASON_MAX = 2000
ACTION_AUDIT = {
    "elect": "wechat.comment_elect",
    "unelect": "wechat.comment_unelect",
    "delete": "wechat.comment_delete",
    "delete_reply": "wechat.reply_delete",
}
ACTION_LABELS = {
    "elect": "设为精选",
    "unelect": "取消精选",
    "delete": "删除留言",
    "delete_reply": "删除回复",
}
NEEDS_REASON = frozenset({"delete", "delete_reply"})


class WechatCommentRefused(Refusal):
    """The 留言管理 action cannot be done: the message says why."""

    code = "wechat_comment_refused"


@dataclass(frozen=True)
class ArticleRef:
    """A follower's comment on WeChat: the copy, the article's 0-based place, its id there."""

    msg_data_id: int
    index: int
    user_comment_id: int


def article_ref(comment: Comment) -> ArticleRef | None:
    """Where a comment lives on WeChat, or None if it is no WeChat article comment."""
    ref = comment.reply_ref or {}
    if comment.channel != CHANNEL or ref.get("type") != "article_comment":
        return None
    mdi = msg_data_id(ref.get("msg_data_id"))
    cid = ref.get("user_comment_id")
    if mdi is None or not isinstance(cid, int):
        return None
    return ArticleRef(mdi, int(ref.get("index") or 0), cid)


async def item_copies(item_id: int) -> list[CommentTarget]:
    """The item's articles on WeChat (发表 and 群发 copies) that have a msg_data_id."""
    every = await WechatCommentTargets(CHANNEL, ALL_COPIES_DAYS)()
    return [t for t in every if t.item_id == item_id]


async def _with_channel(config: Config, channel: WechatChannel | None) -> WechatChannel:
    if not config.channels.wechat.enabled:
        raise WechatCommentRefused("微信渠道未启用（channels.wechat.enabled），无法管理微信留言。")
    if channel is not None:
        return channel
    made = build_wechat(config)
    await made.start()
    return made


async def set_item_comments(
    config: Config,
    item_id: int,
    actor: Actor,
    open_: bool,
    channel: WechatChannel | None = None,
) -> list[CommentTarget]:
    """comment/open or comment/close on every WeChat copy of the item; the copies done."""
    actor.require(Role.MODERATOR, Role.REVIEWER, doing="打开或关闭微信留言")
    item = await Item.get_or_none(id=item_id)
    if item is None:
        raise WechatCommentRefused(f"稿件 {item_id} 不存在。")
    copies = await item_copies(item_id)
    if not copies:
        raise WechatCommentRefused(
            f"《{item.title}》还没有在微信发表或群发（或已撤稿），没有可以打开或关闭留言的文章。"
        )
    ch = await _with_channel(config, channel)
    done: list[CommentTarget] = []
    try:
        for target in copies:
            await Backoffice(ch.api).set_comments(target.msg_data_id, target.index, open_)
            done.append(target)
    except ChannelError as exc:
        verb = "打开" if open_ else "关闭"
        raise WechatCommentRefused(f"微信未能{verb}《{item.title}》的留言：{exc}") from exc
    finally:
        if channel is None:
            await ch.close()
        if done:
            details = {"copies": [f"{t.copy}:{t.msg_data_id}:{t.index}" for t in done]}
            async with in_transaction() as conn:
                await audit.record(
                    conn,
                    actor.name,
                    "wechat.comments_open" if open_ else "wechat.comments_close",
                    "item",
                    item_id,
                    details,
                )
    return done


async def comment_action(
    config: Config,
    comment_id: int,
    actor: Actor,
    action: str,
    reason: str = "",
    channel: WechatChannel | None = None,
) -> Comment:
    """精选, 取消精选, delete a follower's comment or our reply to it on WeChat."""
    actor.require(Role.MODERATOR, doing="管理微信留言")
    if action not in ACTION_AUDIT:
        raise WechatCommentRefused(f"不认识的微信留言操作「{action}」。")
    label = ACTION_LABELS[action]
    reason = reason.strip()
    if action in NEEDS_REASON and not reason:
        raise WechatCommentRefused(f"{label}需要填写理由。")
    if len(reason) > REASON_MAX:
        raise WechatCommentRefused(f"理由不能超过 {REASON_MAX} 个字。")
    comment = await Comment.get_or_none(id=comment_id)
    if comment is None:
        raise WechatCommentRefused(f"留言 #{comment_id} 不存在。")
    ref = article_ref(comment)
    if ref is None:
        raise WechatCommentRefused(f"留言 #{comment_id} 不是微信文章下的留言，不能在微信{label}。")
    ch = await _with_channel(config, channel)
    try:
        await Backoffice(ch.api).comment_action(
            action, ref.msg_data_id, ref.index, ref.user_comment_id
        )
    except ChannelError as exc:
        raise WechatCommentRefused(f"微信未能{label}（留言 #{comment_id}）：{exc}") from exc
    finally:
        if channel is None:
            await ch.close()
    details: dict[str, object] = {"msg_data_id": ref.msg_data_id, "index": ref.index}
    if reason:
        details["reason"] = reason
    async with in_transaction() as conn:
        await audit.record(
            conn,
            actor.name,
            # Spelled out (not ACTION_AUDIT[action]) so the audit-action scan can read it.
            "wechat.comment_elect"
            if action == "elect"
            else "wechat.comment_unelect"
            if action == "unelect"
            else "wechat.comment_delete"
            if action == "delete"
            else "wechat.reply_delete",
            "comment",
            comment_id,
            details,
        )
    return comment


async def follow_qa(config: Config, comment_id: int, actor: Actor, selected: bool) -> str:
    """选登 made public (selected) or withdrawn: the WeChat comment is marked 精选 or unmarked.
    "" when done or not a WeChat article comment; otherwise what went wrong, for the moderator
    (the 选登 itself stands)."""
    comment = await Comment.get_or_none(id=comment_id)
    if comment is None or article_ref(comment) is None or not config.channels.wechat.enabled:
        return ""
    try:
        await comment_action(config, comment_id, actor, "elect" if selected else "unelect")
    except Refusal as exc:
        return str(exc)
    return ""
