"""Answering a 专项回应's comments in bulk, once its task is closed: every linked comment gets
one answer with a link to the published response, through the channel it came from, by the
inbox's own reply path (bot/inbox/ops.py queue_reply: the same refusals and audit event, 审签
when [inbox.signoff] names the comment; bot/inbox/replies.py sends it).

A link is marked answered in the transaction that queues its reply, by a compare-and-set from
unanswered: of two bulk answers at once each comment gets one reply, and running it again
answers only the comments it could not answer before (closed, a reply still in flight). What
would happen is told first by `plan`, which writes nothing (the console's confirmation page).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from bot import audit
from bot.actors import Actor
from bot.config import Config
from bot.inbox import ops
from bot.inbox.ops import IN_FLIGHT, InboxError
from bot.matters.tasks import (
    PUBLISHED,
    InvalidTaskInput,
    ResponseNotPublished,
    TaskStillOpen,
    get_task,
)
from bot.models import (
    COMMENT_STATUS_LABELS,
    Comment,
    CommentReply,
    CommentStatus,
    Item,
    MatterTask,
    MatterTaskComment,
    MatterTaskStatus,
    ReplyStatus,
    Role,
)

READY = "ready"
ANSWERED = "answered"
BLOCKED = "blocked"
STATE_LABELS = {READY: "将答复", ANSWERED: "已答复", BLOCKED: "暂不能答复"}


def response_url(config: Config, item: Item) -> str:
    """Where the public reads the response."""
    return f"{config.app.public_base_url}/items/{item.id}"


def default_text(task: MatterTask, item: Item, url: str) -> str:
    return (
        f"您好！您反映的「{task.matter_name}」相关问题，{task.office}已作专项回应"
        f"并改进了办理流程，详见《{item.title}》：{url} 。感谢您的关注和监督。"
    )


def reply_text(text: str, url: str) -> str:
    """The answer as it will be sent: the link to the response added when the text lacks it."""
    body = text.strip()
    if not body:
        raise InvalidTaskInput("答复内容不能为空。", "text")
    if url not in body:
        body = f"{body}\n{url}"
    if len(body) > ops.TEXT_MAX:
        raise InvalidTaskInput(f"答复内容过长（{len(body)} 字，最多 {ops.TEXT_MAX} 字）。", "text")
    return body


@dataclass(frozen=True)
class Row:
    link: MatterTaskComment
    comment: Comment
    state: str  # ready | answered | blocked
    reason: str = ""  # why it cannot be answered now


@dataclass
class Plan:
    task: MatterTask
    item: Item
    url: str
    text: str
    rows: list[Row]

    def count(self, state: str) -> int:
        return sum(1 for r in self.rows if r.state == state)

    def channels(self) -> list[tuple[str, int]]:
        """The channels the answers go through, with how many each."""
        return Counter(r.comment.channel for r in self.rows if r.state == READY).most_common()


async def plan(task_id: int, actor: Actor, config: Config, text: str | None = None) -> Plan:
    """What reply_all would do now, writing nothing."""
    actor.require(Role.MODERATOR, doing="批量答复留言")
    detail = await get_task(task_id)
    task = detail.task
    if task.status != MatterTaskStatus.CLOSED.value or detail.item is None:
        raise TaskStillOpen(task_id)
    if detail.item.status not in PUBLISHED:  # retracted since: its link would lead nowhere
        raise ResponseNotPublished(detail.item)
    url = response_url(config, detail.item)
    body = reply_text(text if text is not None else default_text(task, detail.item, url), url)
    busy = set(
        await CommentReply.filter(
            comment_id__in=list(detail.comments), status__in=IN_FLIGHT
        ).values_list("comment_id", flat=True)
    )
    allowed = {s.value for s in ops.ALLOWED["reply"]}
    rows = []
    for link in detail.links:
        comment = detail.comments[link.comment_id]
        if link.answered_at is not None:
            rows.append(Row(link, comment, ANSWERED))
        elif comment.status not in allowed:
            shown = COMMENT_STATUS_LABELS.get(CommentStatus(comment.status), comment.status)
            rows.append(Row(link, comment, BLOCKED, f"留言状态为「{shown}」，须先重新打开"))
        elif comment.id in busy:
            rows.append(Row(link, comment, BLOCKED, "已有一条答复在等待发送或审签"))
        else:
            rows.append(Row(link, comment, READY))
    return Plan(task, detail.item, url, body, rows)


@dataclass
class Answered:
    queued: list[int] = field(default_factory=list)  # comment ids, reply queued
    signoff: list[int] = field(default_factory=list)  # comment ids, waiting for 审签
    already: int = 0  # answered before (by this run's twin, or an earlier run)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # comment id, why


async def reply_all(
    task_id: int,
    actor: Actor,
    config: Config,
    text: str | None = None,
    now: datetime | None = None,
) -> Answered:
    """Answer every linked comment not yet answered, each once, through its own channel."""
    now = now or datetime.now(UTC)
    p = await plan(task_id, actor, config, text)
    done = Answered(already=p.count(ANSWERED))
    for row in p.rows:
        if row.state == ANSWERED:
            continue
        # A row the plan saw blocked is tried too: the plan is a moment ago, and the claim and
        # the inbox's own checks below decide (answered meanwhile, still closed, in flight).
        try:
            async with in_transaction() as conn:
                claimed = (
                    await MatterTaskComment.filter(id=row.link.id, answered_at=None)
                    .using_db(conn)
                    .update(answered_at=now, answered_by=actor.name)
                )
                if claimed != 1:
                    done.already += 1
                    continue
                reply = await ops.queue_reply(
                    conn, row.comment.id, actor, text=p.text, signoff=config.inbox.signoff
                )
                await (
                    MatterTaskComment.filter(id=row.link.id)
                    .using_db(conn)
                    .update(reply_id=reply.id)
                )
        except InboxError as exc:
            done.skipped.append((row.comment.id, str(exc)))
            continue
        waiting = reply.status != ReplyStatus.QUEUED.value
        (done.signoff if waiting else done.queued).append(row.comment.id)
    async with in_transaction() as conn:
        await audit.record(
            conn,
            actor.name,
            "task.reply_all",
            "matter_task",
            task_id,
            {
                "item_id": p.item.id,
                "replied": len(done.queued),
                "awaiting_signoff": len(done.signoff),
                "skipped": len(done.skipped),
            },
        )
    return done
