"""What moderators do with comments: list and filter them, assign, note, draft and queue
replies, close, reopen, mark spam or not, escalate, set or correct the category (a label the
category model learns from), and the same on many at once.

Each action is one transaction that changes the comment with a compare-and-set on its status
(two moderators acting at once cannot both succeed) and appends its audit event. A reply is
only queued here (or, under [inbox.signoff], left waiting for a second moderator:
bot/inbox/signoff.py); bot/inbox/replies.py sends it and stops the SLA clock when it is
actually sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from bot import audit, db
from bot.actors import Actor
from bot.config import Config, SignoffConfig
from bot.errors import Refusal
from bot.inbox import learning
from bot.models import (
    COMMENT_STATUS_LABELS,
    FOLLOW_UP_AUTHOR,
    AuditEvent,
    Comment,
    CommentNote,
    CommentReply,
    CommentStatus,
    ReplyStatus,
    Role,
    User,
)
from moderation.deadlines import PETITION, WorkCalendar, deadline_days
from moderation.triage import CATEGORIES, QUESTION, UNSURE

C = CommentStatus
STATUSES = frozenset(s.value for s in CommentStatus)
ACTION_LABELS = {
    "assign": "分派",
    "note": "添加备注",
    "draft": "起草答复",
    "reply": "答复",
    "close": "办结",
    "reopen": "重新打开",
    "spam": "标记为垃圾信息",
    "not_spam": "取消垃圾信息标记",
    "escalate": "督办升级",
    "categorize": "修改分类",
}
# action -> comment states that allow it
ALLOWED: dict[str, frozenset[CommentStatus]] = {
    "assign": frozenset({C.OPEN, C.REPLIED, C.PETITION}),
    "note": frozenset(C),
    "draft": frozenset({C.OPEN, C.REPLIED, C.PETITION}),
    "reply": frozenset({C.OPEN, C.REPLIED, C.PETITION}),
    "close": frozenset({C.OPEN, C.REPLIED, C.PETITION}),
    "reopen": frozenset({C.REPLIED, C.CLOSED}),
    "spam": frozenset({C.OPEN, C.REPLIED, C.CLOSED, C.PETITION}),
    "not_spam": frozenset({C.SPAM}),
    "escalate": frozenset({C.OPEN, C.PETITION}),
    "categorize": frozenset(C),
}
MAX_ESCALATION = 3
TEXT_MAX = 5000


class InboxError(Refusal):
    """Base of the errors an inbox action raises; str() is a message for staff (Chinese)."""


class CommentNotFound(InboxError):
    status_code = 404

    def __init__(self, comment_id: int) -> None:
        super().__init__(f"留言 #{comment_id} 不存在。")


class IllegalCommentState(InboxError):
    def __init__(self, action: str, status: str) -> None:
        label = ACTION_LABELS[action]
        states = "、".join(f"「{COMMENT_STATUS_LABELS[s]}」" for s in sorted(ALLOWED[action]))
        shown = COMMENT_STATUS_LABELS[CommentStatus(status)] if status in STATUSES else status
        super().__init__(
            f"无法{label}：留言当前状态为「{shown}」，只有状态为 {states} 的留言可以{label}。"
        )
        self.action, self.status = action, status


class InvalidInput(InboxError):
    status_code = 422

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class ReplyInProgress(InboxError):
    def __init__(self, comment_id: int, awaiting_signoff: bool = False) -> None:
        super().__init__(
            f"留言 #{comment_id} 已有一条答复在等待审签，请等待审签结果（或将其退回）。"
            if awaiting_signoff
            else f"留言 #{comment_id} 已有一条答复在发送队列中，请等待其发送结果。"
        )


# -- listing -------------------------------------------------------------------------------
@dataclass(frozen=True)
class InboxFilter:
    """What the list shows. due_soon and overdue imply status open."""

    status: str | None = None
    channel: str | None = None
    office: str | None = None
    category: str | None = None
    assignee: str | None = None  # a username, or "-" for unassigned
    due_soon: bool = False
    overdue: bool = False


@dataclass
class InboxPage:
    comments: list[Comment]
    total: int
    page: int
    per_page: int


async def list_comments(
    f: InboxFilter,
    config: Config,
    page: int = 1,
    per_page: int = 50,
    now: datetime | None = None,
) -> InboxPage:
    """One page of comments: the most urgent first when the list is about open comments
    (uses the (status, due_at) index), else the newest first (the primary key)."""
    if page < 1 or not 1 <= per_page <= 500:
        raise InvalidInput("页码须从 1 开始，每页 1 至 500 条。", "page")
    now = now or datetime.now(UTC)
    query = Comment.all()
    if f.status:
        if f.status not in STATUSES:
            raise InvalidInput(f"状态「{f.status}」无效，可选：{'、'.join(C)}。", "status")
        query = query.filter(status=f.status)
    if f.channel:
        query = query.filter(channel=f.channel)
    if f.office:
        query = query.filter(office=f.office)
    if f.category:
        query = query.filter(category=f.category)
    if f.assignee == "-":
        query = query.filter(assignee_id=None)
    elif f.assignee:
        user = await User.filter(username=f.assignee).first()
        if user is None:
            raise InvalidInput(f"用户不存在：{f.assignee}", "assignee")
        query = query.filter(assignee_id=user.id)
    if f.due_soon or f.overdue:
        query = query.filter(status=C.OPEN.value)
        window = Q()
        if f.overdue:
            window |= Q(due_at__lt=now)
        if f.due_soon:
            soon = now + timedelta(hours=config.inbox.due_soon_hours)
            window |= Q(due_at__gte=now, due_at__lt=soon)
        query = query.filter(window)
    urgent = f.due_soon or f.overdue or f.status == C.OPEN.value
    order = ("due_at", "id") if urgent else ("-id",)
    total = await query.count()
    rows = await query.order_by(*order).offset((page - 1) * per_page).limit(per_page)
    return InboxPage(rows, total, page, per_page)


@dataclass
class CommentDetail:
    comment: Comment
    replies: list[CommentReply]
    notes: list[CommentNote]
    history: list[AuditEvent] = field(default_factory=list)
    assignee: str = ""


async def get_comment(comment_id: int) -> CommentDetail:
    """The comment with its replies, notes and history as of one moment: the reply sender
    commits a reply's 已送达 and the comment's 已答复 together, and the page shows both or
    neither."""
    async with db.snapshot() as conn:
        comment = await Comment.filter(id=comment_id).using_db(conn).first()
        if comment is None:
            raise CommentNotFound(comment_id)
        assignee = ""
        if comment.assignee_id is not None:
            user = await User.filter(id=comment.assignee_id).using_db(conn).first()
            assignee = user.username if user else ""
        history = AuditEvent.filter(target_type="comment", target_id=str(comment_id))
        return CommentDetail(
            comment,
            await CommentReply.filter(comment_id=comment_id).using_db(conn).order_by("id"),
            await CommentNote.filter(comment_id=comment_id).using_db(conn).order_by("id"),
            await history.using_db(conn).order_by("id"),
            assignee,
        )


# -- actions -------------------------------------------------------------------------------
async def _load(conn: BaseDBAsyncClient | None, comment_id: int, action: str) -> Comment:
    comment = await Comment.filter(id=comment_id).using_db(conn).first()
    if comment is None:
        raise CommentNotFound(comment_id)
    if CommentStatus(comment.status) not in ALLOWED[action]:
        raise IllegalCommentState(action, comment.status)
    return comment


async def _cas(conn: BaseDBAsyncClient, comment: Comment, action: str, **changes: Any) -> None:
    """Write changes only if the status is still the one we read."""
    changes["updated_at"] = datetime.now(UTC)
    count = (
        await Comment.filter(id=comment.id, status=comment.status).using_db(conn).update(**changes)
    )
    if count != 1:
        fresh = await Comment.filter(id=comment.id).using_db(conn).first()
        raise IllegalCommentState(action, fresh.status if fresh else "?")
    for key, value in changes.items():
        setattr(comment, key, value)


def _text(value: str | None, field_name: str, label: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInput(f"{label}不能为空。", field_name)
    if len(text) > TEXT_MAX:
        raise InvalidInput(f"{label}过长（{len(text)} 字，最多 {TEXT_MAX} 字）。", field_name)
    return text


async def assign(
    comment_id: int, actor: Actor, *, assignee: str | None, office: str | None = None
) -> Comment:
    """Give a comment to a staff member (None: nobody) and optionally to another office."""
    actor.require(Role.MODERATOR, doing="处理留言")
    user_id: int | None = None
    if assignee:
        user = await User.filter(username=assignee, active=True).first()
        if user is None:
            raise InvalidInput(f"用户不存在或已停用：{assignee}", "assignee")
        user_id = user.id
    async with in_transaction() as conn:
        comment = await _load(conn, comment_id, "assign")
        changes: dict[str, Any] = {"assignee_id": user_id}
        if office is not None:
            changes["office"] = office.strip()[:128]
        await _cas(conn, comment, "assign", **changes)
        details = {"assignee": assignee or "", **({"office": office} if office is not None else {})}
        await audit.record(conn, actor.name, "comment.assign", "comment", comment_id, details)
    return comment


async def add_note(comment_id: int, actor: Actor, *, text: str) -> CommentNote:
    """An internal note, seen only by staff."""
    actor.require(Role.MODERATOR, doing="处理留言")
    body = _text(text, "text", "备注")
    async with in_transaction() as conn:
        await _load(conn, comment_id, "note")
        note = await CommentNote.create(
            using_db=conn, comment_id=comment_id, author=actor.name, text=body
        )
        await audit.record(
            conn, actor.name, "comment.note", "comment", comment_id, {"note_id": note.id}
        )
    return note


async def draft_reply(comment_id: int, actor: Actor, *, text: str) -> CommentReply:
    """Save an answer without sending it (send it later with send_reply(reply_id=…))."""
    actor.require(Role.MODERATOR, doing="处理留言")
    body = _text(text, "text", "答复内容")
    async with in_transaction() as conn:
        await _load(conn, comment_id, "draft")
        reply = await CommentReply.create(
            using_db=conn, comment_id=comment_id, text=body, author=actor.name
        )
        await audit.record(
            conn, actor.name, "reply.draft", "comment", comment_id, {"reply_id": reply.id}
        )
    return reply


# A reply in one of these states holds the comment's next one back (one answer at a time).
IN_FLIGHT = (ReplyStatus.SIGNOFF.value, ReplyStatus.QUEUED.value, ReplyStatus.SENDING.value)


async def _to_send(
    conn: BaseDBAsyncClient | None, comment_id: int, text: str | None, reply_id: int | None
) -> tuple[Comment, CommentReply | None, str]:
    """The comment, the draft (reply_id) and the text send_reply would send, with its refusals:
    the comment's state, an answer still in flight, no such draft, an empty or long text."""
    comment = await _load(conn, comment_id, "reply")
    busy = (
        await CommentReply.filter(comment_id=comment_id, status__in=IN_FLIGHT)
        .exclude(author=FOLLOW_UP_AUTHOR)  # the system's links are no answer in flight
        .using_db(conn)
    )
    if busy:
        waiting = any(r.status == ReplyStatus.SIGNOFF.value for r in busy)
        raise ReplyInProgress(comment_id, awaiting_signoff=waiting)
    if reply_id is None:
        return comment, None, _text(text, "text", "答复内容")
    draft = await CommentReply.filter(id=reply_id, comment_id=comment_id).using_db(conn).first()
    if draft is None or draft.status != ReplyStatus.DRAFT.value:
        raise InvalidInput(f"留言 #{comment_id} 没有编号为 {reply_id} 的答复草稿。", "reply_id")
    return comment, draft, _text(text if text is not None else draft.text, "text", "答复内容")


