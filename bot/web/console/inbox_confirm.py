"""What the inbox's confirmation pages say (bot/web/console/confirm.py): 发送答复 (the text, the
channel it goes through and when), 选登 (the masked question and answer as the public will see
them) and the 审签 that sends or publishes them, each naming whether a second moderator must
sign it off first ([inbox.signoff]) and why."""

from __future__ import annotations

from bot.inbox.qa import QaPreview
from bot.models import COMMENT_KIND_LABELS, Comment, CommentReply, QaProposal
from bot.reports.labels import channel_label
from bot.web.console.confirm import Confirmation
from bot.web.console.core import PREFIX, Ctx
from bot.web.console.labels import Names


def detail(comment_id: int) -> str:
    return f"{PREFIX}/inbox/{comment_id}"


def signoff_why(ctx: Ctx, comment: Comment) -> str:
    """Why [inbox.signoff] asks for a second moderator, e.g. 分类为「投诉」; "" when it does not."""
    rules = ctx.config.inbox.signoff
    parts = []
    if comment.category and comment.category in rules.categories:
        parts.append(f"分类为「{comment.category}」")
    if comment.channel in rules.channels:
        parts.append(f"来自{channel_label(comment.channel)}")
    return "、".join(parts)


def _route(ctx: Ctx, comment: Comment) -> tuple[str, list[str]]:
    """How the answer reaches the writer, and what to know about that route."""
    name = channel_label(comment.channel)
    kind = COMMENT_KIND_LABELS.get(comment.kind, comment.kind)
    notes = []
    if comment.channel not in ctx.config.channels.enabled_names():
        notes.append(
            f"渠道「{name}」未配置或未启用，答复将发送失败，须通过其他方式（电话、书面）答复。"
        )
    if comment.channel == "feed":
        how = f"{name}：显示在留言人的查询码页面上（{kind}）"
    elif comment.kind == "article_comment":
        how = f"{name}：作为对其文章留言的回复，显示在该文章的留言下（{kind}）"
    elif comment.channel == "wechat":
        how = f"{name}：以客服消息发给留言人（{kind}）"
        notes.append(
            "微信只允许在留言人最后一次互动后 48 小时内发送客服消息；超过时限将显示"
            "「需改用其他方式答复」。"
        )
    else:
        how = f"{name}（{kind}）"
    return how, notes


def reply(ctx: Ctx, comment: Comment, text: str) -> Confirmation:
    """发送答复: the text as it will be sent, the channel, and now or after 审签."""
    how, notes = _route(ctx, comment)
    local = ctx.state.env.filters["local"]
    interval = ctx.config.inbox.reply_interval_seconds
    why = signoff_why(ctx, comment)
    if why:
        consequence = (
            f"本留言{why}，须经审签：确认后答复保存为「待审签」，现在不会发送；另一位留言管理员"
            f"审签通过后，才通过{how}发给留言人。"
        )
        notes.append("等待审签期间不算已答复，答复期限照常计算。")
        button = "提交审签"
    else:
        consequence = (
            f"将通过{how}把以下答复发给留言人：确认后立即排入发送队列，后台发送程序通常在 "
            f"{interval:g} 秒内发出；发出后无法撤回。"
        )
        button = "确认发送"
    facts = [
        ("留言", f"#{comment.id}（{local(comment.received_at)} 收到）"),
        ("答复期限", local(comment.due_at) if comment.due_at else "无期限"),
    ]
    return Confirmation(
        title=f"确认发送答复：留言 #{comment.id}",
        consequence=consequence,
        button=button,
        back=detail(comment.id),
        facts=facts,
        quotes=[("答复内容（原样发送）", text)],
        notes=notes,
    )


def reply_signoff(ctx: Ctx, reply: CommentReply, comment: Comment, who: Names) -> Confirmation:
    """审签 of a reply: it goes out at once."""
    how, notes = _route(ctx, comment)
    sender = who(reply.sent_by or reply.author)
    return Confirmation(
        title=f"确认审签答复 #{reply.id}：留言 #{comment.id}",
        consequence=(
            f"审签通过后，答复 #{reply.id}（{sender} 提交）立即排入发送队列，通过{how}发给"
            "留言人；发出后无法撤回。"
        ),
        button="确认审签并发送",
        back=detail(comment.id),
        facts=[("撰写人", who(reply.author)), ("提交审签", sender)],
        quotes=[("答复内容（原样发送）", reply.text)],
        notes=notes,
    )


def _masked(removed: tuple[str, ...] | list[str]) -> str:
    return f"已遮盖：{'、'.join(removed)}" if removed else "未发现需要遮盖的个人信息"


def qa_select(ctx: Ctx, comment: Comment, p: QaPreview) -> Confirmation:
    """选登: the question and answer as the public will see them, masked."""
    why = signoff_why(ctx, comment)
    public = "网站公开问答页（/qa）及其订阅（/qa.atom），任何人都能看到"
    if why:
        consequence = (
            f"本留言{why}，须经审签：确认后选登申请等待另一位留言管理员审签，现在不会公开；审签"
            f"通过后，以下问题和答复将公开在{public}。"
        )
        button = "提交审签"
    else:
        consequence = (
            f"将把以下问题和答复公开在{public}；可随时撤下，但已被他人看到或转载的无法收回。"
        )
        button = "确认选登"
    return Confirmation(
        title=f"确认选登：留言 #{comment.id}",
        consequence=consequence,
        button=button,
        back=f"{detail(comment.id)}/qa",
        facts=[
            ("个人信息", _masked(p.removed)),
            ("分类", p.category or "未分类"),
            ("承办处室", p.office or "—"),
        ],
        quotes=[("问题（公开显示）", p.question), ("答复（公开显示）", p.answer)],
    )


def qa_signoff(ctx: Ctx, proposal: QaProposal, who: Names) -> Confirmation:
    """审签 of a 选登: it goes public at once."""
    return Confirmation(
        title=f"确认审签选登：留言 #{proposal.comment_id}",
        consequence=(
            f"审签通过后，选登申请 #{proposal.id}（{who(proposal.proposed_by)} 提出）立即公开在"
            "网站公开问答页（/qa）及其订阅，任何人都能看到。"
        ),
        button="确认审签并公开",
        back=detail(proposal.comment_id),
        facts=[("个人信息", _masked(list(proposal.removed)))],
        quotes=[("问题（公开显示）", proposal.question), ("答复（公开显示）", proposal.answer)],
    )
