"""留言处理: the moderators' inbox list (filters, due-time badges, bulk actions) and one
comment's page (triage suggestions, replies with their delivery status, notes, history, and
the forms of inbox_actions.py). Pages show masked_text only: original_text never reaches the
console, whoever asks.

Due badges (open comments with a due time): red 已超期 when the due time has passed, amber
即将到期 when it falls within inbox.due_soon_hours (the list's 即将到期 filter uses the same
window), green 期限内 otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web

from bot.actors import Actor
from bot.inbox import ops as inbox_ops
from bot.inbox import qa_signoff, signoff
from bot.inbox.ops import InboxError, InboxFilter, InboxPage
from bot.models import (
    COMMENT_KIND_LABELS,
    COMMENT_STATUS_LABELS,
    FOLLOW_UP_AUTHOR,
    REPLY_STATUS_LABELS,
    AuditEvent,
    Comment,
    CommentStatus,
    Item,
    QaEntry,
    QaProposal,
    ReplyStatus,
    Role,
    User,
)
from bot.reports.labels import channel_label
from bot.web.console.audit_text import Teller, needed
from bot.web.console.core import MODERATOR, PREFIX, Ctx, Pager, Route
from bot.web.console.inbox_confirm import signoff_why
from bot.web.console.inbox_labels import BULK_OPS, DUE_LABELS, FLAG_LABELS
from bot.web.console.labels import Names, item_of_source, person
from moderation.triage import CATEGORIES

# The list's status choice: open by default, "all" for every status.
ALL = "all"


@dataclass(frozen=True)
class Due:
    state: str  # "" (no clock running) | ok | soon | overdue
    label: str


def due_of(comment: Comment, now: datetime, soon_hours: float) -> Due:
    if comment.status != CommentStatus.OPEN.value or comment.due_at is None:
        return Due("", "")
    if comment.due_at < now:
        return Due("overdue", DUE_LABELS["overdue"])
    if comment.due_at < now + timedelta(hours=soon_hours):
        return Due("soon", DUE_LABELS["soon"])
    return Due("ok", DUE_LABELS["ok"])


def flag_label(flag: str) -> str:
    return FLAG_LABELS.get(flag, flag)


async def moderators() -> list[User]:
    """Active staff who can handle comments (the assign choices): a short list of users."""
    users = await User.filter(active=True).order_by("username")
    return [u for u in users if Actor.of_user(u).has(Role.MODERATOR)]


async def offices() -> list[str]:
    rows = await Comment.exclude(office="").distinct().values_list("office", flat=True)
    return sorted(str(r) for r in rows)


def _filter(ctx: Ctx) -> tuple[InboxFilter, dict[str, str]]:
    q = ctx.request.query
    shown = {
        name: q.get(name, "").strip()[:128]
        for name in ("status", "channel", "office", "category", "assignee", "due")
    }
    if "status" not in q:
        shown["status"] = CommentStatus.OPEN.value
    status = shown["status"]
    if status != ALL and status not in inbox_ops.STATUSES:
        status = shown["status"] = ALL
    if shown["due"] not in ("soon", "overdue"):
        shown["due"] = ""
    f = InboxFilter(
        status=None if status == ALL else status,
        channel=shown["channel"] or None,
        office=shown["office"] or None,
        category=shown["category"] or None,
        assignee=shown["assignee"] or None,
        due_soon=shown["due"] == "soon",
        overdue=shown["due"] == "overdue",
    )
    return f, shown


def _page_number(ctx: Ctx) -> int:
    raw = ctx.request.query.get("page", "1")
    return max(1, int(raw)) if raw.isdigit() and len(raw) < 7 else 1


async def inbox_list(ctx: Ctx) -> web.StreamResponse:
    f, shown = _filter(ctx)
    size = ctx.state.cfg.page_size
    now = datetime.now(UTC)
    error = ""
    try:
        result = await inbox_ops.list_comments(f, ctx.config, _page_number(ctx), size, now)
        last = max(1, -(-result.total // size))
        if result.page > last:  # a page past the end (the list shrank): show the last one
            result = await inbox_ops.list_comments(f, ctx.config, last, size, now)
    except InboxError as exc:
        error = str(exc)
        result = InboxPage([], 0, 1, size)
    query = {k: v for k, v in ctx.request.query.items() if k != "page" and v}
    pager = Pager(result.page, size, result.total, query)
    comments = result.comments
    users = {
        u.id: person(u)
        for u in await User.filter(id__in={c.assignee_id for c in comments if c.assignee_id})
    }
    items = {
        i.id: i.title for i in await Item.filter(id__in={c.item_id for c in comments if c.item_id})
    }
    names = sorted({*ctx.config.channels.enabled_names(), *(c.channel for c in comments)})
    proposed = await QaProposal.filter(pending_comment__in=[c.id for c in comments]).values_list(
        "comment_id", flat=True
    )
    soon = ctx.config.inbox.due_soon_hours
    return await ctx.render(
        "console/inbox.html",
        comments=comments,
        due={c.id: due_of(c, now, soon) for c in comments},
        qa_waiting=set(proposed),
        users=users,
        items=items,
        pager=pager,
        shown=shown,
        error=error,
        all_status=ALL,
        status_labels=COMMENT_STATUS_LABELS,
        kind_labels=COMMENT_KIND_LABELS,
        reply_labels=REPLY_STATUS_LABELS,
        categories=CATEGORIES,
        offices=await offices(),
        moderators=await moderators(),
        channels=[(n, channel_label(n)) for n in names],
        channel_label=channel_label,
        flag_label=flag_label,
        bulk_ops=BULK_OPS,
        soon_label=f"{soon:g}",
        back=ctx.request.path_qs,
    )


async def comment_page(ctx: Ctx) -> web.StreamResponse:
    comment_id = ctx.int_param("id")
    try:
        detail = await inbox_ops.get_comment(comment_id)
    except InboxError as exc:
        raise web.HTTPNotFound() from exc
    c = detail.comment
    now = datetime.now(UTC)
    item = await Item.filter(id=c.item_id).first() if c.item_id else None
    entry = await QaEntry.filter(comment_id=c.id).first()
    history = list(detail.history)
    if entry is not None:  # 选登 is audited on its Q&A entry: part of this comment's story
        history += await AuditEvent.filter(target_type="qa_entry", target_id=str(entry.id))
        history.sort(key=lambda e: e.id)
    # The system's follow-up links (WeChat) are no answer: they hold nothing back, allow no 选登.
    answers = [r for r in detail.replies if r.author != FOLLOW_UP_AUTHOR]
    sent = [r for r in answers if r.status == ReplyStatus.SENT.value]
    busy = any(r.status in inbox_ops.IN_FLIGHT for r in answers)
    proposal = await qa_signoff.waiting_proposal(c.id)
    suggest = ctx.request.query.get("suggest") == "1" and bool(c.suggested_answer)
    # Who wrote, sent and noted what, and the history, named as colleagues know them.
    wanted = needed(history)
    wanted["actors"] |= {r.author for r in detail.replies} | {n.author for n in detail.notes}
    wanted["actors"] |= {entry.selected_by} if entry is not None else set()
    wanted["actors"] |= {x for r in detail.replies for x in (r.sent_by, r.signoff_by) if x}
    wanted["actors"] |= {proposal.proposed_by} if proposal is not None else set()
    wanted["usernames"].add(detail.assignee)
    source_item = item_of_source(c.suggested_source)
    if source_item is not None:
        wanted["item_ids"].add(source_item)
    names = await Names.load(**wanted)
    linkable = {"item", "comment"} | ({"user"} if ctx.has(Role.ADMIN) else set())
    teller = Teller(names, ctx.state.tz, linkable)
    return await ctx.render(
        "console/inbox_detail.html",
        c=c,
        d=detail,
        history=[teller.tell(e) for e in history],
        who=names,
        item=item,
        entry=entry,
        can_select=bool(sent)
        and c.status in (CommentStatus.REPLIED.value, CommentStatus.CLOSED.value)
        and not c.hidden
        and (entry is None or entry.withdrawn_at is not None)
        and proposal is None,
        busy=busy,
        waiting_signoff=any(r.status == ReplyStatus.SIGNOFF.value for r in detail.replies),
        signoff_why=signoff_why(ctx, c),
        may_sign_off=lambda r: signoff.may_sign_off(ctx.actor, r),
        proposal=proposal,
        may_sign_off_qa=proposal is not None and proposal.proposed_by != ctx.actor.name,
        reply_text=c.suggested_answer if suggest else "",
        due=due_of(c, now, ctx.config.inbox.due_soon_hours),
        allowed={a for a, states in inbox_ops.ALLOWED.items() if CommentStatus(c.status) in states},
        categories=CATEGORIES,
        moderators=await moderators(),
        status_labels=COMMENT_STATUS_LABELS,
        kind_labels=COMMENT_KIND_LABELS,
        reply_labels=REPLY_STATUS_LABELS,
        action_labels=inbox_ops.ACTION_LABELS,
        channel_label=channel_label,
        flag_label=flag_label,
    )


ROUTES = [
    Route("GET", f"{PREFIX}/inbox", inbox_list, MODERATOR),
    Route("GET", f"{PREFIX}/inbox/{{id}}", comment_page, MODERATOR),
]