async def reply_plan(
    comment_id: int, actor: Actor, *, text: str | None = None, reply_id: int | None = None
) -> tuple[Comment, str]:
    """What send_reply would send now: the comment and the text, with its refusals, writing
    nothing (the console's confirmation page shows it)."""
    actor.require(Role.MODERATOR, doing="处理留言")
    comment, _, body = await _to_send(None, comment_id, text, reply_id)
    return comment, body


async def send_reply(
    comment_id: int,
    actor: Actor,
    *,
    text: str | None = None,
    reply_id: int | None = None,
    signoff: SignoffConfig | None = None,
) -> CommentReply:
    """Queue an answer for sending through the comment's own channel: a new text, or a draft
    (reply_id). The reply sender sends it; the comment counts as answered when it is sent.

    When `signoff` ([inbox.signoff]; the console and the CLI pass it) names the comment's
    category or channel, the reply waits for a second moderator instead (status 待审签,
    bot/inbox/signoff.py) and is not queued; None: no sign-off."""
    actor.require(Role.MODERATOR, doing="处理留言")
    async with in_transaction() as conn:
        return await queue_reply(
            conn, comment_id, actor, text=text, reply_id=reply_id, signoff=signoff
        )


async def queue_reply(
    conn: BaseDBAsyncClient,
    comment_id: int,
    actor: Actor,
    *,
    text: str | None = None,
    reply_id: int | None = None,
    signoff: SignoffConfig | None = None,
) -> CommentReply:
    """send_reply inside the caller's transaction, so that what the caller writes with it (a
    专项回应's bulk answer marks its link answered: bot/matters/answers.py) stands or falls
    with the reply. The same refusals, the same audit event."""
    actor.require(Role.MODERATOR, doing="处理留言")
    now = datetime.now(UTC)
    comment, draft, body = await _to_send(conn, comment_id, text, reply_id)
    wait = signoff is not None and signoff.applies(comment.category, comment.channel)
    status = ReplyStatus.SIGNOFF if wait else ReplyStatus.QUEUED
    due = None if wait else now
    if draft is not None:
        changes = {"status": status.value, "text": body, "next_attempt_at": due}
        changed = (
            await CommentReply.filter(id=draft.id, status=ReplyStatus.DRAFT.value)
            .using_db(conn)
            .update(sent_by=actor.name, **changes)
        )
        if changed != 1:
            raise InvalidInput(f"答复草稿 #{draft.id} 已被他人处理。", "reply_id")
        draft.update_from_dict({"sent_by": actor.name, **changes})
        reply = draft
    else:
        reply = await CommentReply.create(
            using_db=conn,
            comment_id=comment_id,
            text=body,
            author=actor.name,
            sent_by=actor.name,
            status=status.value,
            next_attempt_at=due,
        )
    await _cas(conn, comment, "reply", reply_status=status.value)
    await audit.record(
        conn,
        actor.name,
        "reply.await_signoff" if wait else "reply.queue",
        "comment",
        comment_id,
        {"reply_id": reply.id},
    )
    return reply


