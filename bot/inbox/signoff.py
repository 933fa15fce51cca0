"""审签: a reply to a comment of a category or channel that [inbox.signoff] names waits, after the
moderator's 发送答复, for a second moderator, who signs it off (it is queued for the reply
sender, bot/inbox/replies.py) or returns it with a reason (it is never sent). bot/inbox/qa.py
does the same for 选登 with the rule and the error here.

The two-person rule as for items (bot/items/lifecycle.py: TwoPersonRule): who wrote a reply or
asked to send it may not sign it off, whatever their roles. A decision is a compare-and-set on
the reply's status in the transaction of its audit event, so of two sign-offs at once one
queues the reply and the other is refused: the reply sender sends it once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from bot import audit
from bot.actors import Actor
from bot.errors import NotPermitted
from bot.inbox.ops import ALLOWED, IllegalCommentState, InboxError, InvalidInput
from bot.models import (
    REPLY_STATUS_LABELS,
    Comment,
    CommentReply,
    CommentStatus,
    ReplyStatus,
    Role,
)

REASON_MAX = 2000


class SelfSignoff(NotPermitted, InboxError):
    """The actor wrote or sent what they would sign off."""

    code = "two_person_rule"

    def __init__(self, what: str) -> None:
        super().__init__(
            f"两人审签规则：{what} 是您撰写或提交的，您不能审签，请由另一位留言管理员审签。"
        )


class ReplyNotFound(InboxError):
    status_code = 404

    def __init__(self, reply_id: int) -> None:
        super().__init__(f"答复 #{reply_id} 不存在。")


class NotAwaitingSignoff(InboxError):
    """Signed off or returned meanwhile (by someone else, or a second click)."""

    def __init__(self, reply_id: int, status: str) -> None:
        shown = REPLY_STATUS_LABELS.get(ReplyStatus(status), status) if status else "?"
        super().__init__(
            f"答复 #{reply_id} 当前状态为「{shown}」，不在待审签状态（可能已由他人审签或退回）。"
        )


def second_person(actor: Actor, what: str, *people: str) -> None:
    """Refuse (SelfSignoff) when the actor is one of the people who made what is signed off."""
    if actor.name in {p for p in people if p}:
        raise SelfSignoff(what)


def may_sign_off(actor: Actor, reply: CommentReply) -> bool:
    """Whether the actor may sign this reply off (the page offers the button only then)."""
    return actor.has(Role.MODERATOR) and actor.name not in {reply.author, reply.sent_by}


def reason_text(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise InvalidInput("退回须填写理由。", "reason")
    if len(text) > REASON_MAX:
        raise InvalidInput(f"退回理由过长（{len(text)} 字，最多 {REASON_MAX} 字）。", "reason")
    return text


async def _waiting(conn: BaseDBAsyncClient | None, reply_id: int) -> tuple[CommentReply, Comment]:
    reply = await CommentReply.filter(id=reply_id).using_db(conn).first()
    if reply is None:
        raise ReplyNotFound(reply_id)
    if reply.status != ReplyStatus.SIGNOFF.value:
        raise NotAwaitingSignoff(reply_id, reply.status)
    comment = await Comment.filter(id=reply.comment_id).using_db(conn).first()
    if comment is None:
        raise ReplyNotFound(reply_id)
    return reply, comment


async def _decide(
    conn: BaseDBAsyncClient, reply: CommentReply, to: ReplyStatus, **changes: object
) -> None:
    """Compare-and-set from 待审签: of two decisions at once, the second is refused."""
    count = (
        await CommentReply.filter(id=reply.id, status=ReplyStatus.SIGNOFF.value)
        .using_db(conn)
        .update(status=to.value, **changes)
    )
    if count != 1:
        fresh = await CommentReply.filter(id=reply.id).using_db(conn).first()
        raise NotAwaitingSignoff(reply.id, fresh.status if fresh else "")
    reply.status = to.value
    for key, value in changes.items():
        setattr(reply, key, value)


async def signoff_plan(reply_id: int, actor: Actor) -> tuple[CommentReply, Comment]:
    """The reply sign_off_reply would queue now and its comment, with its refusals, writing
    nothing (the console's confirmation page shows them)."""
    actor.require(Role.MODERATOR, doing="审签答复")
    reply, comment = await _waiting(None, reply_id)
    second_person(actor, f"答复 #{reply.id}", reply.author, reply.sent_by)
    if CommentStatus(comment.status) not in ALLOWED["reply"]:
        raise IllegalCommentState("reply", comment.status)
    return reply, comment


async def sign_off_reply(reply_id: int, actor: Actor) -> CommentReply:
    """A second moderator signs the reply off: it is queued for the reply sender now."""
    actor.require(Role.MODERATOR, doing="审签答复")
    now = datetime.now(UTC)
    async with in_transaction() as conn:
        reply, comment = await _waiting(conn, reply_id)
        second_person(actor, f"答复 #{reply.id}", reply.author, reply.sent_by)
        if CommentStatus(comment.status) not in ALLOWED["reply"]:
            raise IllegalCommentState("reply", comment.status)
        await _decide(
            conn,
            reply,
            ReplyStatus.QUEUED,
            next_attempt_at=now,
            signoff_by=actor.name,
            signoff_at=now,
        )
        await (
            Comment.filter(id=comment.id)
            .using_db(conn)
            .update(reply_status=ReplyStatus.QUEUED.value, updated_at=now)
        )
        await audit.record(
            conn,
            actor.name,
            "reply.signed_off",
            "comment",
            comment.id,
            {"reply_id": reply.id, "author": reply.author, "sent_by": reply.sent_by},
        )
    return reply


async def return_reply(reply_id: int, actor: Actor, reason: str) -> CommentReply:
    """The reply goes back with a reason and is never sent; a moderator writes a new one. Its
    author may take it back this way too."""
    actor.require(Role.MODERATOR, doing="审签答复")
    why = reason_text(reason)
    now = datetime.now(UTC)
    async with in_transaction() as conn:
        reply, comment = await _waiting(conn, reply_id)
        await _decide(
            conn,
            reply,
            ReplyStatus.RETURNED,
            signoff_by=actor.name,
            signoff_at=now,
            return_reason=why,
        )
        await (
            Comment.filter(id=comment.id)
            .using_db(conn)
            .update(reply_status=ReplyStatus.RETURNED.value, updated_at=now)
        )
        await audit.record(
            conn,
            actor.name,
            "reply.return",
            "comment",
            comment.id,
            {"reply_id": reply.id, "reason": why},
        )
    return reply
