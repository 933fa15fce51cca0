"""选登: a moderator selects an answered exchange for the public Q&A page of the website,
after a preview with personal data removed; selections can be withdrawn. Each change is one
transaction with its audit event. Also the queries the public Q&A page reads.

With [inbox.signoff] naming the comment's category or channel, a selection waits as a
QaProposal until a second moderator signs it off, which publishes it, or returns it
(bot/inbox/qa_signoff.py).

Text going public is scrubbed twice over: mask_personal_data (validated ID-card, mobile, bank
card numbers and e-mail addresses), then any remaining run of 11 or more digits (an ID number with a
mistyped check digit, a landline with area code, a case number) is starred out whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot import audit
from bot.actors import Actor
from bot.config import SignoffConfig
from bot.errors import Refusal
from bot.models import (
    FOLLOW_UP_AUTHOR,
    Comment,
    CommentReply,
    CommentStatus,
    QaEntry,
    QaProposal,
    ReplyStatus,
    Role,
)
from bot.search import index as search_index
from bot.site import version as site_version
from moderation.rules.privacy import KIND_NAMES, find_personal_data, mask_personal_data

# What a published question or answer may be at most, in characters.
MAX_TEXT = 10_000
# Digits (any script: full-width too) with up to two spaces or dashes between them.
_LONG_NUMBER = re.compile(r"\d(?:[ \t\u3000\-\u2010-\u2015\u2212－]{0,2}\d){10,}(?:[xX×])?")
FIELD_LABELS = {"question": "问题", "answer": "答复"}


class QaError(Refusal):
    """Base of 选登 errors; str() is a message for staff (Chinese)."""


class CommentNotFound(QaError):
    status_code = 404

    def __init__(self, comment_id: int) -> None:
        super().__init__(f"留言 #{comment_id} 不存在。")


class EntryNotFound(QaError):
    status_code = 404

    def __init__(self, entry_id: int) -> None:
        super().__init__(f"选登问答 #{entry_id} 不存在。")


class NotSelectable(QaError):
    """The comment cannot go on the public page (no sent answer, spam, hidden, petition)."""


class AlreadySelected(QaError):
    pass


class AlreadyWithdrawn(QaError):
    pass


class InvalidText(QaError):
    status_code = 400


@dataclass(frozen=True)
class Scrubbed:
    text: str
    removed: tuple[str, ...]  # what was masked, named for staff: 居民身份证号码, 手机号码, ...


@dataclass(frozen=True)
class QaPreview:
    """What would be published: the masked question and answer and what was removed."""

    comment_id: int
    question: str
    answer: str
    category: str
    office: str
    item_id: int | None
    removed: tuple[str, ...]


def scrub(text: str) -> Scrubbed:
    """text with personal data removed: masked by mask_personal_data, then any remaining long
    digit run or ID-shaped number replaced by stars."""
    kinds = [KIND_NAMES[p.kind] for p in find_personal_data(text)]
    masked = mask_personal_data(text)

    def stars(match: re.Match[str]) -> str:
        kinds.append("长数字串")
        return "*" * len(match.group(0))

    # 11+ digits also covers 15-digit first-generation and 17+X ID numbers.
    masked = _LONG_NUMBER.sub(stars, masked)
    return Scrubbed(masked, tuple(dict.fromkeys(kinds)))


async def _sent_reply(comment_id: int, conn: BaseDBAsyncClient | None = None) -> CommentReply:
    reply = (
        await CommentReply.filter(comment_id=comment_id, status=ReplyStatus.SENT.value)
        .exclude(author=FOLLOW_UP_AUTHOR)  # the system's search links answer nothing
        .using_db(conn)
        .order_by("-sent_at", "-id")
        .first()
    )
    if reply is None:
        raise NotSelectable(f"留言 #{comment_id} 尚无已送达的答复，不能选登。")
    return reply


def check_selectable(comment: Comment) -> None:
    if comment.status == CommentStatus.SPAM.value:
        raise NotSelectable(f"留言 #{comment.id} 是垃圾信息，不能选登。")
    if comment.status == CommentStatus.PETITION.value:
        raise NotSelectable(f"留言 #{comment.id} 已转信访渠道办理，不能选登。")
    if comment.hidden:
        raise NotSelectable(f"留言 #{comment.id} 已被隐藏，不能选登。")
    if comment.status not in (CommentStatus.REPLIED.value, CommentStatus.CLOSED.value):
        raise NotSelectable(f"留言 #{comment.id} 尚未答复，不能选登。")


async def load_comment(comment_id: int, conn: BaseDBAsyncClient | None = None) -> Comment:
    comment = await Comment.filter(id=comment_id).using_db(conn).first()
    if comment is None:
        raise CommentNotFound(comment_id)
    return comment


async def preview(comment_id: int) -> QaPreview:
    """The question and answer as they would be published, personal data removed."""
    comment = await load_comment(comment_id)
    check_selectable(comment)
    reply = await _sent_reply(comment.id)
    question = scrub(comment.masked_text or comment.original_text)
    answer = scrub(reply.text)
    return QaPreview(
        comment_id=comment.id,
        question=question.text,
        answer=answer.text,
        category=comment.category,
        office=comment.office,
        item_id=comment.item_id,
        removed=tuple(dict.fromkeys(question.removed + answer.removed)),
    )


def _edited(name: str, text: str) -> Scrubbed:
    value = text.strip()
    label = FIELD_LABELS[name]
    if not value:
        raise InvalidText(f"「{label}」不能为空。")
    if len(value) > MAX_TEXT:
        raise InvalidText(f"「{label}」不能超过 {MAX_TEXT} 字（现有 {len(value)} 字）。")
    return scrub(value)


async def proposed(
    comment_id: int, question: str | None = None, answer: str | None = None
) -> QaPreview:
    """What select() would publish now, with its refusals, writing nothing: the confirmation
    page shows it. question/answer are the moderator's edits, masked again."""
    comment = await load_comment(comment_id)
    check_selectable(comment)
    reply = await _sent_reply(comment.id)
    await _check_free(comment.id)
    q, a = _texts(comment, reply, question, answer)
    return QaPreview(
        comment_id=comment.id,
        question=q.text,
        answer=a.text,
        category=comment.category,
        office=comment.office,
        item_id=comment.item_id,
        removed=tuple(dict.fromkeys(q.removed + a.removed)),
    )