async def close(comment_id: int, actor: Actor, *, reason: str = "") -> Comment:
    actor.require(Role.MODERATOR, doing="处理留言")
    async with in_transaction() as conn:
        comment = await _load(conn, comment_id, "close")
        await _cas(conn, comment, "close", status=C.CLOSED.value, closed_at=datetime.now(UTC))
        await audit.record(
            conn, actor.name, "comment.close", "comment", comment_id, {"reason": reason}
        )
    return comment


def _clock(
    config: Config, comment: Comment, category: str | None = None, simple: bool | None = None
) -> tuple[str, datetime | None, bool]:
    """(status, due time, calendar known) counted from the original received_at, for the
    comment's category (or `category`)."""
    days = deadline_days(
        config.inbox.deadlines,
        comment.category if category is None else category,
        comment.channel,
        comment.simple if simple is None else simple,
    )
    if days is None:
        return C.PETITION.value, None, True
    due, known = WorkCalendar.from_config(config.inbox.deadlines).due_at(comment.received_at, days)
    return C.OPEN.value, due, known


async def reopen(comment_id: int, actor: Actor, *, config: Config, reason: str = "") -> Comment:
    """Back to open (e.g. the writer follows up). The due time stays the one counted from
    when the comment came in; a comment that never had one gets it now."""
    actor.require(Role.MODERATOR, doing="处理留言")
    async with in_transaction() as conn:
        comment = await _load(conn, comment_id, "reopen")
        changes: dict[str, Any] = {"status": C.OPEN.value, "closed_at": None}
        if comment.due_at is None:
            status, due, known = _clock(config, comment)
            changes.update(status=status, due_at=due, calendar_known=known)
        await _cas(conn, comment, "reopen", **changes)
        await audit.record(
            conn, actor.name, "comment.reopen", "comment", comment_id, {"reason": reason}
        )
    return comment


