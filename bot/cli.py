"""The `gongkai` command line: tables for people, --json for scripts.

Exit codes: 0 done; 1 unexpected failure; 2 bad usage or configuration; 3 database schema
not current; 4 the action was refused (illegal transition, permission, not found, bad input);
5 a check failed (audit verify, health).
"""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.table import Table

from bot import db
from bot.config import Config, ConfigError, load_config
from bot.itemfile import ItemFileError
from bot.models import (
    DELIVERY_ACTION_LABELS,
    DELIVERY_STATUS_LABELS,
    STATUS_LABELS,
    DeliveryStatus,
    ItemStatus,
)

T = TypeVar("T")

EXIT_USAGE = 2
EXIT_SCHEMA = 3
EXIT_REFUSED = 4
EXIT_CHECK_FAILED = 5


class Refused(Exception):
    """An action Gongkai refused; the message (Chinese) says why."""


class CheckFailed(Exception):
    """A check (audit verify) found a problem; the message names it."""


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"错误：{message}", err=True)
    sys.exit(code)


def load(ctx: click.Context) -> Config:
    try:
        return load_config(ctx.obj["config_path"])
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
        raise  # unreachable


def run_async(func: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T | None]:
    """Run an async command; map Gongkai's errors to exit codes and clear messages."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T | None:
        from bot.lifecycle import LifecycleError
        from bot.users import UserError

        try:
            return asyncio.run(func(*args, **kwargs))
        except ConfigError as exc:
            fail(str(exc), EXIT_USAGE)
        except db.SchemaError as exc:
            fail(str(exc), EXIT_SCHEMA)
        except (LifecycleError, UserError, ItemFileError, Refused) as exc:
            fail(str(exc), EXIT_REFUSED)
        except CheckFailed as exc:
            fail(str(exc), EXIT_CHECK_FAILED)
        return None

    return wrapper


def emit(data: Any, as_json: bool, table: Callable[[Any], None]) -> None:
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        table(data)


@click.group()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    envvar="GONGKAI_CONFIG",
    help="配置文件（默认 ./config.toml）",
)
@click.option("-v", "--verbose", is_flag=True, help="输出调试日志")
@click.option(
    "--as",
    "as_user",
    metavar="USERNAME",
    envvar="GONGKAI_USER",
    default=None,
    help="操作人用户名（也可用环境变量 GONGKAI_USER；各操作命令的 --as 优先）",
)
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, verbose: bool, as_user: str | None) -> None:
    """公开（Gongkai）：政务公开多渠道发布与互动。"""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    ctx.obj["as_user"] = as_user
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:  # connection open/close notices are noise in a one-shot command
        logging.getLogger("tortoise").setLevel(logging.WARNING)


@main.group("config")
def config_group() -> None:
    """配置文件。"""


@config_group.command("check")
@click.pass_context
def config_check(ctx: click.Context) -> None:
    """校验配置文件，不启动任何服务。"""
    config = load(ctx)
    from bot.channel_set import build_channels

    try:
        channels = build_channels(config)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    click.echo(
        f"配置有效：数据库 {config.database.url.split('://')[0]}，"
        f"渠道 {', '.join(channels) or '（无）'}"
    )


@main.group("db")
def db_group() -> None:
    """数据库。"""


@db_group.command("upgrade")
@click.pass_context
@run_async
async def db_upgrade(ctx: click.Context) -> None:
    """执行待执行的数据库迁移。"""
    config = load(ctx)
    await db.init(config, check_schema=False)
    try:
        applied = await db.upgrade()
    finally:
        await db.close()
    click.echo("已执行迁移：" + ", ".join(applied) if applied else "数据库结构已是最新。")


@main.command("run")
@click.option(
    "--role",
    type=click.Choice(["web", "worker", "all"]),
    default="all",
    show_default=True,
    help="web：控制台、API 与订阅；worker：发布调度；all：两者",
)
@click.option("--sandbox", is_flag=True, help="沙箱模式：本地数据库、本地模拟渠道与演示账号")
@click.pass_context
def run_cmd(ctx: click.Context, role: str, sandbox: bool) -> None:
    """启动 Gongkai，直到收到 SIGTERM / Ctrl-C。"""
    from bot import runner

    if sandbox:
        from bot import sandbox as sandbox_mode

        run_async(sandbox_mode.serve)(load(ctx), role)
        return
    run_async(runner.serve)(load(ctx), role)


# -- shared helpers for the staff commands -------------------------------------------------
SEVERITY_LABELS = {"block": "阻止", "warn": "警告"}


def session(ctx: click.Context, work: Callable[[Config], Awaitable[T]]) -> T | None:
    """Load the configuration (bad → exit 2, before any database file is touched), open the
    database refusing an unknown schema (exit 3), run `work`, and always close."""
    config = load(ctx)

    async def opened() -> T:
        await db.init(config)
        try:
            return await work(config)
        finally:
            await db.close()

    return run_async(opened)()


def username(ctx: click.Context, as_user: str | None) -> str:
    name = as_user or ctx.obj.get("as_user")
    if not name:
        fail("请用 --as 用户名（或环境变量 GONGKAI_USER）指明操作人。", EXIT_USAGE)
    return str(name)


def cli_actor() -> str:
    """Who runs an account command: whoever has a shell on the server."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli"


