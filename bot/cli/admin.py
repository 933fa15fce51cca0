"""The `gongkai user`, `gongkai token` and `gongkai audit` commands: staff accounts, API tokens
and the audit log's hash chain."""

from __future__ import annotations

import getpass
import json
import sys

import click

from bot.cli.base import fail, json_option, session
from bot.config import Config
from bot.errors import EXIT_USAGE, CheckFailed


def cli_actor() -> str:
    """Who runs an account command: whoever has a shell on the server."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli"


def read_stdin_secret() -> str:
    secret = sys.stdin.readline().rstrip("\r\n")
    if not secret:
        fail("--password-stdin：标准输入中没有读到密码。", EXIT_USAGE)
    return secret


# -- accounts -------------------------------------------------------------------------------
@click.group("user")
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


@click.group("token")
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


@click.group("audit")
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


COMMANDS: tuple[click.Command, ...] = (user_group, token_group, audit_group)
