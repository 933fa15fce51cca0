"""审签 in the console ([inbox.signoff] names 投诉): the moderator's 发送答复 and 选登 wait as
待审签, which the list and the comment page show; the author's own sign-off is refused in
Chinese and the page offers them no button; a second moderator signs off after a confirmation
(the reply is sent once by the real reply sender, 选登 goes public) or returns it with a reason
(nothing goes out). Over a real server and SQLite database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.config import Config, parse_config
from bot.inbox import ops as inbox_ops
from bot.models import Comment, CommentReply, QaEntry, QaProposal
from bot.users import actor_for_user
from tests.conftest import Staff, add_test_user
from tests.web.console.test_auth import ENVIRON, client_for, login
from tests.web.console.test_confirm import confirmation, consequence
from tests.web.console.test_inbox import get_ok, ingest, post, send_replies

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def signing(cconfig: Config, cstaff: Staff) -> AsyncIterator[tuple[Config, Client, Client]]:
    """The console with 投诉 under sign-off, and two moderators' browsers: mod's and nina's."""
    data = cconfig.model_dump()
    data["inbox"]["signoff"] = {"categories": ["投诉"]}
    config = parse_config(data, "test", environ=ENVIRON)
    await add_test_user("nina", ["moderator"], "Pw-november-2026", "system:test")
    mod, nina = await client_for(config), await client_for(config)
    yield config, mod, nina
    await mod.close()
    await nina.close()


async def complaint(config: Config) -> Comment:
    comment = await ingest(config, "投诉：某网贷平台暴力催收，请查处。")
    mod = await actor_for_user("mod")
    return await inbox_ops.set_category(comment.id, mod, category="投诉", config=config)


async def confirm(client: Client, token: str, page: str) -> str:
    """Press 确认 on a confirmation page: its fields posted again."""
    action, fields = confirmation(page)
    _, after = await post(
        client, action, token, **{k: v for k, v in fields.items() if k != "_csrf"}
    )
    return after


async def test_a_reply_waits_for_a_second_moderator_who_sends_it_once(
    signing: tuple[Config, Client, Client],
) -> None:
    config, mod, nina = signing
    comment = await complaint(config)
    base = f"/console/inbox/{comment.id}"
    mod_token = await login(mod, "mod", "Pw-mike-2026")
    assert "须经审签：发送答复后，由另一位留言管理员审签通过才会发出" in await get_ok(mod, base)

    _, page = await post(mod, f"{base}/reply", mod_token, text="您好，已转执法部门核查。")
    assert consequence(page).startswith(
        "本留言分类为「投诉」，须经审签：确认后答复保存为「待审签」"
    )
    assert "提交审签" in page and not await CommentReply.filter(comment_id=comment.id).exists()
    page = await confirm(mod, mod_token, page)
    assert "已提交审签：另一位留言管理员审签通过后才会发送" in page
    reply = await CommentReply.get(comment_id=comment.id)
    assert reply.status == "signoff"
    assert 'data-reply-status="signoff">待审签' in page
    assert "审签通过并发送" not in page  # the author is offered no sign-off
    assert "两人审签：您撰写或提交了此答复" in page
    assert "待审签" in await get_ok(mod, "/console/inbox")
    assert await send_replies(config) == 0

    # The author's sign-off, posted all the same, is refused in Chinese, with or without 确认.
    for extra in ({}, {"confirmed": "1"}):
        _, page = await post(mod, f"{base}/replies/{reply.id}/signoff", mod_token, **extra)
        assert f"两人审签规则：答复 #{reply.id} 是您撰写或提交的，您不能审签" in page
    assert (await CommentReply.get(id=reply.id)).status == "signoff"

    nina_token = await login(nina, "nina", "Pw-november-2026")
    page = await get_ok(nina, base)
    assert "审签通过并发送" in page
    _, page = await post(nina, f"{base}/replies/{reply.id}/signoff", nina_token)
    assert consequence(page).startswith(f"审签通过后，答复 #{reply.id}（mod 提交）立即排入")
    assert "您好，已转执法部门核查。" in page
    assert (await CommentReply.get(id=reply.id)).status == "signoff"  # asked, not done
    page = await confirm(nina, nina_token, page)
    assert f"答复 #{reply.id} 已审签，已排入发送队列" in page
    signed = await CommentReply.get(id=reply.id)
    assert signed.status == "queued" and signed.signoff_by == "user:nina"
    # A second 确认 (another tab, a double click) does nothing more.
    _, again = await post(nina, f"{base}/replies/{reply.id}/signoff", nina_token, confirmed="1")
    assert "不在待审签状态" in again
    assert await send_replies(config) == 1
    assert await send_replies(config) == 0
    assert (await Comment.get(id=comment.id)).status == "replied"


