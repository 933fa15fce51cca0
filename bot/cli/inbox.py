"""`gongkai inbox …`: the comment inbox from the command line — list, show, assign, note, reply,
close, reopen, spam / not-spam, escalate, 审签 (signoff), send queued replies, import 12345 work
orders, and the metrics. Tables for people, --json for scripts; who acts is --as, as for other
commands."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click

from bot.cli.base import Refused, as_option, fail, json_option, session, username
from bot.cli.output import local, print_table
from bot.config import Config
from bot.errors import EXIT_USAGE
from bot.items.serialize import iso
from bot.models import COMMENT_KIND_LABELS, COMMENT_STATUS_LABELS, REPLY_STATUS_LABELS, Comment
from moderation.classifier import CATEGORIES

T = TypeVar("T")


def status_label(status: str) -> str:
    return {s.value: label for s, label in COMMENT_STATUS_LABELS.items()}.get(status, status)


def reply_label(status: str) -> str:
    return {s.value: label for s, label in REPLY_STATUS_LABELS.items()}.get(status, status or "—")


def comment_json(c: Comment) -> dict[str, Any]:
    """A comment as scripts see it: the masked text only (the original is for the record)."""
    return {
        "id": c.id,
        "channel": c.channel,
        "kind": c.kind,
        "item_id": c.item_id,
        "text": c.masked_text,
        "category": c.category,
        "simple": c.simple,
        "office": c.office,
        "status": c.status,
        "hidden": c.hidden,
        "flags": list(c.flags),
        "received_at": iso(c.received_at),
        "due_at": iso(c.due_at),
        "calendar_known": c.calendar_known,
        "assignee_id": c.assignee_id,
        "reply": c.reply,
        "reply_status": c.reply_status,
        "first_reply_at": iso(c.first_reply_at),
        "escalation_level": c.escalation_level,
        "suggested_answer": c.suggested_answer,
        "suggested_source": c.suggested_source,
        "confidence": c.confidence,
    }


def emit(as_json: bool, data: Any, message: str) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, default=str) if as_json else message)


def act(ctx: click.Context, work: Callable[[Config], Awaitable[T]]) -> T | None:
    """Run an inbox action; its refusals exit with code 4 and their Chinese message."""
    from bot.inbox.ops import InboxError

    async def wrapped(config: Config) -> T:
        try:
            return await work(config)
        except InboxError as exc:
            raise Refused(str(exc)) from exc

    return session(ctx, wrapped)


@click.group("inbox")
def inbox_group() -> None:
    """留言：列表、查看、分派、答复、办结、督办、导入 12345 工单、统计。"""


@inbox_group.command("list")
@click.option("--status", type=click.Choice([s.value for s in COMMENT_STATUS_LABELS]))
@click.option("--channel", default=None, help="渠道，如 wechat、feed、hotline")
@click.option("--office", default=None, help="承办处室")
@click.option("--category", default=None, help="类别，如 咨询、投诉")
@click.option("--assignee", default=None, help="承办人用户名；- 表示未分派")
@click.option("--due-soon", is_flag=True, help="即将到期（inbox.due_soon_hours 内）")
@click.option("--overdue", is_flag=True, help="已超期")
@click.option("--page", type=int, default=1, show_default=True)
@click.option("--per-page", type=int, default=50, show_default=True)
@json_option
@click.pass_context
def inbox_list(ctx: click.Context, as_json: bool, page: int, per_page: int, **filters: Any) -> None:
    """列出留言（待答复的按到期时间排序，其余按最新在前）。"""
    from bot.inbox.ops import InboxFilter, list_comments

    async def work(config: Config) -> None:
        result = await list_comments(InboxFilter(**filters), config, page, per_page)
        tz = ZoneInfo(config.app.timezone)
        if as_json:
            emit(
                True,
                {
                    "total": result.total,
                    "page": page,
                    "comments": [comment_json(c) for c in result.comments],
                },
                "",
            )
            return
        print_table(
            f"留言（共 {result.total} 条，第 {page} 页）",
            ["编号", "渠道", "类别", "处室", "状态", "答复", "到期时间", "督办", "内容"],
            [
                [
                    str(c.id),
                    COMMENT_KIND_LABELS.get(c.kind, c.channel),
                    c.category,
                    c.office,
                    status_label(c.status),
                    reply_label(c.reply_status),
                    local(c.due_at, tz),
                    str(c.escalation_level or ""),
                    c.masked_text[:40],
                ]
                for c in result.comments
            ],
        )

    act(ctx, work)


@inbox_group.command("show")
@click.argument("comment_id", type=int)
@json_option
@click.pass_context
def inbox_show(ctx: click.Context, comment_id: int, as_json: bool) -> None:
    """查看一条留言：内容、建议答复、答复记录、备注与操作记录。"""
    from bot.inbox.ops import get_comment

    async def work(config: Config) -> None:
        d = await get_comment(comment_id)
        c, tz = d.comment, ZoneInfo(config.app.timezone)
        if as_json:
            data = comment_json(c)
            data["assignee"] = d.assignee
            data["replies"] = [
                {
                    "id": r.id,
                    "status": r.status,
                    "text": r.text,
                    "author": r.author,
                    "attempts": r.attempts,
                    "last_error": r.last_error,
                    "sent_at": iso(r.sent_at),
                    "sent_by": r.sent_by,
                    "signoff_by": r.signoff_by,
                    "signoff_at": iso(r.signoff_at),
                    "return_reason": r.return_reason,
                }
                for r in d.replies
            ]
            data["notes"] = [
                {"author": n.author, "text": n.text, "at": iso(n.created_at)} for n in d.notes
            ]
            data["history"] = [
                {"action": e.action, "actor": e.actor, "at": iso(e.at)} for e in d.history
            ]
            emit(True, data, "")
            return
        lines = [
            f"留言 #{c.id}（{COMMENT_KIND_LABELS.get(c.kind, c.kind)}，{c.channel}）"
            f"  状态：{status_label(c.status)}",
            f"收到：{local(c.received_at, tz)}  到期：{local(c.due_at, tz)}"
            + ("（节假日安排未公布，未计调休）" if not c.calendar_known else ""),
            f"类别：{c.category or '—'}{'（简单问题）' if c.simple else ''}"
            f"  处室：{c.office or '—'}  承办人：{d.assignee or '—'}"
            f"  督办级别：{c.escalation_level}",
            f"内容：{c.masked_text}",
        ]
        if c.flags:
            lines.append(f"标记：{'、'.join(c.flags)}")
        if c.suggested_answer:
            lines.append(
                f"建议答复（{c.suggested_source}，置信度 {c.confidence:.2f}）：{c.suggested_answer}"
            )
        for r in d.replies:
            extra = f"：{r.last_error}" if r.last_error else ""
            if r.return_reason:
                extra += f"（{r.signoff_by} 退回：{r.return_reason}）"
            elif r.signoff_by:
                extra += f"（{r.signoff_by} 审签）"
            lines.append(f"答复 #{r.id} [{reply_label(r.status)}] {r.author}：{r.text}{extra}")
        for n in d.notes:
            lines.append(f"备注（{n.author}，{local(n.created_at, tz)}）：{n.text}")
        for e in d.history:
            lines.append(f"  {local(e.at, tz)} {e.actor} {e.action}")
        click.echo("\n".join(lines))

    act(ctx, work)


def _simple(
    name: str, help_text: str, call: Callable[..., Awaitable[Any]], message: str, **options: Any
) -> click.Command:
    """A command `inbox NAME ID… [options]` applying one operation to one or more comments."""

    @click.pass_context
    def command(
        ctx: click.Context,
        comment_ids: tuple[int, ...],
        as_user: str | None,
        as_json: bool,
        **kwargs: Any,
    ) -> None:
        from bot import users
        from bot.inbox import ops as inbox_ops

        who = username(ctx, as_user)

        async def work(config: Config) -> None:
            actor = await users.actor_for_user(who)
            if "config" in options:
                kwargs["config"] = config
            if len(comment_ids) == 1:
                await call(comment_ids[0], actor, **kwargs)
                emit(as_json, {"id": comment_ids[0], "ok": True}, message.format(id=comment_ids[0]))
                return
            op = {v: k for k, v in inbox_ops.OPS.items()}[call]
            results = await inbox_ops.bulk(op, list(comment_ids), actor, **kwargs)
            if as_json:
                emit(
                    True, [{"id": r.comment_id, "ok": r.ok, "error": r.error} for r in results], ""
                )
            else:
                for r in results:
                    click.echo(
                        message.format(id=r.comment_id) if r.ok else f"#{r.comment_id}：{r.error}"
                    )
            if not all(r.ok for r in results):
                raise Refused(f"{sum(not r.ok for r in results)} 条留言未能处理。")

        act(ctx, work)

    command.__doc__ = help_text
    cmd = click.argument("comment_ids", nargs=-1, type=int, required=True)(command)
    for opt in options.values():
        if opt is not None:
            cmd = opt(cmd)
    cmd = json_option(as_option(cmd))
    return click.command(name)(cmd)


def _ops() -> list[click.Command]:
    from bot.inbox import ops as o

    reason = click.option("--reason", default="", help="理由（记入操作记录）")
    return [
        _simple(
            "assign",
            "分派留言给承办人（--to 用户名，- 表示取消）或改派处室。",
            o.assign,
            "已分派留言 #{id}。",
            to=click.option("--to", "assignee", required=True, help="承办人用户名；- 表示取消分派"),
            office=click.option("--office", default=None, help="同时改派到该处室"),
        ),
        _simple("close", "办结留言。", o.close, "已办结留言 #{id}。", reason=reason),
        _simple(
            "reopen",
            "重新打开已答复或已办结的留言。",
            o.reopen,
            "已重新打开留言 #{id}。",
            reason=reason,
            config=None,
        ),
        _simple(
            "spam",
            "标记为垃圾信息（隐藏，不计时）。",
            o.mark_spam,
            "已将留言 #{id} 标记为垃圾信息。",
            reason=reason,
        ),
        _simple(
            "not-spam",
            "取消垃圾信息标记：重新打开，并按原收到时间计算答复期限。",
            o.mark_not_spam,
            "已取消留言 #{id} 的垃圾信息标记。",
            config=None,
        ),
        _simple(
            "escalate",
            "督办升级（级别加一，可改派处室）。",
            o.escalate,
            "已督办留言 #{id}。",
            reason=click.option("--reason", required=True, help="督办理由"),
            office=click.option("--office", default=None, help="改派到该处室"),
        ),
        _simple(
            "categorize",
            "设置或更正留言的分类（记为分类模型的标注样本，答复期限随分类重新计算）。",
            o.set_category,
            "已修改留言 #{id} 的分类。",
            category=click.option(
                "--category", required=True, type=click.Choice(CATEGORIES), help="类别"
            ),
            config=None,
        ),
        _simple(
            "note",
            "添加内部备注（仅工作人员可见）。",
            o.add_note,
            "已为留言 #{id} 添加备注。",
            text=click.option("--text", required=True, help="备注内容"),
        ),
    ]


@inbox_group.command("reply")
@click.argument("comment_id", type=int)
@click.option("--text", default=None, help="答复内容")
@click.option("--draft", "as_draft", is_flag=True, help="只保存为草稿，不发送")
@click.option("--send-draft", "draft_id", type=int, default=None, help="发送编号为此的草稿")
@as_option
@json_option
@click.pass_context
def inbox_reply(
    ctx: click.Context,
    comment_id: int,
    text: str | None,
    as_draft: bool,
    draft_id: int | None,
    as_user: str | None,
    as_json: bool,
) -> None:
    """答复留言：经留言来源渠道发送（由 worker 发送；gongkai inbox send 立即发送）。"""
    from bot import users
    from bot.inbox import ops as inbox_ops

    if as_draft and draft_id is not None:
        fail("--draft 与 --send-draft 不能同时使用。", EXIT_USAGE)
    if text is None and draft_id is None:
        fail("请用 --text 给出答复内容，或用 --send-draft 发送草稿。", EXIT_USAGE)
    who = username(ctx, as_user)

    async def work(config: Config) -> None:
        actor = await users.actor_for_user(who)
        if as_draft:
            reply = await inbox_ops.draft_reply(comment_id, actor, text=text or "")
            verb = "已保存答复草稿"
        else:
            reply = await inbox_ops.send_reply(
                comment_id, actor, text=text, reply_id=draft_id, signoff=config.inbox.signoff
            )
            verb = (
                "答复已提交审签（须另一位留言管理员用 gongkai inbox signoff 审签后才发送）"
                if reply.status == "signoff"
                else "答复已进入发送队列"
            )
        emit(
            as_json,
            {"comment_id": comment_id, "reply_id": reply.id, "status": reply.status},
            f"{verb}：留言 #{comment_id}，答复 #{reply.id}（{reply_label(reply.status)}）。",
        )

    act(ctx, work)


@inbox_group.command("signoff")
@click.argument("target_id", type=int)
@click.option("--qa", "is_qa", is_flag=True, help="TARGET_ID 是选登申请编号（默认是答复编号）")
@click.option("--return", "give_back", is_flag=True, help="退回（不发送、不公开），须给出 --reason")
@click.option("--reason", default="", help="退回理由")
@as_option
@json_option
@click.pass_context
def inbox_signoff(
    ctx: click.Context,
    target_id: int,
    is_qa: bool,
    give_back: bool,
    reason: str,
    as_user: str | None,
    as_json: bool,
) -> None:
    """审签：通过待审签的答复（排入发送队列）或选登（--qa，公开），或用 --return 退回。

    须审签的分类和渠道见配置 [inbox.signoff]；撰写或提交者本人不能审签。"""
    from bot import users
    from bot.inbox import qa_signoff, signoff

    if give_back and not reason.strip():
        fail("退回须用 --reason 给出理由。", EXIT_USAGE)
    who = username(ctx, as_user)

    async def work(config: Config) -> None:
        actor = await users.actor_for_user(who)
        data: dict[str, Any]
        if is_qa and give_back:
            proposal = await qa_signoff.return_proposal(target_id, actor, reason)
            data = {"proposal_id": proposal.id, "status": proposal.status}
            message = f"已退回选登申请 #{proposal.id}（留言 #{proposal.comment_id}），不会公开。"
        elif is_qa:
            entry = await qa_signoff.sign_off(target_id, actor)
            data = {"proposal_id": target_id, "status": "signed_off", "entry_id": entry.id}
            message = f"已审签选登申请 #{target_id}，已公开在公开问答页（问答 #{entry.id}）。"
        elif give_back:
            reply = await signoff.return_reply(target_id, actor, reason)
            data = {"reply_id": reply.id, "status": reply.status}
            message = f"已退回答复 #{reply.id}（留言 #{reply.comment_id}），不会发送。"
        else:
            reply = await signoff.sign_off_reply(target_id, actor)
            data = {"reply_id": reply.id, "status": reply.status}
            message = f"已审签答复 #{reply.id}（留言 #{reply.comment_id}），已排入发送队列。"
        emit(as_json, data, message)

    session(ctx, work)


@inbox_group.command("send")
@json_option
@click.pass_context
def inbox_send(ctx: click.Context, as_json: bool) -> None:
    """立即发送队列中的答复（平时由 worker 自动发送）。"""
    from bot.inbox.replies import ReplySender
    from bot.outbox.channel_set import build_channels

    async def work(config: Config) -> None:
        channels = build_channels(config)
        for channel in channels.values():
            await channel.start()
        try:
            count = await ReplySender(config, channels).run_until_idle()
        finally:
            for channel in channels.values():
                await channel.close()
        emit(as_json, {"attempted": count}, f"已处理 {count} 条答复；结果见 gongkai inbox show。")

    act(ctx, work)


@inbox_group.command("import-hotline")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@as_option
@json_option
@click.pass_context
def inbox_import(ctx: click.Context, path: Path, as_user: str | None, as_json: bool) -> None:
    """导入 12345 热线工单（CSV 或 XLSX，按表头识别列；按工单编号去重）。"""
    from bot import users
    from bot.inbox.hotline import HotlineFileError, import_hotline
    from bot.inbox.ingest import Inbox

    who = username(ctx, as_user)

    async def work(config: Config) -> None:
        actor = await users.actor_for_user(who)
        inbox = Inbox(config)
        await inbox.refresh_knowledge()
        await inbox.refresh_model()
        try:
            result = await import_hotline(path, inbox, actor.name, progress=not as_json)
        except HotlineFileError as exc:
            raise Refused(str(exc)) from exc
        data = {
            "rows": result.rows,
            "created": result.created,
            "duplicates": result.duplicates,
            "errors": [
                {"line": e.line, "field": e.field, "message": e.message} for e in result.errors
            ],
        }
        lines = [
            f"共 {result.rows} 行：新增 {result.created} 条，已存在 {result.duplicates} 条，"
            f"有误 {len(result.errors)} 行。"
        ]
        lines += [f"  {e}" for e in result.errors]
        emit(as_json, data, "\n".join(lines))
        if result.errors:
            raise Refused(f"{len(result.errors)} 行未导入，请改正后重新导入（已导入的不会重复）。")

    act(ctx, work)


def _day(value: str | None, tz: ZoneInfo, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=tz)
    except ValueError:
        fail(f"{option} 的日期「{value}」无法识别，请写成 2025-01-01。", EXIT_USAGE)


@inbox_group.command("metrics")
@click.option("--from", "start", default=None, help="起始日期（含），如 2025-01-01")
@click.option("--to", "end", default=None, help="截止日期（不含），如 2026-01-01")
@json_option
@click.pass_context
def inbox_metrics_cmd(
    ctx: click.Context, start: str | None, end: str | None, as_json: bool
) -> None:
    """留言统计：按时答复率、首次答复用时中位数，按类别、处室、渠道、月份。"""
    from bot.inbox.metrics import inbox_metrics

    async def work(config: Config) -> None:
        tz = ZoneInfo(config.app.timezone)
        m = await inbox_metrics(config, _day(start, tz, "--from"), _day(end, tz, "--to"))
        if as_json:
            emit(True, m.as_dict(), "")
            return
        rate = f"{m.on_time_rate:.1%}" if m.on_time_rate is not None else "—"
        median = (
            f"{m.median_first_reply_hours:.1f} 小时"
            if m.median_first_reply_hours is not None
            else "—"
        )
        click.echo(
            f"留言 {m.overall.total} 条（另有垃圾信息 {m.spam} 条），"
            f"已答复 {m.overall.answered} 条，"
            f"按时答复率 {rate}，首次答复用时中位数 {median}。"
        )
        for title, groups in (
            ("类别", m.by_category),
            ("处室", m.by_office),
            ("渠道", m.by_channel),
            ("月份", m.by_month),
        ):
            print_table(
                f"按{title}",
                [title, "留言", "已答复", "按时", "应计", "超期未答", "按时率"],
                [
                    [
                        g.key or "—",
                        str(g.total),
                        str(g.answered),
                        str(g.on_time),
                        str(g.judged),
                        str(g.overdue_open),
                        f"{g.on_time_rate:.1%}" if g.on_time_rate is not None else "—",
                    ]
                    for g in groups
                ],
            )

    act(ctx, work)


for _command in _ops():
    inbox_group.add_command(_command)

COMMANDS: tuple[click.Command, ...] = (inbox_group,)
