"""The `gongkai` command line: tables for people, --json for scripts.

Exit codes: 0 done; 1 unexpected failure; 2 bad usage or configuration; 3 database schema
not current; 4 the action was refused (illegal transition, permission, not found, bad input);
5 a check failed (audit verify, health).
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from bot import db
from bot.cli import admin as cli_admin
from bot.cli import inbox as cli_inbox
from bot.cli import items as cli_items
from bot.cli import matters as cli_matters
from bot.cli import report as cli_report
from bot.cli import review as cli_review
from bot.cli import search as cli_search
from bot.cli import sources as cli_sources
from bot.cli import triage as cli_triage
from bot.cli import wechat as cli_wechat
from bot.cli import workflow as cli_workflow
from bot.cli.base import fail, load, run_async
from bot.config import ConfigError
from bot.errors import EXIT_USAGE


@click.group()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    envvar="GONGKAI_CONFIG",
    help="配置文件（默认 ./config.toml）",
)
@click.option(
    "--sandbox",
    "use_sandbox",
    is_flag=True,
    help="操作沙箱（make run）的数据：data/sandbox/ 下的数据库，与 gongkai run --sandbox 相同",
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
def main(
    ctx: click.Context,
    config_path: Path | None,
    use_sandbox: bool,
    verbose: bool,
    as_user: str | None,
) -> None:
    """公开（Gongkai）：政务公开多渠道发布与互动。"""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    ctx.obj["sandbox"] = use_sandbox
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
    from bot.outbox.channel_set import build_channels

    try:
        channels = build_channels(config)
        config.audit_key()  # `gongkai run` refuses to start without it
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

    if sandbox or ctx.obj.get("sandbox"):
        from bot.sandbox import mode as sandbox_mode

        run_async(sandbox_mode.serve)(load(ctx, sandbox=False), role)
        return
    run_async(runner.serve)(load(ctx), role)


# Commands live in their own modules; registering them here means importing bot.cli.main (the
# `gongkai` entry point, or `python -m bot.cli.main`) always yields the whole command tree.
for _command in (
    *cli_items.COMMANDS,
    *cli_admin.COMMANDS,
    *cli_review.COMMANDS,
    *cli_inbox.COMMANDS,
    *cli_report.COMMANDS,
    *cli_sources.COMMANDS,
    *cli_triage.COMMANDS,
    *cli_search.COMMANDS,
    *cli_matters.COMMANDS,
    *cli_wechat.COMMANDS,
):
    main.add_command(_command)
# `gongkai inbox import-ratings` lives with the matters it feeds.
for _command in cli_matters.INBOX_COMMANDS:
    cli_inbox.inbox_group.add_command(_command)
# The top-level verbs are the same commands as `gongkai item <verb>`.
for _command in cli_workflow.COMMANDS:
    main.add_command(_command)


if __name__ == "__main__":
    main()