async def test_a_returned_reply_is_not_sent_and_shows_the_reason(
    signing: tuple[Config, Client, Client],
) -> None:
    config, mod, nina = signing
    comment = await complaint(config)
    base = f"/console/inbox/{comment.id}"
    mod_token = await login(mod, "mod", "Pw-mike-2026")
    await post(mod, f"{base}/reply", mod_token, text="不予受理。", confirmed="1")
    reply = await CommentReply.get(comment_id=comment.id)
    nina_token = await login(nina, "nina", "Pw-november-2026")
    _, page = await post(nina, f"{base}/replies/{reply.id}/return", nina_token, reason="")
    assert "退回须填写理由" in page
    _, page = await post(
        nina, f"{base}/replies/{reply.id}/return", nina_token, reason="请写明不予受理的依据"
    )
    assert f"答复 #{reply.id} 已退回，不会发送" in page
    assert "退回理由：请写明不予受理的依据" in page
    assert (await CommentReply.get(id=reply.id)).status == "returned"
    assert await send_replies(config) == 0


async def test_a_selection_waits_for_a_second_moderator_who_publishes_it(
    signing: tuple[Config, Client, Client],
) -> None:
    config, mod, nina = signing
    comment = await complaint(config)
    base = f"/console/inbox/{comment.id}"
    mod_token = await login(mod, "mod", "Pw-mike-2026")
    await post(mod, f"{base}/reply", mod_token, text="您好，已核查。", confirmed="1")
    reply = await CommentReply.get(comment_id=comment.id)
    nina_token = await login(nina, "nina", "Pw-november-2026")
    await post(nina, f"{base}/replies/{reply.id}/signoff", nina_token, confirmed="1")
    await send_replies(config)

    assert "选登须经另一位留言管理员审签后才公开" in await get_ok(mod, base)
    _, page = await post(
        mod, f"{base}/qa", mod_token, question="网贷催收怎么办？", answer="已核查。"
    )
    assert consequence(page).startswith("本留言分类为「投诉」，须经审签：确认后选登申请等待")
    page = await confirm(mod, mod_token, page)
    proposal = await QaProposal.get(comment_id=comment.id)
    assert f"选登申请 #{proposal.id} 已提交审签" in page
    assert "两人审签：选登由您提出" in page and "审签通过并公开" not in page
    assert not await QaEntry.filter(comment_id=comment.id).exists()
    assert "选登待审签" in await get_ok(mod, "/console/inbox?status=all")

    path = f"{base}/qa/proposals/{proposal.id}/signoff"
    _, page = await post(mod, path, mod_token, confirmed="1")
    assert "两人审签规则：选登申请" in page
    _, page = await post(nina, path, nina_token)
    assert consequence(page).startswith(f"审签通过后，选登申请 #{proposal.id}（mod 提出）")
    assert "网贷催收怎么办？" in page and not await QaEntry.filter(comment_id=comment.id).exists()
    page = await confirm(nina, nina_token, page)
    entry = await QaEntry.get(comment_id=comment.id)
    assert f"已公开在公开问答页（问答 #{entry.id}）" in page
    assert entry.question == "网贷催收怎么办？" and entry.withdrawn_at is None


async def test_without_signoff_rules_a_complaint_is_answered_at_once(
    cclient: Client, cconfig: Config
) -> None:
    comment = await complaint(cconfig)
    token = await login(cclient, "mod", "Pw-mike-2026")
    base = f"/console/inbox/{comment.id}"
    assert "须经审签" not in await get_ok(cclient, base)
    _, page = await post(cclient, f"{base}/reply", token, text="您好。")
    assert "须经审签" not in page and "立即排入发送队列" in consequence(page)
    await post(cclient, f"{base}/reply", token, text="您好。", confirmed="1")
    assert (await CommentReply.get(comment_id=comment.id)).status == "queued"