def _texts(
    comment: Comment, reply: CommentReply, question: str | None, answer: str | None
) -> tuple[Scrubbed, Scrubbed]:
    q = _edited("question", question) if question is not None else None
    a = _edited("answer", answer) if answer is not None else None
    return (
        q or scrub(comment.masked_text or comment.original_text),
        a or scrub(reply.text),
    )


async def _check_free(comment_id: int, conn: BaseDBAsyncClient | None = None) -> None:
    """Refuse a comment already on the public page or with a 选登 waiting for sign-off."""
    entry = await QaEntry.filter(comment_id=comment_id).using_db(conn).first()
    if entry is not None and entry.withdrawn_at is None:
        raise AlreadySelected(f"留言 #{comment_id} 已选登（问答 #{entry.id}）。")
    waiting = await QaProposal.filter(pending_comment=comment_id).using_db(conn).first()
    if waiting is not None:
        raise AlreadySelected(
            f"留言 #{comment_id} 已有一条选登在等待审签（选登申请 #{waiting.id}）。"
        )


async def select(
    comment_id: int,
    actor: Actor,
    question: str | None = None,
    answer: str | None = None,
    *,
    signoff: SignoffConfig | None = None,
) -> QaEntry | QaProposal:
    """Publish an answered comment on the Q&A page. question/answer, when given, are the
    moderator's edits of the preview; they are masked again all the same.

    When `signoff` ([inbox.signoff]; the console passes it) names the comment's category or
    channel, the exchange is not published: a QaProposal waits for a second moderator
    (bot/inbox/qa_signoff.py). None: no sign-off."""
    actor.require(Role.MODERATOR)
    async with in_transaction() as conn:
        comment = await load_comment(comment_id, conn)
        check_selectable(comment)
        reply = await _sent_reply(comment.id, conn)
        q, a = _texts(comment, reply, question, answer)
        await _check_free(comment.id, conn)
        edited = {"question_edited": question is not None, "answer_edited": answer is not None}
        removed = list(dict.fromkeys(q.removed + a.removed))
        if signoff is not None and signoff.applies(comment.category, comment.channel):
            return await _propose(conn, comment, reply, q, a, actor, removed, edited)
        return await publish_entry(
            conn,
            comment,
            actor,
            question=q.text,
            answer=a.text,
            selected_by=actor.name,
            details={"reply_id": reply.id, **edited, "removed": removed},
        )


