"""The review workflow verbs: submit, approve, return, schedule and retract. Each is both
`gongkai item <verb>` and the top-level `gongkai <verb>`."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import click

from bot.cli.base import as_option, fail, json_option, session, username
from bot.cli.output import SEVERITY_LABELS, local, status_label
from bot.config import Config
from bot.errors import EXIT_USAGE
from bot.items.serialize import iso


def report(item: Any, as_json: bool, message: str, **extra: Any) -> None:
    if as_json:
        data = {"id": item.id, "status": item.status, "version": item.version, **extra}
        click.echo(json.dumps(data, ensure_ascii=False, default=str))
    else:
        click.echo(message)


@click.command("submit")
@click.argument("item_id", type=int)
@as_option
@json_option
@click.pass_context
def item_submit(ctx: click.Context, item_id: int, as_user: str | None, as_json: bool) -> None:
    """提交条目：生成版本快照并预审；有阻止项则退文。"""
    from bot import users
    from bot.items import lifecycle

    name = username(ctx, as_user)

    async def work(config: Config) -> None:
        outcome = await lifecycle.submit(item_id, await users.actor_for_user(name), config)
        item = outcome.item
        state = status_label(item.status)
        lines = [f"已提交条目 #{item.id}（第 {item.version} 版），当前状态：{state}。"]
        if item.status == "returned":
            lines.append(f"预审未通过，已退文：{item.return_reason}")
        lines += [
            f"  [{SEVERITY_LABELS.get(f.severity, f.severity)}] {f.field}：{f.message}"
            for f in outcome.findings
        ]
        report(
            item,
            as_json,
            "\n".join(lines),
            findings=[
                {"rule": f.rule, "severity": f.severity, "field": f.field, "message": f.message}
                for f in outcome.findings
            ],
        )

    session(ctx, work)


@click.command("approve")
@click.argument("item_id", type=int)
@as_option
@json_option
@click.pass_context
def item_approve(ctx: click.Context, item_id: int, as_user: str | None, as_json: bool) -> None:
    """批准条目并写入发布队列（不能批准自己撰写的稿件）。"""
    from bot import users
    from bot.items import lifecycle

    name = username(ctx, as_user)

    async def work(config: Config) -> None:
        try:
            item = await lifecycle.approve(item_id, await users.actor_for_user(name), config)
        except lifecycle.FindingsNotOverridden as exc:
            # On the command line a finding is confirmed by its number: name them.
            ids = "、".join(f"#{i}" for i in exc.finding_ids)
            exc.args = (
                f"{exc}\n须确认的预审提示：{ids}（gongkai finding override 编号 --reason 理由）",
            )
            raise
        channels = lifecycle.target_channels(item, config)
        when = (
            f"定于 {local(item.publish_at, ZoneInfo(config.app.timezone))} 发布"
            if item.status == "scheduled"
            else "立即发布"
        )
        report(
            item,
            as_json,
            f"已批准条目 #{item.id}（第 {item.version} 版），{when}，"
            f"渠道：{'、'.join(channels) or '（无）'}。",
            channels=channels,
        )

    session(ctx, work)


@click.command("return")
@click.argument("item_id", type=int)
@click.option("--reason", required=True, help="退文理由")
@as_option
@json_option
@click.pass_context
def item_return(
    ctx: click.Context, item_id: int, reason: str, as_user: str | None, as_json: bool
) -> None:
    """退文：附理由退回撰稿人。"""
    from bot import users
    from bot.items import lifecycle

    name = username(ctx, as_user)

    async def work(config: Config) -> None:
        item = await lifecycle.return_item(item_id, await users.actor_for_user(name), reason)
        report(item, as_json, f"已退文条目 #{item.id}：{item.return_reason}")

    session(ctx, work)


def parse_at(value: str) -> datetime:
    """An ISO 8601 time; without an offset it is naive and later read in the app's zone."""
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        fail(f"--at 的时间「{value}」无法识别，请写成 2026-12-01T09:00+08:00。", EXIT_USAGE)


@click.command("schedule")
@click.argument("item_id", type=int)
@click.option(
    "--at",
    "at",
    default=None,
    metavar="TIME",
    help="发布时间，例如 2026-12-01T09:00+08:00（不带时区按配置的时区）",
)
@click.option("--now", is_flag=True, help="清除发布时间，批准后立即发布")
@as_option
@json_option
@click.pass_context
def item_schedule(
    ctx: click.Context, item_id: int, at: str | None, now: bool, as_user: str | None, as_json: bool
) -> None:
    """设置或清除条目的发布时间。"""
    from bot import users
    from bot.items import lifecycle

    if (at is None) == (not now):
        fail("请指定 --at 时间 或 --now 二者之一。", EXIT_USAGE)
    name = username(ctx, as_user)
    parsed = parse_at(at) if at else None

    async def work(config: Config) -> None:
        tz = ZoneInfo(config.app.timezone)
        when = parsed if parsed is None or parsed.tzinfo else parsed.replace(tzinfo=tz)
        item = await lifecycle.schedule(item_id, await users.actor_for_user(name), when)
        text = f"定于 {local(item.publish_at, tz)}（{tz.key}）发布" if when else "批准后立即发布"
        report(
            item,
            as_json,
            f"条目 #{item.id} {text}；当前状态：{status_label(item.status)}。",
            publish_at=iso(item.publish_at),
        )

    session(ctx, work)


@click.command("retract")
@click.argument("item_id", type=int)
@click.option("--reason", required=True, help="撤稿理由")
@as_option
@json_option
@click.pass_context
def item_retract(
    ctx: click.Context, item_id: int, reason: str, as_user: str | None, as_json: bool
) -> None:
    """撤稿：从支持撤稿的渠道撤下，并列出不能撤稿的渠道。"""
    from bot import users
    from bot.items import lifecycle
    from bot.models import Delivery
    from bot.outbox.channel_set import retract_support

    name = username(ctx, as_user)

    async def work(config: Config) -> None:
        support = retract_support(config)
        outcome = await lifecycle.retract(
            item_id, await users.actor_for_user(name), reason, support
        )
        item = outcome.item
        queued = sorted(
            {
                str(name)
                for name in await Delivery.filter(
                    item_id=item.id, action="retract", status="pending"
                ).values_list("channel", flat=True)
            }
        )
        lines = [f"已撤稿条目 #{item.id}。"]
        lines.append(
            f"将从以下渠道撤下：{'、'.join(queued)}。"
            if queued
            else "没有需要撤下的渠道（尚未发布到任何渠道）。"
        )
        if outcome.cannot_retract:
            lines.append(
                f"以下渠道不支持撤稿，请到渠道后台人工删除：{'、'.join(outcome.cannot_retract)}。"
            )
        report(
            item,
            as_json,
            "\n".join(lines),
            retract_on=list(queued),
            cannot_retract=outcome.cannot_retract,
        )

    session(ctx, work)


COMMANDS: tuple[click.Command, ...] = (
    item_submit,
    item_approve,
    item_return,
    item_schedule,
    item_retract,
)
