"""`gongkai inbox import-ratings`, `gongkai matter …` and `gongkai task …`: 政务服务好差评
imports, the listed 办事事项 with their figures and the suggested new ones, and the 专项回应
tasks (list, show, close with a published response, answer the linked comments in bulk, scan
now). Tables for people, --json for scripts; who acts is --as."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from bot.actors import Actor
from bot.cli.base import Refused, as_option, json_option, session, username
from bot.cli.inbox import emit, status_label
from bot.cli.output import local, print_table
from bot.config import Config
from bot.models import MATTER_TASK_STATUS_LABELS, MatterTaskStatus
from bot.reports.labels import channel_label


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.1%}"


def _task_status(status: str) -> str:
    return {s.value: label for s, label in MATTER_TASK_STATUS_LABELS.items()}.get(status, status)


async def _actor(who: str) -> Actor:
    from bot import users

    return await users.actor_for_user(who)


@click.command("import-ratings")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@as_option
@json_option
@click.pass_context
def import_ratings_cmd(ctx: click.Context, path: Path, as_user: str | None, as_json: bool) -> None:
    """导入政务服务好差评（CSV 或 XLSX，按表头识别列；按评价编号或内容去重）。"""
    from bot.matters.ratings import import_ratings

    who = username(ctx, as_user)

    async def work(config: Config) -> None:
        result = await import_ratings(path, config, await _actor(who), progress=not as_json)
        data = {
            "rows": result.rows,
            "created": result.created,
            "duplicates": result.duplicates,
            "matched": result.matched,
            "errors": [
                {"line": e.line, "field": e.field, "message": e.message} for e in result.errors
            ],
        }
        lines = [
            f"共 {result.rows} 行：新增 {result.created} 条"
            f"（其中 {result.matched} 条归入办事事项），已存在 {result.duplicates} 条，"
            f"有误 {len(result.errors)} 行。"
        ]
        lines += [f"  {e}" for e in result.errors]
        emit(as_json, data, "\n".join(lines))
        if result.errors:
            raise Refused(f"{len(result.errors)} 行未导入，请改正后重新导入（已导入的不会重复）。")

    session(ctx, work)


# -- matters ---------------------------------------------------------------------------------
@click.group("matter")
def matter_group() -> None:
    """办事事项：诉求与好差评的集中情况、建议新增的事项。"""


@matter_group.command("list")
@json_option
@click.pass_context
def matter_list(ctx: click.Context, as_json: bool) -> None:
    """列出办事事项：近 30 天诉求、趋势、好差评与办理中的专项回应，以及建议新增的事项。"""
    from bot.matters.figures import hot_matters, suggestions
    from bot.matters.shapes import matter_json, suggestion_json

    async def work(config: Config) -> None:
        hot = await hot_matters(config)
        suggested = await suggestions(config)
        if as_json:
            emit(
                True,
                {
                    "matters": [matter_json(f) for f in hot],
                    "suggested": [suggestion_json(s) for s in suggested],
                },
                "",
            )
            return
        print_table(
            "办事事项（诉求为近 30 天；matter show 代号 查看详情）",
            ["事项", "代号", "诉求", "前30天", "12345", "好差评", "专项回应"],
            [
                [
                    f.matter.name,
                    f.matter.key,
                    str(f.count),
                    str(f.previous),
                    str(f.hotline),
                    "—"
                    if f.ratings.average is None
                    else f"{f.ratings.average:.2f}（{f.ratings.count}条）",
                    f"#{f.open_task.id}" if f.open_task else "—",
                ]
                for f in hot
            ],
        )
        if suggested:
            print_table(
                "建议新增的办事事项（未归入任何事项、内容相近的诉求）",
                ["关键词", "条数", "处室", "示例"],
                [
                    [
                        s.name,
                        str(s.size),
                        "、".join(o for o, _ in s.offices) or "—",
                        s.samples[0][:40] if s.samples else "",
                    ]
                    for s in suggested
                ],
            )

    session(ctx, work)


@matter_group.command("show")
@click.argument("key")
@json_option
@click.pass_context
def matter_show(ctx: click.Context, key: str, as_json: bool) -> None:
    """查看一个办事事项：每日诉求、好差评和专项回应任务。"""
    from bot.matters.figures import hot_matters, trend_days
    from bot.matters.shapes import matter_json, task_json
    from bot.models import MatterTask

    async def work(config: Config) -> None:
        found = next((f for f in await hot_matters(config) if f.matter.key == key), None)
        if found is None:
            listed = "、".join(m.key for m in config.matters) or "（无）"
            raise Refused(f"办事事项「{key}」未在配置中列出（[[matters]]）。已列出：{listed}")
        tasks = await MatterTask.filter(matter=key).order_by("-id").limit(20)
        if as_json:
            emit(True, {**matter_json(found), "tasks": [task_json(t) for t in tasks]}, "")
            return
        tz = ZoneInfo(config.app.timezone)
        m = found.matter
        click.echo(f"{m.name}（{m.key}）  承办：{m.office}")
        click.echo(f"关键词：{'、'.join(m.keywords) or '—'}；别名：{'、'.join(m.aliases) or '—'}")
        average = "—" if found.ratings.average is None else f"{found.ratings.average:.2f}"
        click.echo(
            f"近 30 天诉求 {found.count} 件（前 30 天 {found.previous} 件，{found.trend}），"
            f"其中 12345 工单 {found.hotline} 件；好差评 {found.ratings.count} 条，"
            f"平均 {average}，不满意及以下 {found.ratings.low} 条。"
        )
        today = datetime.now(UTC).astimezone(tz).date()
        days = trend_days(today)
        print_table(
            "每日诉求（近 30 天）",
            ["日期", "件数"],
            [[d.strftime("%m-%d"), str(n)] for d, n in zip(days, found.daily, strict=True) if n],
        )
        print_table(
            "专项回应任务",
            ["编号", "状态", "立项时间", "办理期限", "办结时间"],
            [
                [
                    str(t.id),
                    _task_status(t.status),
                    local(t.opened_at, tz),
                    local(t.due_at, tz),
                    local(t.closed_at, tz),
                ]
                for t in tasks
            ],
        )

    session(ctx, work)


@matter_group.command("assign")
@click.option("--again", is_flag=True, help="全部诉求和好差评按当前配置重新归入（修改事项后）")
@as_option
@json_option
@click.pass_context
def matter_assign(ctx: click.Context, again: bool, as_user: str | None, as_json: bool) -> None:
    """把尚未归入的留言和工单归入办事事项（后台每 [hot_matters] assign_minutes 分钟也会做）。"""
    from bot.matters.assign import place_again, place_comments

    async def work(config: Config) -> None:
        if again:
            placed = await place_again(config, await _actor(username(ctx, as_user)))
        else:
            placed = await place_comments(config)
        emit(
            as_json,
            placed.as_dict(),
            f"归入 {placed.comments} 条留言和工单，其中 "
            f"{sum(placed.by_matter.values())} 条归入已列出的事项；重新归入好差评 "
            f"{placed.ratings} 条；新关联到办理中任务 {placed.linked} 条。",
        )

    session(ctx, work)


# -- tasks -----------------------------------------------------------------------------------
@click.group("task")
def task_group() -> None:
    """专项回应任务：列表、查看、办结、批量答复、立即检查。"""


@task_group.command("list")
@click.option("--status", type=click.Choice([s.value for s in MatterTaskStatus]), default=None)
@json_option
@click.pass_context
def task_list(ctx: click.Context, status: str | None, as_json: bool) -> None:
    """列出专项回应任务（办理中的按期限在前）。"""
    from bot.matters.figures import task_figures
    from bot.matters.shapes import rates_json, task_json
    from bot.matters.tasks import REASON_LABELS, list_tasks

    async def work(config: Config) -> None:
        tasks, total = await list_tasks(status, limit=500)
        tz = ZoneInfo(config.app.timezone)
        now = datetime.now(UTC)
        year = datetime(now.astimezone(tz).year, 1, 1, tzinfo=tz).astimezone(UTC)
        rates = await task_figures(year, now, now)
        if as_json:
            emit(
                True,
                {"total": total, "tasks": [task_json(t) for t in tasks], "year": rates_json(rates)},
                "",
            )
            return
        print_table(
            f"专项回应任务（共 {total} 项；本年按期办结率 {_pct(rates.on_time_rate)}）",
            ["编号", "事项", "处室", "原因", "状态", "办理期限", "回应稿件", "按期"],
            [
                [
                    str(t.id),
                    t.matter_name,
                    t.office,
                    "、".join(REASON_LABELS.get(r, r) for r in t.reasons),
                    _task_status(t.status),
                    local(t.due_at, tz),
                    f"#{t.response_item_id}" if t.response_item_id else "—",
                    {True: "是", False: "否", None: "—"}[t.on_time],
                ]
                for t in tasks
            ],
        )

    session(ctx, work)


@task_group.command("show")
@click.argument("task_id", type=int)
@json_option
@click.pass_context
def task_show(ctx: click.Context, task_id: int, as_json: bool) -> None:
    """查看一项专项回应任务及其关联的留言。"""
    from bot.matters.shapes import task_detail_json
    from bot.matters.tasks import REASON_LABELS, get_task

    async def work(config: Config) -> None:
        d = await get_task(task_id)
        if as_json:
            emit(True, task_detail_json(d), "")
            return
        t, tz = d.task, ZoneInfo(config.app.timezone)
        click.echo(f"专项回应任务 #{t.id}：{t.matter_name}（{t.office}）  {_task_status(t.status)}")
        click.echo(
            f"原因：{'、'.join(REASON_LABELS.get(r, r) for r in t.reasons)}；"
            f"立项 {local(t.opened_at, tz)}，期限 {local(t.due_at, tz)}"
        )
        if d.item is not None:
            click.echo(f"回应稿件：#{d.item.id}《{d.item.title}》；办结说明：{t.note}")
        print_table(
            f"关联留言（{len(d.links)} 条）",
            ["编号", "渠道", "状态", "收到时间", "批量答复", "内容"],
            [
                [
                    str(link.comment_id),
                    channel_label(d.comments[link.comment_id].channel),
                    status_label(d.comments[link.comment_id].status),
                    local(d.comments[link.comment_id].received_at, tz),
                    local(link.answered_at, tz) if link.answered_at else "—",
                    d.comments[link.comment_id].masked_text[:40],
                ]
                for link in d.links
                if link.comment_id in d.comments
            ],
        )

    session(ctx, work)


@task_group.command("close")
@click.argument("task_id", type=int)
@click.option("--item", "item_id", type=int, required=True, help="已发布的回应稿件编号")
@click.option("--note", required=True, help="办结说明：流程作了哪些改进")
@as_option
@json_option
@click.pass_context
def task_close(
    ctx: click.Context, task_id: int, item_id: int, note: str, as_user: str | None, as_json: bool
) -> None:
    """办结专项回应任务：须关联已发布的回应稿件，并写明流程的改进。"""
    from bot.matters.shapes import task_json
    from bot.matters.tasks import close_task

    who = username(ctx, as_user)

    async def work(config: Config) -> None:
        task = await close_task(task_id, await _actor(who), item_id=item_id, note=note)
        emit(
            as_json,
            task_json(task),
            f"专项回应任务 #{task.id} 已办结（{'按期' if task.on_time else '逾期'}）。"
            f"可用 gongkai task reply-all {task.id} 批量答复关联的留言。",
        )

    session(ctx, work)


@task_group.command("reply-all")
@click.argument("task_id", type=int)
@click.option("--text", default=None, help="答复内容（默认按回应稿件生成；不含链接时自动附上）")
@as_option
@json_option
@click.pass_context
def task_reply_all(
    ctx: click.Context, task_id: int, text: str | None, as_user: str | None, as_json: bool
) -> None:
    """把回应链接答复给任务关联的每条留言，各经其来源渠道，每条只答复一次。"""
    from bot.matters.answers import reply_all
    from bot.matters.shapes import answered_json

    who = username(ctx, as_user)

    async def work(config: Config) -> None:
        done = await reply_all(task_id, await _actor(who), config, text)
        lines = [
            f"已排入发送队列 {len(done.queued)} 条，待审签 {len(done.signoff)} 条，"
            f"此前已答复 {done.already} 条，未答复 {len(done.skipped)} 条。"
        ]
        lines += [f"  留言 #{c}：{why}" for c, why in done.skipped]
        emit(as_json, answered_json(done), "\n".join(lines))

    session(ctx, work)


@task_group.command("scan")
@as_option
@json_option
@click.pass_context
def task_scan(ctx: click.Context, as_user: str | None, as_json: bool) -> None:
    """立即检查集中诉求并为超过阈值的事项立项（每周的定时检查也会做）。"""
    from bot.matters.tasks import scan_now

    who = username(ctx, as_user)

    async def work(config: Config) -> None:
        result = await scan_now(config, await _actor(who))
        emit(
            as_json,
            result.as_dict(),
            f"新归入 {result.placed} 条；新立项 {len(result.opened)} 项"
            + (f"（#{'、#'.join(map(str, result.opened))}）" if result.opened else "")
            + f"；已有办理中任务的事项 {len(result.already_open)} 个。",
        )

    session(ctx, work)


COMMANDS: tuple[click.Command, ...] = (matter_group, task_group)
INBOX_COMMANDS: tuple[click.Command, ...] = (import_ratings_cmd,)
