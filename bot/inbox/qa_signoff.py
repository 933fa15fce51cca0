"""审签 of 选登: a QaProposal (bot/inbox/qa.py: select, when [inbox.signoff] names the comment's
category or channel) waits until a second moderator signs it off, which publishes it as
proposed, or returns it with a reason. Its proposer may not sign it off (bot/inbox/signoff.py's
rule); a decision is a compare-and-set on the proposal's status, so of two at once one
publishes and the other is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from bot import audit
from bot.actors import Actor
from bot.inbox import qa
from bot.inbox.qa import InvalidText, QaError
from bot.inbox.signoff import second_person
from bot.models import QaEntry, QaProposal, QaProposalStatus, Role

MAX_REASON = 2000


class ProposalNotFound(QaError):
    status_code = 404

    def __init__(self, proposal_id: int) -> None:
        super().__init__(f"选登申请 #{proposal_id} 不存在。")


class ProposalDecided(QaError):
    """Signed off or returned meanwhile (by someone else, or a second click)."""

    def __init__(self, proposal_id: int) -> None:
        super().__init__(f"选登申请 #{proposal_id} 已审签或已退回，不在待审签状态。")


async def _pending(conn: BaseDBAsyncClient | None, proposal_id: int) -> QaProposal:
    proposal = await QaProposal.filter(id=proposal_id).using_db(conn).first()
    if proposal is None:
        raise ProposalNotFound(proposal_id)
    if proposal.status != QaProposalStatus.PENDING.value:
        raise ProposalDecided(proposal_id)
    return proposal


async def _decide(
    conn: BaseDBAsyncClient,
    proposal: QaProposal,
    to: QaProposalStatus,
    actor: Actor,
    **changes: Any,
) -> None:
    """Compare-and-set from pending: of two decisions at once, the second is refused."""
    values = {
        "status": to.value,
        "pending_comment": None,
        "decided_by": actor.name,
        "decided_at": datetime.now(UTC),
        **changes,
    }
    count = (
        await QaProposal.filter(id=proposal.id, status=QaProposalStatus.PENDING.value)
        .using_db(conn)
        .update(**values)
    )
    if count != 1:
        raise ProposalDecided(proposal.id)
    proposal.update_from_dict(values)


async def signoff_plan(proposal_id: int, actor: Actor) -> QaProposal:
    """The proposal sign_off would publish now, with its refusals, writing nothing (the
    console's confirmation page shows it)."""
    actor.require(Role.MODERATOR, doing="审签选登")
    proposal = await _pending(None, proposal_id)
    second_person(actor, f"选登申请 #{proposal.id}", proposal.proposed_by)
    qa.check_selectable(await qa.load_comment(proposal.comment_id))
    return proposal


async def sign_off(proposal_id: int, actor: Actor) -> QaEntry:
    """A second moderator signs a waiting 选登 off: the exchange is published as proposed."""
    actor.require(Role.MODERATOR, doing="审签选登")
    async with in_transaction() as conn:
        proposal = await _pending(conn, proposal_id)
        second_person(actor, f"选登申请 #{proposal.id}", proposal.proposed_by)
        comment = await qa.load_comment(proposal.comment_id, conn)
        qa.check_selectable(comment)  # not marked spam or hidden meanwhile
        await _decide(conn, proposal, QaProposalStatus.SIGNED_OFF, actor)
        entry = await qa.publish_entry(
            conn,
            comment,
            actor,
            question=proposal.question,
            answer=proposal.answer,
            selected_by=proposal.proposed_by,
            action="qa.signed_off",
            details={
                "proposal_id": proposal.id,
                "proposed_by": proposal.proposed_by,
                "reply_id": proposal.reply_id,
                "question_edited": proposal.question_edited,
                "answer_edited": proposal.answer_edited,
                "removed": list(proposal.removed),
            },
        )
        await QaProposal.filter(id=proposal.id).using_db(conn).update(entry_id=entry.id)
        proposal.entry_id = entry.id
    return entry


async def return_proposal(proposal_id: int, actor: Actor, reason: str) -> QaProposal:
    """A waiting 选登 goes back with a reason and is not published (its proposer may take it
    back this way too)."""
    actor.require(Role.MODERATOR, doing="审签选登")
    why = reason.strip()
    if not why:
        raise InvalidText("请填写退回「理由」。")
    if len(why) > MAX_REASON:
        raise InvalidText(f"退回「理由」不能超过 {MAX_REASON} 字（现有 {len(why)} 字）。")
    async with in_transaction() as conn:
        proposal = await _pending(conn, proposal_id)
        await _decide(conn, proposal, QaProposalStatus.RETURNED, actor, return_reason=why)
        await audit.record(
            conn,
            actor.name,
            "qa.return",
            "comment",
            proposal.comment_id,
            {"proposal_id": proposal.id, "reason": why},
        )
    return proposal


async def waiting_proposal(comment_id: int) -> QaProposal | None:
    """The comment's 选登 waiting for sign-off, if any."""
    return await QaProposal.filter(pending_comment=comment_id).first()
