"""The inbox's forms: every action on a comment (assign, reply or draft, send a draft, note,
close, reopen, spam, not spam, escalate, set or correct the category), bulk actions from the
list with a result per comment, and 选登 (preview with the masked question and answer editable,
select, withdraw). 发送答复 and 选登, and the 审签 that sends or publishes them, ask first on a
page that names what will happen (bot/web/console/confirm.py, inbox_confirm.py); with
[inbox.signoff] they wait for a second moderator, who signs them off or returns them.

Each goes through bot.inbox.ops or bot.inbox.qa, which check the state and write the audit event in
the same transaction; their Chinese errors come back to the page as a flash message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.errors import Refusal
from bot.inbox import ops as inbox_ops
from bot.inbox import qa, signoff
from bot.inbox import qa_signoff as qa_signoff_ops
from bot.inbox.ops import InboxError
from bot.models import Comment, QaEntry, QaProposal, ReplyStatus
from bot.web.console import confirm, inbox_confirm
from bot.web.console.core import MODERATOR, PREFIX, Ctx, Route, safe_next
from bot.web.console.inbox_labels import BULK_OPS
from bot.web.console.labels import Names
from bot.wechat import comment_admin

BULK_MAX = 200  # comments one bulk action may name
FIELD_MAX = 10_000  # characters read from any one text field (the ops check their own limits)


def _detail(comment_id: int) -> str:
    return f"{PREFIX}/inbox/{comment_id}"


async def _field(ctx: Ctx, name: str) -> str:
    value = (await ctx.form()).get(name, "")
    return value[:FIELD_MAX] if isinstance(value, str) else ""


async def _run(
    ctx: Ctx, comment_id: int, done: str, action: Callable[[], Awaitable[Any]]
) -> web.StreamResponse:
    """Run one action; flash its outcome (or its Chinese error) and go back to the comment."""
    try:
        await action()
    except Refusal as exc:
        await ctx.flash("error", str(exc))
    else:
        await ctx.flash("ok", done)
    raise ctx.redirect(_detail(comment_id))


async def assign(ctx: Ctx) -> web.StreamResponse:
    cid = ctx.int_param("id")
    who = (await _field(ctx, "assignee")).strip()
    office = (await _field(ctx, "office")).strip()
    done = f"留言 #{cid} 已分派给 {who}。" if who else f"留言 #{cid} 已取消分派。"
    if office:
        done += f"承办处室：{office}。"
    return await _run(
        ctx,
        cid,
        done,
        lambda: inbox_ops.assign(cid, ctx.actor, assignee=who or None, office=office or None),
    )


async def assign_me(ctx: Ctx) -> web.StreamResponse:
    cid = ctx.int_param("id")
    me = ctx.user.username
    return await _run(
        ctx,
        cid,
        f"留言 #{cid} 已分派给我（{me}）。",
        lambda: inbox_ops.assign(cid, ctx.actor, assignee=me),
    )


async def reply(ctx: Ctx) -> web.StreamResponse:
    cid = ctx.int_param("id")
    text = await _field(ctx, "text")
    if await _field(ctx, "action") == "draft":
        return await _run(
            ctx,
            cid,
            "答复草稿已保存。",
            lambda: inbox_ops.draft_reply(cid, ctx.actor, text=text),
        )
    return await _send(ctx, cid, text=text)


async def send_draft(ctx: Ctx) -> web.StreamResponse:
    return await _send(ctx, ctx.int_param("id"), reply_id=ctx.int_param("rid"))


async def _send(
    ctx: Ctx, cid: int, *, text: str | None = None, reply_id: int | None = None
) -> web.StreamResponse:
    """发送答复, after a page that names the text, the channel and when it goes out; with
    [inbox.signoff] for the comment the reply waits for a second moderator instead."""
    try:
        if not await confirm.confirmed(ctx):
            comment, body = await inbox_ops.reply_plan(cid, ctx.actor, text=text, reply_id=reply_id)
            return await confirm.ask(ctx, inbox_confirm.reply(ctx, comment, body))
        sent = await inbox_ops.send_reply(
            cid, ctx.actor, text=text, reply_id=reply_id, signoff=ctx.config.inbox.signoff
        )
    except InboxError as exc:
        await ctx.flash("error", str(exc))
        raise ctx.redirect(_detail(cid)) from exc
    if sent.status == ReplyStatus.SIGNOFF.value:
        await ctx.flash("ok", f"答复 #{sent.id} 已提交审签：另一位留言管理员审签通过后才会发送。")
    elif reply_id is not None:
        await ctx.flash("ok", f"答复草稿 #{reply_id} 已排入发送队列。")
    else:
        await ctx.flash("ok", "答复已排入发送队列，发送结果见下方“答复”。")
    raise ctx.redirect(_detail(cid))


async def reply_signoff(ctx: Ctx) -> web.StreamResponse:
    """审签通过: the reply is queued for sending (after a page that names it)."""
    cid, rid = ctx.int_param("id"), ctx.int_param("rid")
    try:
        if not await confirm.confirmed(ctx):
            reply, comment = await signoff.signoff_plan(rid, ctx.actor)
            if reply.comment_id != cid:
                raise web.HTTPNotFound()
            who = await Names.load(actors=[reply.author, reply.sent_by])
            return await confirm.ask(ctx, inbox_confirm.reply_signoff(ctx, reply, comment, who))
        await signoff.sign_off_reply(rid, ctx.actor)
    except Refusal as exc:
        await ctx.flash("error", str(exc))
        raise ctx.redirect(_detail(cid)) from exc
    await ctx.flash("ok", f"答复 #{rid} 已审签，已排入发送队列。")
    raise ctx.redirect(_detail(cid))


async def reply_return(ctx: Ctx) -> web.StreamResponse:
    cid, rid = ctx.int_param("id"), ctx.int_param("rid")
    reason = await _field(ctx, "reason")
    return await _run(
        ctx,
        cid,
        f"答复 #{rid} 已退回，不会发送。",
        lambda: signoff.return_reply(rid, ctx.actor, reason),
    )


async def note(ctx: Ctx) -> web.StreamResponse:
    cid = ctx.int_param("id")
    text = await _field(ctx, "text")
    return await _run(
        ctx, cid, "内部备注已添加。", lambda: inbox_ops.add_note(cid, ctx.actor, text=text)
    )


async def close(ctx: Ctx) -> web.StreamResponse:
    cid = ctx.int_param("id")
    reason = (await _field(ctx, "reason")).strip()
    return await _run(
        ctx, cid, f"留言 #{cid} 已办结。", lambda: inbox_ops.close(cid, ctx.actor, reason=reason)
    )


async def reopen(ctx: Ctx) -> web.StreamResponse:
    cid = ctx.int_param("id")
    reason = (await _field(ctx, "reason")).strip()
    return await _run(
        ctx,
        cid,
        f"留言 #{cid} 已重新打开。",
        lambda: inbox_ops.reopen(cid, ctx.actor, config=ctx.config, reason=reason),
    )


async def spam(ctx: Ctx) -> web.StreamResponse:
    cid = ctx.int_param("id")
    reason = (await _field(ctx, "reason")).strip()
    return await _run(
        ctx,
        cid,
        f"留言 #{cid} 已标记为垃圾信息。",
        lambda: inbox_ops.mark_spam(cid, ctx.actor, reason=reason),
    )


async def not_spam(ctx: Ctx) -> web.StreamResponse:
    cid = ctx.int_param("id")
    return await _run(
        ctx,
        cid,
        f"留言 #{cid} 已取消垃圾信息标记，重新计算答复期限。",
        lambda: inbox_ops.mark_not_spam(cid, ctx.actor, config=ctx.config),
    )


async def escalate(ctx: Ctx) -> web.StreamResponse:
    cid = ctx.int_param("id")
    reason = await _field(ctx, "reason")
    office = (await _field(ctx, "office")).strip()
    return await _run(
        ctx,
        cid,
        f"留言 #{cid} 已督办升级。",
        lambda: inbox_ops.escalate(cid, ctx.actor, reason=reason, office=office or None),
    )


async def categorize(ctx: Ctx) -> web.StreamResponse:
    cid = ctx.int_param("id")
    category = (await _field(ctx, "category")).strip()
    return await _run(
        ctx,
        cid,
        f"留言 #{cid} 的分类已改为「{category}」，答复期限已按新分类重新计算。",
        lambda: inbox_ops.set_category(cid, ctx.actor, category=category, config=ctx.config),
    )


async def bulk(ctx: Ctx) -> web.StreamResponse:
    form = await ctx.form()
    back = safe_next(str(form.get("next", "")) or f"{PREFIX}/inbox")
    op = str(form.get("op", ""))
    raw_ids = [v for v in form.getall("ids", []) if isinstance(v, str)]
    ids = [int(v) for v in raw_ids if v.isdigit() and len(v) < 10]
    if op not in BULK_OPS:
        await ctx.flash("error", "请选择要执行的批量操作。")
        raise ctx.redirect(back)
    if not ids:
        await ctx.flash("error", "请先勾选要处理的留言。")
        raise ctx.redirect(back)
    if len(ids) > BULK_MAX:
        await ctx.flash("error", f"一次最多处理 {BULK_MAX} 条留言（已勾选 {len(ids)} 条）。")
        raise ctx.redirect(back)
    reason = str(form.get("reason", ""))[:FIELD_MAX]
    kwargs: dict[str, Any] = {}
    name = op
    if op == "assign_me":
        name, kwargs = "assign", {"assignee": ctx.user.username}
    elif op in ("close", "spam"):
        kwargs = {"reason": reason.strip()}
    elif op == "not_spam":
        kwargs = {"config": ctx.config}
    elif op == "escalate":
        kwargs = {"reason": reason}
    results = await inbox_ops.bulk(name, ids, ctx.actor, **kwargs)
    return await ctx.render(
        "console/inbox_bulk.html",
        op_label=BULK_OPS[op],
        results=results,
        ok=sum(1 for r in results if r.ok),
        back=back,
    )


# -- 选登 ----------------------------------------------------------------------------------
async def qa_preview(ctx: Ctx) -> web.StreamResponse:
    cid = ctx.int_param("id")
    try:
        preview = await qa.preview(cid)
    except qa.QaError as exc:
        await ctx.flash("error", str(exc))
        raise ctx.redirect(_detail(cid)) from exc
    return await ctx.render("console/qa_preview.html", p=preview)


async def qa_select(ctx: Ctx) -> web.StreamResponse:
    """选登, after a page that shows the question and answer as the public will see them."""
    cid = ctx.int_param("id")
    question = await _field(ctx, "question")
    answer = await _field(ctx, "answer")
    try:
        if not await confirm.confirmed(ctx):
            shown = await qa.proposed(cid, question=question, answer=answer)
            comment = await Comment.get(id=cid)
            return await confirm.ask(ctx, inbox_confirm.qa_select(ctx, comment, shown))
        done = await qa.select(
            cid, ctx.actor, question=question, answer=answer, signoff=ctx.config.inbox.signoff
        )
    except qa.QaError as exc:
        await ctx.flash("error", str(exc))
        raise ctx.redirect(
            f"{_detail(cid)}/qa" if exc.status_code == 400 else _detail(cid)
        ) from exc
    if isinstance(done, QaProposal):
        await ctx.flash(
            "ok", f"选登申请 #{done.id} 已提交审签：另一位留言管理员审签通过后才会公开。"
        )
    else:
        await ctx.flash("ok", f"已选登到公开问答页（问答 #{done.id}）。")
        await _wechat_elect(ctx, cid, selected=True)
    raise ctx.redirect(_detail(cid))


async def _wechat_elect(ctx: Ctx, cid: int, selected: bool) -> None:
    """A WeChat article comment follows its 选登: 精选 on WeChat too (or no longer)."""
    problem = await comment_admin.follow_qa(ctx.config, cid, ctx.actor, selected)
    if problem:
        await ctx.flash("error", f"选登已完成，但微信精选未同步：{problem}")


async def qa_signoff(ctx: Ctx) -> web.StreamResponse:
    """审签通过: the proposed 选登 goes public (after a page that shows it)."""
    cid, pid = ctx.int_param("id"), ctx.int_param("pid")
    try:
        if not await confirm.confirmed(ctx):
            proposal = await qa_signoff_ops.signoff_plan(pid, ctx.actor)
            if proposal.comment_id != cid:
                raise web.HTTPNotFound()
            who = await Names.load(actors=[proposal.proposed_by])
            return await confirm.ask(ctx, inbox_confirm.qa_signoff(ctx, proposal, who))
        entry = await qa_signoff_ops.sign_off(pid, ctx.actor)
    except Refusal as exc:
        await ctx.flash("error", str(exc))
        raise ctx.redirect(_detail(cid)) from exc
    await ctx.flash("ok", f"选登申请 #{pid} 已审签，已公开在公开问答页（问答 #{entry.id}）。")
    await _wechat_elect(ctx, cid, selected=True)
    raise ctx.redirect(_detail(cid))


async def qa_return(ctx: Ctx) -> web.StreamResponse:
    cid, pid = ctx.int_param("id"), ctx.int_param("pid")
    reason = await _field(ctx, "reason")
    return await _run(
        ctx,
        cid,
        f"选登申请 #{pid} 已退回，不会公开。",
        lambda: qa_signoff_ops.return_proposal(pid, ctx.actor, reason),
    )


async def qa_withdraw(ctx: Ctx) -> web.StreamResponse:
    cid = ctx.int_param("id")
    reason = await _field(ctx, "reason")
    entry = await QaEntry.filter(comment_id=cid).first()
    if entry is None:
        await ctx.flash("error", f"留言 #{cid} 没有选登记录。")
        raise ctx.redirect(_detail(cid))
    entry_id = entry.id
    try:
        await qa.withdraw(entry_id, ctx.actor, reason)
    except Refusal as exc:
        await ctx.flash("error", str(exc))
        raise ctx.redirect(_detail(cid)) from exc
    await ctx.flash("ok", f"选登问答 #{entry_id} 已从公开问答页撤下。")
    await _wechat_elect(ctx, cid, selected=False)
    raise ctx.redirect(_detail(cid))


ROUTES = [
    Route("POST", f"{PREFIX}/inbox/bulk", bulk, MODERATOR),
    Route("POST", f"{PREFIX}/inbox/{{id}}/assign", assign, MODERATOR),
    Route("POST", f"{PREFIX}/inbox/{{id}}/assign-me", assign_me, MODERATOR),
    Route("POST", f"{PREFIX}/inbox/{{id}}/reply", reply, MODERATOR),
    Route("POST", f"{PREFIX}/inbox/{{id}}/replies/{{rid}}/send", send_draft, MODERATOR),
    Route("POST", f"{PREFIX}/inbox/{{id}}/replies/{{rid}}/signoff", reply_signoff, MODERATOR),
    Route("POST", f"{PREFIX}/inbox/{{id}}/replies/{{rid}}/return", reply_return, MODERATOR),
    Route("POST", f"{PREFIX}/inbox/{{id}}/note", note, MODERATOR),
    Route("POST", f"{PREFIX}/inbox/{{id}}/close", close, MODERATOR),
    Route("POST", f"{PREFIX}/inbox/{{id}}/reopen", reopen, MODERATOR),
    Route("POST", f"{PREFIX}/inbox/{{id}}/spam", spam, MODERATOR),
    Route("POST", f"{PREFIX}/inbox/{{id}}/not-spam", not_spam, MODERATOR),
    Route("POST", f"{PREFIX}/inbox/{{id}}/escalate", escalate, MODERATOR),
    Route("POST", f"{PREFIX}/inbox/{{id}}/category", categorize, MODERATOR),
    Route("GET", f"{PREFIX}/inbox/{{id}}/qa", qa_preview, MODERATOR),
    Route("POST", f"{PREFIX}/inbox/{{id}}/qa", qa_select, MODERATOR),
    Route("POST", f"{PREFIX}/inbox/{{id}}/qa/withdraw", qa_withdraw, MODERATOR),
    Route("POST", f"{PREFIX}/inbox/{{id}}/qa/proposals/{{pid}}/signoff", qa_signoff, MODERATOR),
    Route("POST", f"{PREFIX}/inbox/{{id}}/qa/proposals/{{pid}}/return", qa_return, MODERATOR),
]
