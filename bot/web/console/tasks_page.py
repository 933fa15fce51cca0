"""专项回应 (every staff role reads; editors and moderators close, moderators answer): the tasks
with their due dates and the on-time rate of the year, one task's page (why it was opened,
the linked comments, closing it with a published response item and a note on what changed,
its history), and answering the linked comments in bulk after a confirmation page that names
the text, the channels and the comments it cannot answer (bot/web/console/confirm.py).

Each action goes through bot.matters, which checks the state and writes the audit event in the
same transaction; its Chinese refusals come back to the page as a flash message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.errors import Refusal
from bot.matters import answers
from bot.matters.answers import BLOCKED, READY, STATE_LABELS, Plan
from bot.matters.figures import task_figures
from bot.matters.tasks import REASON_LABELS, close_task, get_task, list_tasks
from bot.models import (
    COMMENT_STATUS_LABELS,
    MATTER_TASK_STATUS_LABELS,
    AuditEvent,
    MatterTask,
    MatterTaskStatus,
    Role,
)
from bot.reports.labels import channel_label
from bot.web.console import confirm
from bot.web.console.audit_text import Teller, needed
from bot.web.console.confirm import Confirmation
from bot.web.console.core import MODERATOR, PREFIX, Ctx, Pager, Route
from bot.web.console.labels import Names

CLOSERS = (Role.EDITOR, Role.MODERATOR)
FIELD_MAX = 10_000
SOON = timedelta(days=3)  # an open task due within this is 即将到期


def _detail(task_id: int) -> str:
    return f"{PREFIX}/tasks/{task_id}"


def _labels(labels: Mapping[Any, str]) -> dict[str, str]:
    return {str(k): v for k, v in labels.items()}


def due_state(task: MatterTask, now: datetime) -> tuple[str, str]:
    """(badge class, words) of an open task's due time; ("", "") when it is closed."""
    if task.status != MatterTaskStatus.OPEN.value:
        return "", ""
    if task.due_at < now:
        return "overdue", "已逾期"
    if task.due_at < now + SOON:
        return "soon", "即将到期"
    return "ok", "期限内"


async def _field(ctx: Ctx, name: str) -> str:
    value = (await ctx.form()).get(name, "")
    return value[:FIELD_MAX] if isinstance(value, str) else ""


async def tasks_list(ctx: Ctx) -> web.StreamResponse:
    status = ctx.request.query.get("status", "")
    shown = status if status in {s.value for s in MatterTaskStatus} else ""
    total = (await list_tasks(shown or None, limit=1))[1]
    pager = Pager.from_request(ctx.request, ctx.state.cfg.page_size, total)
    rows, _ = await list_tasks(shown or None, limit=pager.size, offset=pager.offset)
    now = ctx.state.clock()
    tz: ZoneInfo = ctx.state.tz
    year = now.astimezone(tz).replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    rates = await task_figures(year, now, now)
    return await ctx.render(
        "console/tasks.html",
        tasks=rows,
        due={t.id: due_state(t, now) for t in rows},
        pager=pager,
        shown=shown,
        rates=rates,
        rate_text="—" if rates.on_time_rate is None else f"{rates.on_time_rate * 100:.1f}%",
        status_labels=_labels(MATTER_TASK_STATUS_LABELS),
        reason_labels=REASON_LABELS,
    )


async def task_page(ctx: Ctx) -> web.StreamResponse:
    task_id = ctx.int_param("id")
    try:
        detail = await get_task(task_id)
    except Refusal as exc:
        raise web.HTTPNotFound(text=str(exc)) from exc
    task = detail.task
    history = await AuditEvent.filter(target_type="matter_task", target_id=str(task_id)).order_by(
        "id"
    )
    wanted = needed(history)
    wanted["actors"] |= {a for a in (task.opened_by, task.closed_by) if a}
    names = await Names.load(**wanted)
    linkable = {"item", "comment", "matter_task"} if ctx.has(Role.MODERATOR) else {"item"}
    teller = Teller(names, ctx.state.tz, linkable)
    plan: Plan | None = None
    plan_error = ""
    if task.status == MatterTaskStatus.CLOSED.value and ctx.has(Role.MODERATOR):
        try:
            plan = await answers.plan(task_id, ctx.actor, ctx.config)
        except Refusal as exc:
            plan_error = str(exc)
    return await ctx.render(
        "console/task.html",
        t=task,
        d=detail,
        due=due_state(task, ctx.state.clock()),
        who=names,
        history=[teller.tell(e) for e in history],
        plan=plan,
        plan_error=plan_error,
        ready=plan.count(READY) if plan else 0,
        state_labels=STATE_LABELS,
        states={r.comment.id: (r.state, r.reason) for r in plan.rows} if plan else {},
        status_labels=_labels(MATTER_TASK_STATUS_LABELS),
        comment_status=_labels(COMMENT_STATUS_LABELS),
        reason_labels=REASON_LABELS,
        channel_label=channel_label,
        may_close=ctx.has(*CLOSERS) and task.status == MatterTaskStatus.OPEN.value,
        can_open_comments=ctx.has(Role.MODERATOR),
        public_url=answers.response_url(ctx.config, detail.item) if detail.item else "",
    )