async def mark_spam(comment_id: int, actor: Actor, *, reason: str = "") -> Comment:
    actor.require(Role.MODERATOR, doing="处理留言")
    async with in_transaction() as conn:
        comment = await _load(conn, comment_id, "spam")
        flags = sorted({*comment.flags, "spam"})
        await _cas(conn, comment, "spam", status=C.SPAM.value, hidden=True, flags=flags)
        await audit.record(
            conn, actor.name, "comment.spam", "comment", comment_id, {"reason": reason}
        )
    return comment


async def mark_not_spam(comment_id: int, actor: Actor, *, config: Config) -> Comment:
    """Not spam after all: open again, with the due time counted from the original
    received_at (the writer waited all along), or handed to the petition process."""
    actor.require(Role.MODERATOR, doing="处理留言")
    async with in_transaction() as conn:
        comment = await _load(conn, comment_id, "not_spam")
        status, due, known = _clock(config, comment)
        flags = [f for f in comment.flags if f not in ("spam", "flood", "repeat")]
        await _cas(
            conn,
            comment,
            "not_spam",
            status=status,
            due_at=due,
            calendar_known=known,
            hidden=False,
            flags=flags,
        )
        details = {"status": status, "due_at": due}
        await audit.record(conn, actor.name, "comment.not_spam", "comment", comment_id, details)
    return comment


