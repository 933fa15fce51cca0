"""审签 ([inbox.signoff], bot/inbox/signoff.py, bot/inbox/qa_signoff.py): a reply or 选登 of a
named category or channel waits for a second moderator; who wrote or sent it cannot sign it
off; a sign-off queues the reply for the real reply sender exactly once (twice at once too) and
publishes a 选登 once; a returned one goes nowhere; the due clock keeps running meanwhile; with
no rules nothing changes. The reply goes out over real HTTP on 127.0.0.1 (tests/inbox/
test_replies.py's remote service)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot import users
from bot.actors import Actor
from bot.config import Config, ConfigError, SignoffConfig, parse_config
from bot.inbox import ops as inbox_ops
from bot.inbox import qa, qa_signoff, signoff
from bot.inbox.ops import ReplyInProgress
from bot.inbox.replies import ReplySender
from bot.models import AuditEvent, Comment, CommentReply, QaEntry, QaProposal
from bot.site import version as site_version
from scheduler.alerts import Alerter
from scheduler.sla import sla_sweep
from tests.conftest import add_test_user
from tests.inbox.test_replies import Remote, RemoteChannel, setup
from tests.scheduler.test_sla import sh

Service = tuple[Remote, str, aiohttp.ClientSession]
RULES = SignoffConfig(categories=["投诉"])


@pytest.fixture
async def remote() -> AsyncIterator[Service]:
    """The remote service of test_replies.py, listening on 127.0.0.1."""
    service = Remote()
    app = web.Application()
    app.router.add_post("/reply", service.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        yield service, str(server.make_url("/reply")), session
    await server.close()


async def complaint(config: Config) -> tuple[Actor, Comment]:
    """mia, and a comment she has filed under 投诉 (a category the rules name)."""
    mia, c = await setup(config)
    await inbox_ops.set_category(c.id, mia, category="投诉", config=config)
    return mia, await Comment.get(id=c.id)


async def moderator(name: str, *roles: str) -> Actor:
    await add_test_user(name, list(roles or ["moderator"]), "Pw-sign-off-2026", "system:test")
    return await users.actor_for_user(name)


def sender(config: Config, service: Service, owner: str = "s1") -> ReplySender:
    _, url, session = service
    return ReplySender(config, {"remote": RemoteChannel(url, session)}, owner=owner)


async def actions(comment_id: int) -> list[str]:
    rows = AuditEvent.filter(target_type="comment", target_id=str(comment_id)).order_by("id")
    return [str(a) for a in await rows.values_list("action", flat=True)]


async def test_a_reply_of_a_named_category_waits_for_signoff_and_is_not_sent(
    config: Config, remote: Service
) -> None:
    mia, c = await complaint(config)
    reply = await inbox_ops.send_reply(c.id, mia, text="您好，已转执法部门核查。", signoff=RULES)
    assert reply.status == "signoff" and reply.sent_by == "user:mia"
    stored = await Comment.get(id=c.id)
    assert stored.reply_status == "signoff" and stored.status == "open"
    assert await sender(config, remote).run_until_idle() == 0
    assert remote[0].received == []
    assert (await actions(c.id))[-1] == "reply.await_signoff"
    # One answer at a time: the next one waits until this one is decided.
    with pytest.raises(ReplyInProgress, match="已有一条答复在等待审签"):
        await inbox_ops.send_reply(c.id, mia, text="补充答复", signoff=RULES)
    with pytest.raises(ReplyInProgress, match="等待审签"):
        await inbox_ops.reply_plan(c.id, mia, text="补充答复")


async def test_who_wrote_or_sent_a_reply_cannot_sign_it_off(config: Config) -> None:
    mia, c = await complaint(config)
    nina = await moderator("nina")
    root = await moderator("boss", "admin")
    draft = await inbox_ops.draft_reply(c.id, mia, text="草拟的答复")
    reply = await inbox_ops.send_reply(c.id, nina, reply_id=draft.id, signoff=RULES)
    assert reply.author == "user:mia" and reply.sent_by == "user:nina"
    for actor in (mia, nina):
        with pytest.raises(signoff.SelfSignoff) as refused:
            await signoff.sign_off_reply(reply.id, actor)
        assert refused.value.code == "two_person_rule" and refused.value.status_code == 403
        assert str(refused.value) == (
            f"两人审签规则：答复 #{reply.id} 是您撰写或提交的，您不能审签，"
            "请由另一位留言管理员审签。"
        )
        assert not signoff.may_sign_off(actor, reply)
    assert (await CommentReply.get(id=reply.id)).status == "signoff"
    assert signoff.may_sign_off(root, reply)  # an admin holds the moderator's role
    assert (await signoff.sign_off_reply(reply.id, root)).status == "queued"


async def test_two_signoffs_at_once_queue_the_reply_once_and_it_is_sent_once(
    any_config: Config, remote: Service
) -> None:
    mia, c = await complaint(any_config)
    nina, otto = await moderator("nina"), await moderator("otto")
    reply = await inbox_ops.send_reply(c.id, mia, text="您好，已核查处理。", signoff=RULES)
    results = await asyncio.gather(
        signoff.sign_off_reply(reply.id, nina),
        signoff.sign_off_reply(reply.id, otto),
        signoff.sign_off_reply(reply.id, nina),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, CommentReply)]
    lost = [r for r in results if isinstance(r, Exception)]
    assert len(won) == 1 and len(lost) == 2
    assert all(isinstance(e, signoff.NotAwaitingSignoff) for e in lost), lost
    assert "不在待审签状态" in str(lost[0])
    stored = await CommentReply.get(id=reply.id)
    assert stored.status == "queued" and stored.signoff_by == won[0].signoff_by
    assert stored.signoff_at is not None
    assert (await actions(c.id)).count("reply.signed_off") == 1
    senders = [sender(any_config, remote, f"s{n}") for n in range(2)]
    await asyncio.gather(*(s.run_until_idle() for s in senders))
    assert remote[0].received == [
        {"to": "u-1", "text": "您好，已核查处理。", "key": f"reply-{reply.id}"}
    ]
    done = await Comment.get(id=c.id)
    assert done.status == "replied" and done.first_reply_at is not None
    with pytest.raises(signoff.NotAwaitingSignoff, match="已送达"):
        await signoff.sign_off_reply(reply.id, otto)


async def test_a_returned_reply_is_never_sent_and_keeps_the_reason(
    config: Config, remote: Service
) -> None:
    mia, c = await complaint(config)
    nina = await moderator("nina")
    reply = await inbox_ops.send_reply(c.id, mia, text="您好，不予受理。", signoff=RULES)
    with pytest.raises(inbox_ops.InvalidInput, match="退回须填写理由"):
        await signoff.return_reply(reply.id, nina, "  ")
    back = await signoff.return_reply(reply.id, nina, "措辞不当，请说明依据")
    assert back.status == "returned" and back.return_reason == "措辞不当，请说明依据"
    assert back.signoff_by == "user:nina"
    with pytest.raises(signoff.NotAwaitingSignoff):
        await signoff.sign_off_reply(reply.id, nina)
    assert await sender(config, remote).run_until_idle() == 0 and remote[0].received == []
    stored = await Comment.get(id=c.id)
    assert stored.reply_status == "returned" and stored.first_reply_at is None
    assert (await actions(c.id))[-1] == "reply.return"
    # The next answer may go for sign-off now.
    again = await inbox_ops.send_reply(c.id, mia, text="您好，依据……不予受理。", signoff=RULES)
    assert again.status == "signoff"


async def test_without_rules_or_for_other_comments_a_reply_is_queued_at_once(
    config: Config,
) -> None:
    mia, c = await complaint(config)
    for rules in (None, SignoffConfig(), SignoffConfig(categories=["咨询"], channels=["wechat"])):
        reply = await inbox_ops.send_reply(c.id, mia, text="答复", signoff=rules)
        assert reply.status == "queued" and reply.next_attempt_at is not None
        await CommentReply.filter(id=reply.id).update(status="sent")
    assert "reply.await_signoff" not in await actions(c.id)
    assert SignoffConfig(channels=["feed"]).applies("", "feed")
    assert not SignoffConfig(channels=["feed"]).applies("投诉", "wechat")


async def test_the_due_clock_keeps_running_while_a_reply_waits_for_signoff(
    config: Config,
) -> None:
    mia, c = await complaint(config)
    await inbox_ops.send_reply(c.id, mia, text="答复", signoff=RULES)
    # Received Monday 2025-03-03 10:00 in Shanghai, due five working days later: by April it
    # is long overdue, the waiting reply notwithstanding.
    report = await sla_sweep(config, Alerter(config, None), sh(2025, 4, 2, 10))
    assert report.escalated == {c.id: 3}
    stored = await Comment.get(id=c.id)
    assert stored.first_reply_at is None and stored.escalation_level == 3


def test_the_rules_name_known_categories_and_channels_only() -> None:
    config = parse_config(
        {"inbox": {"signoff": {"categories": ["投诉", "信访类"], "channels": ["wechat"]}}}
    )
    assert config.inbox.signoff.applies("投诉", "feed")
    assert not parse_config({}).inbox.signoff.applies("投诉", "wechat")  # off by default
    for key, value in (("categories", "无此类"), ("channels", "weibo")):
        with pytest.raises(ConfigError) as bad:
            parse_config({"inbox": {"signoff": {key: [value]}}})
        assert f"inbox.signoff.{key}.0 = '{value}'" in str(bad.value)


async def answered(config: Config, remote: Service) -> tuple[Actor, Comment]:
    mia, c = await complaint(config)
    await inbox_ops.send_reply(c.id, mia, text="您好，已转执法部门核查。")
    await sender(config, remote).run_until_idle()
    return mia, await Comment.get(id=c.id)


async def test_a_selection_waits_for_signoff_and_a_second_moderator_publishes_it_once(
    any_config: Config, remote: Service
) -> None:
    mia, c = await answered(any_config, remote)
    nina, otto = await moderator("nina"), await moderator("otto")
    before = await site_version.current()
    proposal = await qa.select(c.id, mia, question="网贷平台暴力催收怎么办？", signoff=RULES)
    assert isinstance(proposal, QaProposal) and proposal.status == "pending"
    assert proposal.question == "网贷平台暴力催收怎么办？"
    assert not await QaEntry.filter(comment_id=c.id).exists()
    assert await site_version.current() == before  # nothing public changed
    assert await qa_signoff.waiting_proposal(c.id) is not None
    with pytest.raises(qa.AlreadySelected, match="等待审签"):
        await qa.select(c.id, nina, signoff=RULES)
    with pytest.raises(qa.AlreadySelected, match="等待审签"):
        await qa.proposed(c.id)
    with pytest.raises(signoff.SelfSignoff, match="两人审签规则：选登申请"):
        await qa_signoff.sign_off(proposal.id, mia)

    results = await asyncio.gather(
        qa_signoff.sign_off(proposal.id, nina),
        qa_signoff.sign_off(proposal.id, otto),
        return_exceptions=True,
    )
    entries = [r for r in results if isinstance(r, QaEntry)]
    assert len(entries) == 1, results
    assert isinstance(next(r for r in results if not isinstance(r, QaEntry)), qa.QaError)
    entry = await QaEntry.get(comment_id=c.id)
    assert entry.withdrawn_at is None and entry.question == "网贷平台暴力催收怎么办？"
    assert entry.selected_by == "user:mia"
    decided = await QaProposal.get(id=proposal.id)
    assert decided.status == "signed_off" and decided.entry_id == entry.id
    assert decided.pending_comment is None
    assert await qa_signoff.waiting_proposal(c.id) is None
    assert await AuditEvent.filter(action="qa.signed_off").count() == 1
    assert await site_version.current() != before


async def test_a_returned_selection_is_not_published(config: Config, remote: Service) -> None:
    mia, c = await answered(config, remote)
    nina = await moderator("nina")
    proposal = await qa.select(c.id, mia, signoff=SignoffConfig(channels=["hotline"]))
    assert isinstance(proposal, QaEntry)  # the rules name another channel: published at once
    await qa.withdraw(proposal.id, mia, "重新审签")
    waiting = await qa.select(c.id, mia, signoff=RULES)
    assert isinstance(waiting, QaProposal)
    with pytest.raises(qa.InvalidText, match="退回「理由」"):
        await qa_signoff.return_proposal(waiting.id, nina, "")
    back = await qa_signoff.return_proposal(waiting.id, nina, "答复涉及个案，不宜公开")
    assert back.status == "returned" and back.return_reason == "答复涉及个案，不宜公开"
    with pytest.raises(qa_signoff.ProposalDecided):
        await qa_signoff.sign_off(waiting.id, nina)
    entry = await QaEntry.get(comment_id=c.id)
    assert entry.withdrawn_at is not None  # still off the public page
    assert "qa.return" in await actions(c.id)