async def close(ctx: Ctx) -> web.StreamResponse:
    task_id = ctx.int_param("id")
    raw = (await _field(ctx, "item_id")).strip().lstrip("#")
    note = await _field(ctx, "note")
    try:
        if not raw.isdigit() or len(raw) > 10:
            shown = raw[:20] or "（空）"
            raise Refusal(f"回应稿件编号「{shown}」无效：请填写已发布稿件的编号（数字）。")
        task = await close_task(
            task_id, ctx.actor, item_id=int(raw), note=note, now=ctx.state.clock()
        )
    except Refusal as exc:
        await ctx.flash("error", str(exc))
        raise ctx.redirect(_detail(task_id)) from exc
    await ctx.draft_saved(await ctx.form())
    timing = "按期" if task.on_time else "逾期"
    await ctx.flash("ok", f"专项回应任务 #{task_id} 已办结（{timing}）。可批量答复关联的留言。")
    raise ctx.redirect(_detail(task_id))


def _confirmation(ctx: Ctx, p: Plan) -> Confirmation:
    enabled = set(ctx.config.channels.enabled_names())
    ways = "、".join(f"{channel_label(c)} {n} 条" for c, n in p.channels())
    notes: list[str] = []
    for row in p.rows:
        if row.state == BLOCKED:
            notes.append(f"留言 #{row.comment.id} 不会答复：{row.reason}。")
    unreachable = sorted({c for c, _ in p.channels() if c not in enabled})
    for name in unreachable:
        notes.append(
            f"渠道「{channel_label(name)}」未配置或未启用，经它的答复将发送失败，须通过其他方式"
            "（电话、书面或原系统）答复。"
        )
    signoff = ctx.config.inbox.signoff
    if signoff.categories or signoff.channels:
        notes.append("按审签设置需要审签的留言，答复将先提交审签，审签通过后才发送。")
    facts: Sequence[tuple[str, str]] = [
        ("回应稿件", f"《{p.item.title}》"),
        ("将答复", f"{p.count(READY)} 条（{ways or '无'}）"),
        ("此前已答复", f"{p.count(answers.ANSWERED)} 条（不会再次答复）"),
        ("暂不能答复", f"{p.count(BLOCKED)} 条"),
    ]
    return Confirmation(
        title=f"确认批量答复：专项回应任务 #{p.task.id}",
        consequence=(
            f"将把以下答复分别发给 {p.count(READY)} 条关联留言，各经其来源渠道（{ways or '无'}）；"
            "确认后排入发送队列，发出后无法撤回。每条留言只答复一次。"
        ),
        button="确认批量答复",
        back=_detail(p.task.id),
        facts=facts,
        quotes=[("答复内容（原样发送）", p.text)],
        notes=notes,
    )


async def reply_all(ctx: Ctx) -> web.StreamResponse:
    task_id = ctx.int_param("id")
    text = await _field(ctx, "text")
    try:
        if not await confirm.confirmed(ctx):
            p = await answers.plan(task_id, ctx.actor, ctx.config, text)
            return await confirm.ask(ctx, _confirmation(ctx, p))
        done = await answers.reply_all(task_id, ctx.actor, ctx.config, text)
    except Refusal as exc:
        await ctx.flash("error", str(exc))
        raise ctx.redirect(_detail(task_id)) from exc
    parts = [f"已排入发送队列 {len(done.queued)} 条"]
    if done.signoff:
        parts.append(f"提交审签 {len(done.signoff)} 条")
    if done.already:
        parts.append(f"此前已答复 {done.already} 条")
    if done.skipped:
        parts.append(f"未答复 {len(done.skipped)} 条（原因见下方关联留言）")
    await ctx.flash("ok", "批量答复：" + "，".join(parts) + "。")
    raise ctx.redirect(_detail(task_id))


ROUTES = [
    Route("GET", f"{PREFIX}/tasks", tasks_list),
    Route("GET", f"{PREFIX}/tasks/{{id}}", task_page),
    Route("POST", f"{PREFIX}/tasks/{{id}}/close", close, CLOSERS),
    Route("POST", f"{PREFIX}/tasks/{{id}}/reply-all", reply_all, MODERATOR),
]