async def escalate(
    comment_id: int, actor: Actor, *, reason: str, office: str | None = None
) -> Comment:
    """Raise the escalation level by one (督办), optionally handing it to another office."""
    actor.require(Role.MODERATOR, doing="处理留言")
    why = _text(reason, "reason", "督办理由")
    async with in_transaction() as conn:
        comment = await _load(conn, comment_id, "escalate")
        if comment.escalation_level >= MAX_ESCALATION:
            raise InvalidInput(
                f"留言 #{comment_id} 已是最高督办级别（{MAX_ESCALATION} 级）。", "level"
            )
        changes: dict[str, Any] = {
            "escalation_level": comment.escalation_level + 1,
            "escalated_at": datetime.now(UTC),
        }
        if office is not None:
            changes["office"] = office.strip()[:128]
        await _cas(conn, comment, "escalate", **changes)
        details = {"level": changes["escalation_level"], "reason": why}
        if office is not None:
            details["office"] = office
        await audit.record(conn, actor.name, "comment.escalate", "comment", comment_id, details)
    return comment


async def set_category(comment_id: int, actor: Actor, *, category: str, config: Config) -> Comment:
    """A moderator sets or corrects the category. The 待确认 mark goes; an open comment's
    status and due time follow the category (信访类 goes to the petition process, and leaving
    it starts the reply clock, counted from when the comment came in); and the decision is kept
    as the label the category model learns from, with who and when."""
    actor.require(Role.MODERATOR, doing="处理留言")
    if category not in CATEGORIES:
        raise InvalidInput(f"类别「{category}」无效，可选：{'、'.join(CATEGORIES)}。", "category")
    async with in_transaction() as conn:
        comment = await _load(conn, comment_id, "categorize")
        before = comment.category
        simple = comment.simple and category == QUESTION
        flags = [f for f in comment.flags if f not in (UNSURE, "petition")]
        changes: dict[str, Any] = {"category": category, "simple": simple}
        if comment.status in (C.OPEN.value, C.PETITION.value):
            status, due, known = _clock(config, comment, category, simple)
            changes.update(status=status, due_at=due, calendar_known=known)
        if category == PETITION:
            flags.append("petition")
        changes["flags"] = flags
        await _cas(conn, comment, "categorize", **changes)
        await learning.record_label(
            conn, comment.id, comment.masked_text, category, learning.MODERATOR, actor.name
        )
        details = {"from": before, "to": category, "status": comment.status}
        await audit.record(conn, actor.name, "comment.categorize", "comment", comment_id, details)
    return comment


@dataclass
class BulkResult:
    comment_id: int
    ok: bool
    error: str = ""


OPS: dict[str, Callable[..., Awaitable[Any]]] = {
    "assign": assign,
    "note": add_note,
    "reply": send_reply,
    "close": close,
    "reopen": reopen,
    "spam": mark_spam,
    "not_spam": mark_not_spam,
    "escalate": escalate,
    "categorize": set_category,
}


async def bulk(
    op: str, comment_ids: Sequence[int], actor: Actor, **kwargs: Any
) -> list[BulkResult]:
    """The same action on many comments, each in its own transaction: one refused comment
    does not stop the others, and each gets its own result."""
    if op not in OPS:
        raise InvalidInput(f"批量操作「{op}」无效，可选：{'、'.join(OPS)}。", "op")
    actor.require(Role.MODERATOR, doing="处理留言")
    results = []
    for comment_id in dict.fromkeys(comment_ids):
        try:
            await OPS[op](comment_id, actor, **kwargs)
        except InboxError as exc:
            results.append(BulkResult(comment_id, False, str(exc)))
        else:
            results.append(BulkResult(comment_id, True))
    return results