def as_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--as",
        "as_user",
        metavar="USERNAME",
        default=None,
        help="操作人用户名（默认取 gongkai --as 或环境变量 GONGKAI_USER）",
    )(func)


def json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="输出 JSON（时间为 UTC）")(func)


def utc(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def local(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else "—"


def print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title, show_lines=False)
    for column in columns:
        # A time split over two lines is hard to read: times never wrap.
        table.add_column(
            column, overflow="fold", no_wrap=column.endswith("时间") or column == "下次尝试"
        )
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def item_json(item: Any) -> dict[str, Any]:
    from bot.lifecycle import CONTENT_FIELDS

    data = {name: getattr(item, name) for name in CONTENT_FIELDS}
    data.update(
        id=item.id,
        version=item.version,
        published_version=item.published_version,
        status=item.status,
        author=item.author.username,
        source=item.source,
        return_reason=item.return_reason,
        retraction_reason=item.retraction_reason,
    )
    for name in (
        "publish_at",
        "created_at",
        "updated_at",
        "submitted_at",
        "approved_at",
        "published_at",
        "retracted_at",
    ):
        data[name] = utc(getattr(item, name))
    return data


def delivery_json(d: Any) -> dict[str, Any]:
    return {
        "id": d.id,
        "item_id": d.item_id,
        "item_version": d.item_version,
        "channel": d.channel,
        "action": d.action,
        "status": d.status,
        "attempts": d.attempts,
        "due_at": utc(d.due_at),
        "next_attempt_at": utc(d.next_attempt_at),
        "remote_id": d.remote_id,
        "remote_url": d.remote_url,
        "last_error": d.last_error,
        "error_class": d.error_class,
        "finished_at": utc(d.finished_at),
    }


def delivery_rows(deliveries: list[Any], tz: ZoneInfo) -> list[list[str]]:
    open_ = ("pending", "running")
    return [
        [
            str(d.id),
            f"#{d.item_id}",
            str(d.item_version),
            d.channel,
            DELIVERY_ACTION_LABELS.get(d.action, d.action),
            DELIVERY_STATUS_LABELS.get(d.status, d.status),
            str(d.attempts),
            local(d.next_attempt_at, tz) if d.status in open_ else "—",
            d.last_error or "",
        ]
        for d in deliveries
    ]


DELIVERY_COLUMNS = [
    "编号",
    "条目",
    "版本",
    "渠道",
    "动作",
    "状态",
    "尝试次数",
    "下次尝试",
    "最近错误",
]


def status_label(status: str) -> str:
    known = {s.value: s for s in ItemStatus}
    return STATUS_LABELS[known[status]] if status in known else status


def read_stdin_secret() -> str:
    secret = sys.stdin.readline().rstrip("\r\n")
    if not secret:
        fail("--password-stdin：标准输入中没有读到密码。", EXIT_USAGE)
    return secret


# -- accounts -------------------------------------------------------------------------------
@main.group("user")
def user_group() -> None:
    """工作人员账号。"""


@user_group.command("add")
@click.argument("name")
@click.option(
    "--role", "roles", multiple=True, help="editor / reviewer / moderator / admin，可重复"
)
@click.option("--name", "display_name", default="", help="显示名")
@click.option("--office", default="", help="所在处室")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取密码（否则生成并显示一次）")
@click.pass_context
def user_add(
    ctx: click.Context,
    name: str,
    roles: tuple[str, ...],
    display_name: str,
    office: str,
    password_stdin: bool,
) -> None:
    """新建账号。"""
    from bot import users

    if not roles:
        fail("请至少用一个 --role 指定角色（editor / reviewer / moderator / admin）。", EXIT_USAGE)
    password = read_stdin_secret() if password_stdin else users.new_secret()

    async def work(config: Config) -> None:
        user = await users.add_user(name, list(roles), password, cli_actor(), display_name, office)
        click.echo(f"已创建用户 {user.username}（角色：{', '.join(user.roles)}）。")
        if not password_stdin:
            click.echo(f"初始密码（只显示这一次）：{password}")

    session(ctx, work)


@user_group.command("disable")
@click.argument("name")
@click.pass_context
def user_disable(ctx: click.Context, name: str) -> None:
    """停用账号（不能再登录、操作或使用其 API 令牌）。"""
    from bot import users

    async def work(config: Config) -> None:
        await users.disable_user(name, cli_actor())
        click.echo(f"已停用用户 {name}。")

    session(ctx, work)


@user_group.command("reset-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取新密码（否则生成并显示一次）")
@click.pass_context
def user_reset_password(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """重设密码。"""
    from bot import users

    password = read_stdin_secret() if password_stdin else users.new_secret()

    async def work(config: Config) -> None:
        await users.reset_password(name, password, cli_actor())
        click.echo(f"已重设用户 {name} 的密码。")
        if not password_stdin:
            click.echo(f"新密码（只显示这一次）：{password}")

    session(ctx, work)


@main.group("token")
def token_group() -> None:
    """API 令牌。"""


@token_group.command("add")
@click.argument("name")
@click.option("--name", "token_name", required=True, help="令牌用途，例如 ci-import")
@click.option("--role", "roles", multiple=True, help="令牌的角色（默认与用户相同，不能超出）")
@click.pass_context
def token_add(ctx: click.Context, name: str, token_name: str, roles: tuple[str, ...]) -> None:
    """为用户新建 API 令牌（令牌只显示这一次）。"""
    from bot import users

    async def work(config: Config) -> None:
        token, plain = await users.add_token(name, token_name, list(roles) or None, cli_actor())
        click.echo(f"已为用户 {name} 新建令牌「{token.name}」（角色：{', '.join(token.roles)}）。")
        click.echo(f"令牌（只显示这一次）：{plain}")

    session(ctx, work)


# -- items ----------------------------------------------------------------------------------
@main.group("item")
def item_group() -> None:
    """稿件：导入、查看与流转。"""


def read_item_file(path: Path) -> Any:
    from bot import itemfile

    try:
        return itemfile.load_item_file(path)
    except ItemFileError as exc:
        fail(str(exc), EXIT_REFUSED)


@item_group.command("add")
@click.argument("file", type=click.Path(path_type=Path))
@as_option
@json_option
@click.pass_context
def item_add(ctx: click.Context, file: Path, as_user: str | None, as_json: bool) -> None:
    """从条目文件（.md 带 TOML 前置元数据，或 .json）新建草稿。"""
    from bot import lifecycle, users

    name = username(ctx, as_user)
    data = read_item_file(file)

    async def work(config: Config) -> None:
        actor = await users.actor_for_user(name)
        item = await lifecycle.create_item(data, actor, config)
        if as_json:
            click.echo(json.dumps({"id": item.id, "status": item.status, "version": item.version}))
        else:
            click.echo(f"已新建条目 #{item.id}「{item.title}」（{status_label(item.status)}）。")

    session(ctx, work)


@item_group.command("list")
@click.option(
    "--status", type=click.Choice([s.value for s in ItemStatus]), default=None, help="按状态筛选"
)
@click.option("--kind", default=None, help="按类型筛选（policy 或 政策文件 等）")
@click.option("--column", default=None, help="按栏目筛选")
@json_option
@click.pass_context
def item_list(
    ctx: click.Context, status: str | None, kind: str | None, column: str | None, as_json: bool
) -> None:
    """列出条目。"""
    from bot.itemfile import kind_from_text
    from bot.models import KIND_LABELS, Item, Kind

    filters: dict[str, Any] = {}
    if status:
        filters["status"] = status
    if kind:
        found = kind_from_text(kind)
        if found is None:
            fail(
                f"--kind 的取值「{kind}」无效，可选：{'、'.join(k.value for k in Kind)}。",
                EXIT_USAGE,
            )
            return
        filters["kind"] = found.value
    if column:
        filters["column"] = column

    async def work(config: Config) -> None:
        items = await Item.filter(**filters).order_by("id").prefetch_related("author")
        if as_json:
            click.echo(json.dumps([item_json(i) for i in items], ensure_ascii=False, indent=2))
            return
        if not items:
            click.echo("没有符合条件的条目。")
            return
        tz = ZoneInfo(config.app.timezone)
        print_table(
            "条目",
            ["编号", "类型", "标题", "栏目", "状态", "版本", "作者", "更新时间"],
            [
                [
                    str(i.id),
                    KIND_LABELS.get(Kind(i.kind), i.kind),
                    i.title,
                    i.column,
                    status_label(i.status),
                    str(i.version),
                    i.author.username,
                    local(i.updated_at, tz),
                ]
                for i in items
            ],
        )

    session(ctx, work)


@item_group.command("show")
@click.argument("item_id", type=int)
@json_option
@click.pass_context
def item_show(ctx: click.Context, item_id: int, as_json: bool) -> None:
    """显示条目的字段、版本、预审结果与投递。"""
    from bot.models import DISCLOSURE_LABELS, KIND_LABELS, Delivery, Disclosure, Item, Kind

    async def work(config: Config) -> None:
        item = await Item.filter(id=item_id).prefetch_related("author").first()
        if item is None:
            raise Refused(f"条目 #{item_id} 不存在。")
        versions = await item.versions.all().order_by("version")
        findings = await item.findings.all().order_by("id")
        deliveries = await Delivery.filter(item_id=item_id).order_by("id")
        if as_json:
            data = {
                "item": item_json(item),
                "versions": [
                    {
                        "version": v.version,
                        "created_by": v.created_by,
                        "created_at": utc(v.created_at),
                        "approved_by": v.approved_by or None,
                        "approved_at": utc(v.approved_at),
                    }
                    for v in versions
                ],
                "findings": [
                    {
                        "version": f.item_version,
                        "stage": f.stage,
                        "rule": f.rule,
                        "severity": f.severity,
                        "field": f.field,
                        "message": f.message,
                        "suggestion": f.suggestion,
                    }
                    for f in findings
                ],
                "deliveries": [delivery_json(d) for d in deliveries],
            }
            click.echo(json.dumps(data, ensure_ascii=False, indent=2))
            return
        tz = ZoneInfo(config.app.timezone)
        body = item.body if len(item.body) <= 300 else item.body[:300] + "…"
        fields = [
            ("编号", f"#{item.id}"),
            ("类型", KIND_LABELS.get(Kind(item.kind), item.kind)),
            ("标题", item.title),
            ("状态", status_label(item.status)),
            ("版本", str(item.version)),
            ("栏目", item.column),
            ("文号", item.doc_number),
            ("处室", item.office),
            ("公开属性", DISCLOSURE_LABELS.get(Disclosure(item.disclosure), item.disclosure)),
            ("关联条目", f"#{item.related_id}" if item.related_id else ""),
            ("解读形式", "、".join(item.interpretation_forms)),
            ("发布时间", local(item.publish_at, tz) if item.publish_at else "批准后立即"),
            ("渠道", "、".join(item.channels) or "全部已启用渠道"),
            ("作者", item.author.username),
            ("退文理由", item.return_reason),
            ("撤稿理由", item.retraction_reason),
            ("摘要", item.summary),
            ("正文", body),
        ]
        grid = Table(title=f"条目 #{item.id}", show_header=False)
        grid.add_column("字段", style="bold")
        grid.add_column("值", overflow="fold")
        for key, value in fields:
            if value:
                grid.add_row(key, value)
        Console().print(grid)
        if versions:
            print_table(
                "版本",
                ["版本", "提交人", "提交时间", "批准人", "批准时间"],
                [
                    [
                        str(v.version),
                        v.created_by,
                        local(v.created_at, tz),
                        v.approved_by or "—",
                        local(v.approved_at, tz),
                    ]
                    for v in versions
                ],
            )
        if findings:
            print_table(
                "预审结果",
                ["版本", "阶段", "级别", "字段", "说明"],
                [
                    [
                        str(f.item_version),
                        f.stage,
                        SEVERITY_LABELS.get(f.severity, f.severity),
                        f.field,
                        f.message,
                    ]
                    for f in findings
                ],
            )
        if deliveries:
            print_table("投递", DELIVERY_COLUMNS, delivery_rows(deliveries, tz))

    session(ctx, work)


def report(item: Any, as_json: bool, message: str, **extra: Any) -> None:
    if as_json:
        data = {"id": item.id, "status": item.status, "version": item.version, **extra}
        click.echo(json.dumps(data, ensure_ascii=False, default=str))
    else:
        click.echo(message)


@item_group.command("submit")
@click.argument("item_id", type=int)
@as_option
@json_option
@click.pass_context
def item_submit(ctx: click.Context, item_id: int, as_user: str | None, as_json: bool) -> None:
    """提交条目：生成版本快照并预审；有阻止项则退文。"""
    from bot import lifecycle, users

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


@item_group.command("approve")
@click.argument("item_id", type=int)
@as_option
@json_option
@click.pass_context
def item_approve(ctx: click.Context, item_id: int, as_user: str | None, as_json: bool) -> None:
    """批准条目并写入发布队列（不能批准自己撰写的稿件）。"""
    from bot import lifecycle, users

    name = username(ctx, as_user)

    async def work(config: Config) -> None:
        item = await lifecycle.approve(item_id, await users.actor_for_user(name), config)
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


@item_group.command("return")
@click.argument("item_id", type=int)
@click.option("--reason", required=True, help="退文理由")
@as_option
@json_option
@click.pass_context
def item_return(
    ctx: click.Context, item_id: int, reason: str, as_user: str | None, as_json: bool
) -> None:
    """退文：附理由退回撰稿人。"""
    from bot import lifecycle, users

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


@item_group.command("schedule")
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
    from bot import lifecycle, users

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
            publish_at=utc(item.publish_at),
        )

    session(ctx, work)


@item_group.command("retract")
@click.argument("item_id", type=int)
@click.option("--reason", required=True, help="撤稿理由")
@as_option
@json_option
@click.pass_context
def item_retract(
    ctx: click.Context, item_id: int, reason: str, as_user: str | None, as_json: bool
) -> None:
    """撤稿：从支持撤稿的渠道撤下，并列出不能撤稿的渠道。"""
    from bot import lifecycle, users
    from bot.channel_set import retract_support
    from bot.models import Delivery

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


@item_group.command("edit")
@click.argument("item_id", type=int)
@click.argument("file", type=click.Path(path_type=Path))
@as_option
@json_option
@click.pass_context
def item_edit(
    ctx: click.Context, item_id: int, file: Path, as_user: str | None, as_json: bool
) -> None:
    """用条目文件中给出的字段修改条目；已批准的条目生成新版本，须重新审核。"""
    from bot import itemfile, lifecycle, users
    from bot.models import Item

    name = username(ctx, as_user)
    try:
        patch, kind = itemfile.load_item_patch(file)
    except ItemFileError as exc:
        fail(str(exc), EXIT_REFUSED)
        return

    async def work(config: Config) -> None:
        current = await Item.filter(id=item_id).first()
        if current is None:
            raise Refused(f"条目 #{item_id} 不存在。")
        if kind is not None and kind != current.kind:
            raise Refused(f"{file}：不能修改条目类型（当前为 {current.kind}，文件中为 {kind}）。")
        if not patch.model_fields_set:
            raise Refused(f"{file}：文件中没有要修改的字段。")
        item = await lifecycle.edit_item(item_id, patch, await users.actor_for_user(name), config)
        report(
            item,
            as_json,
            f"已修改条目 #{item.id}（字段：{'、'.join(sorted(patch.model_fields_set))}），"
            f"当前为第 {item.version} 版，状态：{status_label(item.status)}。",
        )

    session(ctx, work)


# The top-level verbs are the same commands as `gongkai item <verb>`.
for _command in (item_submit, item_approve, item_return, item_schedule, item_retract):
    main.add_command(_command)


# -- deliveries, audit, dispatch ------------------------------------------------------------
@main.command("deliveries")
@click.argument("item_id", type=int, required=False)
@click.option(
    "--status",
    type=click.Choice([s.value for s in DeliveryStatus]),
    default=None,
    help="按投递状态筛选",
)
@click.option("--limit", type=click.IntRange(1, 10000), default=200, show_default=True)
@json_option
@click.pass_context
def deliveries_cmd(
    ctx: click.Context, item_id: int | None, status: str | None, limit: int, as_json: bool
) -> None:
    """列出投递（发布队列）。"""
    from bot.models import Delivery

    filters: dict[str, Any] = {}
    if item_id is not None:
        filters["item_id"] = item_id
    if status:
        filters["status"] = status

    async def work(config: Config) -> None:
        rows = await Delivery.filter(**filters).order_by("-id").limit(limit)
        rows.reverse()
        if as_json:
            click.echo(json.dumps([delivery_json(d) for d in rows], ensure_ascii=False, indent=2))
        elif not rows:
            click.echo("没有符合条件的投递。")
        else:
            print_table(
                "投递", DELIVERY_COLUMNS, delivery_rows(rows, ZoneInfo(config.app.timezone))
            )

    session(ctx, work)


@main.group("audit")
def audit_group() -> None:
    """审计日志。"""


@audit_group.command("verify")
@json_option
@click.pass_context
def audit_verify(ctx: click.Context, as_json: bool) -> None:
    """校验审计日志的哈希链；发现被修改或删除的记录时退出码为 5。"""
    from bot import audit

    async def work(config: Config) -> None:
        result = await audit.verify()
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "ok": result.ok,
                        "checked": result.checked,
                        "broken_id": result.broken_id,
                        "reason": result.reason,
                    },
                    ensure_ascii=False,
                )
            )
        if not result.ok:
            raise CheckFailed(
                f"审计日志校验失败：记录 #{result.broken_id} 有问题："
                f"{result.reason}（此前 {result.checked} 条完好）。"
            )
        if not as_json:
            click.echo(f"审计日志完整：已校验 {result.checked} 条记录，OK。")

    session(ctx, work)


@main.command("dispatch")
@click.option("--once", is_flag=True, help="处理当前到期的全部投递后退出")
@click.option(
    "--timeout", type=click.FloatRange(min=0.1), default=60, show_default=True, help="最长运行秒数"
)
@json_option
@click.pass_context
def dispatch_cmd(ctx: click.Context, once: bool, timeout: float, as_json: bool) -> None:
    """运行一次发布调度（持续运行请用 `gongkai run --role worker`）。"""
    from bot.channel_set import build_channels
    from bot.dispatcher import Dispatcher
    from bot.wakeup import Wakeup

    if not once:
        fail("请加 --once；持续调度请用 `gongkai run --role worker`。", EXIT_USAGE)

    async def work(config: Config) -> None:
        dispatcher = Dispatcher(config, build_channels(config), Wakeup())
        processed = await dispatcher.run_until_idle(timeout)
        if as_json:
            click.echo(json.dumps({"processed": processed}))
        else:
            click.echo(f"已处理 {processed} 条投递。")

    session(ctx, work)


if __name__ == "__main__":
    main()