async def publish_entry(
    conn: BaseDBAsyncClient,
    comment: Comment,
    actor: Actor,
    *,
    question: str,
    answer: str,
    selected_by: str,
    details: dict[str, Any],
    action: str = "qa.select",
) -> QaEntry:
    """The entry made public (created, or a withdrawn one back, edited), with its audit event
    and the site's announcement."""
    values = {
        "question": question,
        "answer": answer,
        "office": comment.office,
        "category": comment.category,
        "selected_by": selected_by,
        "published_at": datetime.now(UTC),
        "withdrawn_at": None,
    }
    entry = await QaEntry.filter(comment_id=comment.id).using_db(conn).first()
    if entry is not None and entry.withdrawn_at is None:
        raise AlreadySelected(f"留言 #{comment.id} 已选登（问答 #{entry.id}）。")
    try:
        if entry is None:
            entry = await QaEntry.create(using_db=conn, comment_id=comment.id, **values)
        else:  # selected before and withdrawn: the same entry comes back, edited
            entry.update_from_dict(values)
            await entry.save(using_db=conn)
    except IntegrityError as exc:  # a concurrent selection of the same comment won
        raise AlreadySelected(f"留言 #{comment.id} 已选登。") from exc
    await Comment.filter(id=comment.id).using_db(conn).update(selected=True)
    await audit.record(
        conn, actor.name, action, "qa_entry", entry.id, {"comment_id": comment.id, **details}
    )
    await site_version.announce(conn)  # the 选登 pages and feed show it
    await search_index.store_qa(conn, entry)  # and the search finds it
    return entry


# -- 审签 ----------------------------------------------------------------------------------
async def _propose(
    conn: BaseDBAsyncClient,
    comment: Comment,
    reply: CommentReply,
    q: Scrubbed,
    a: Scrubbed,
    actor: Actor,
    removed: list[str],
    edited: dict[str, bool],
) -> QaProposal:
    try:
        proposal = await QaProposal.create(
            using_db=conn,
            comment_id=comment.id,
            pending_comment=comment.id,  # unique: one proposal per comment waits
            reply_id=reply.id,
            question=q.text,
            answer=a.text,
            removed=removed,
            proposed_by=actor.name,
            proposed_at=datetime.now(UTC),
            **edited,
        )
    except IntegrityError as exc:  # a concurrent proposal for the same comment won
        raise AlreadySelected(f"留言 #{comment.id} 已有一条选登在等待审签。") from exc
    await audit.record(
        conn,
        actor.name,
        "qa.propose",
        "comment",
        comment.id,
        {"proposal_id": proposal.id, "reply_id": reply.id, **edited, "removed": removed},
    )
    return proposal


async def withdraw(entry_id: int, actor: Actor, reason: str) -> QaEntry:
    """Take an entry off the public Q&A page; the reason is kept in the audit log."""
    actor.require(Role.MODERATOR)
    if not reason.strip():
        raise InvalidText("请填写撤下「原因」。")
    async with in_transaction() as conn:
        entry = await QaEntry.filter(id=entry_id).using_db(conn).first()
        if entry is None:
            raise EntryNotFound(entry_id)
        # Compare-and-set on withdrawn_at: of two concurrent withdrawals one does nothing.
        changed = (
            await QaEntry.filter(id=entry_id, withdrawn_at__isnull=True)
            .using_db(conn)
            .update(withdrawn_at=datetime.now(UTC))
        )
        if not changed:
            raise AlreadyWithdrawn(f"选登问答 #{entry_id} 已撤下。")
        if entry.comment_id is not None:
            await Comment.filter(id=entry.comment_id).using_db(conn).update(selected=False)
        await audit.record(
            conn,
            actor.name,
            "qa.withdraw",
            "qa_entry",
            entry.id,
            {"comment_id": entry.comment_id, "reason": reason.strip()},
        )
        await site_version.announce(conn)  # its page answers 410 and it leaves the feed
        await search_index.remove_qa(conn, entry.id)
        await entry.refresh_from_db(using_db=conn)
    return entry


# -- what the public page reads -------------------------------------------------------------
async def published(
    page: int, per_page: int, category: str | None = None
) -> tuple[list[QaEntry], int]:
    """One page of the public entries, newest first, and how many there are in all."""
    query = QaEntry.filter(withdrawn_at__isnull=True)
    if category:
        query = query.filter(category=category)
    total = await query.count()
    rows = (
        await query.order_by("-published_at", "-id").offset((page - 1) * per_page).limit(per_page)
    )
    return rows, total


async def categories() -> list[str]:
    """The categories that have public entries, for the page's filter."""
    rows = (
        await QaEntry.filter(withdrawn_at__isnull=True)
        .exclude(category="")
        .distinct()
        .values_list("category", flat=True)
    )
    return sorted(str(r) for r in rows)


async def public_entry(entry_id: int) -> QaEntry | None:
    """One entry as the public sees it (withdrawn ones included: the page answers 410)."""
    return await QaEntry.get_or_none(id=entry_id)
