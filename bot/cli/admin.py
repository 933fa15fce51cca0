"""The `gongkai user`, `gongkai token` and `gongkai audit` commands: staff accounts, API tokens
and the audit log's hash chain. A password set here is set for someone else: it meets the
policy (`[staff.password]`) and must be changed by its owner at first login."""

from __future__ import annotations

import contextlib
import getpass
import json
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import click

from bot.cli.base import fail, json_option, session
from bot.config import Config
from bot.errors import EXIT_USAGE, CheckFailed

if TYPE_CHECKING:
    from bot.staff.sessions import SessionStore
    from bot.staff.throttle import ThrottleStore


def cli_actor() -> str:
    """Who runs an account command: whoever has a shell on the server."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli"


@contextlib.asynccontextmanager
async def access_stores(config: Config) -> AsyncIterator[tuple[SessionStore, ThrottleStore]]:
    """The console's session and throttle stores as the web processes use them (Redis when
    [redis] is set), so that what a command ends or clears is gone for every process."""
    from bot.outbox.redis_state import client_for
    from bot.staff import sessions, throttle

    client = client_for(config)
    prefix = config.redis.key_prefix
    try:
        yield sessions.store_for(client, prefix), throttle.store_for(client, prefix)
    finally:
        if client is not None:
            await client.aclose()


def read_stdin_secret() -> str:
    secret = sys.stdin.readline().rstrip("\r\n")
    if not secret:
        fail("--password-stdin：标准输入中没有读到密码。", EXIT_USAGE)
    return secret


# -- accounts -------------------------------------------------------------------------------
ROLE_NAMES = "editor / reviewer / moderator / admin / auditor"


@click.group("user")
def user_group() -> None:
    """工作人员账号。"""


@user_group.command("add")
@click.argument("name")
@click.option(
    "--role",
    "roles",
    multiple=True,
    help=f"{ROLE_NAMES}，可重复（三员分立：管理员不能查看审计日志，须另设 auditor）",
)
@click.option("--name", "display_name", default="", help="显示名")
@click.option("--office", default="", help="所在处室")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="从标准输入读取密码（否则生成并显示一次）；用户首次登录时须修改",
)
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
        fail(f"请至少用一个 --role 指定角色（{ROLE_NAMES}）。", EXIT_USAGE)
    given = read_stdin_secret() if password_stdin else None

    async def work(config: Config) -> None:
        policy = config.staff.password
        password = given or users.new_secret(policy, (name, display_name))
        user = await users.add_user(
            name,
            list(roles),
            password,
            cli_actor(),
            display_name,
            office,
            policy=policy,
            must_change=True,
            separate_duties=config.staff.separate_duties,
        )
        click.echo(f"已创建用户 {user.username}（角色：{', '.join(user.roles)}）。")
        if given is None:
            click.echo(f"初始密码（只显示这一次）：{password}")
        click.echo("该用户首次登录时须修改密码。")

    session(ctx, work)


@user_group.command("disable")
@click.argument("name")
@click.pass_context
def user_disable(ctx: click.Context, name: str) -> None:
    """停用账号（不能再登录、操作或使用其 API 令牌）。"""
    from bot import users
    from bot.staff import access

    async def work(config: Config) -> None:
        user = await users.disable_user(name, cli_actor())
        async with access_stores(config) as (store, _):
            ended = await access.end_sessions(store, user, cli_actor(), "disable")
        click.echo(f"已停用用户 {name}，注销其 {ended} 个登录。")

    session(ctx, work)


@user_group.command("enable")
@click.argument("name")
@click.pass_context
def user_enable(ctx: click.Context, name: str) -> None:
    """启用已停用的账号。"""
    from bot import users

    async def work(config: Config) -> None:
        await users.enable_user(name, cli_actor())
        click.echo(f"已启用用户 {name}。")

    session(ctx, work)


@user_group.command("unlock")
@click.argument("name")
@click.pass_context
def user_unlock(ctx: click.Context, name: str) -> None:
    """解除账号的登录限制（登录失败过多后的等待）。"""
    from bot import users
    from bot.models import User
    from bot.staff import access

    async def work(config: Config) -> None:
        user = await User.filter(username=name).first()
        if user is None:
            raise users.UserError(f"用户不存在：{name}")
        async with access_stores(config) as (_, throttle):
            cleared = await access.unlock(throttle, user, cli_actor())
        click.echo(f"已解除 {name} 的登录限制。" if cleared else f"{name} 没有登录限制。")

    session(ctx, work)


@user_group.command("reset-password")
@click.argument("name")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="从标准输入读取新密码（否则生成并显示一次）；用户下次登录时须修改",
)
@click.pass_context
def user_reset_password(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """重设密码（用户下次登录时须修改）；注销其所有登录。"""
    from bot import users
    from bot.staff import access

    given = read_stdin_secret() if password_stdin else None

    async def work(config: Config) -> None:
        policy = config.staff.password
        password = given or users.new_secret(policy, (name,))
        user = await users.reset_password(
            name, password, cli_actor(), policy=policy, must_change=True
        )
        async with access_stores(config) as (store, _):
            ended = await access.end_sessions(store, user, cli_actor(), "reset_password")
        click.echo(
            f"已重设用户 {user.username} 的密码，注销其 {ended} 个登录；该用户下次登录时须修改。"
        )
        if given is None:
            click.echo(f"新密码（只显示这一次）：{password}")

    session(ctx, work)


@click.group("token")
def token_group() -> None:
    """API 令牌。"""


@token_group.command("add")
@click.argument("name")
@click.option("--name", "token_name", required=True, help="令牌用途，例如 ci-import")
@click.option("--role", "roles", multiple=True, help="令牌的角色（默认与用户相同，不能超出）")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help="供其他系统使用的令牌的用途范围，不带任何角色：knowledge（只读知识库 "
    "GET /api/v1/knowledge）",
)
@click.pass_context
def token_add(
    ctx: click.Context,
    name: str,
    token_name: str,
    roles: tuple[str, ...],
    scopes: tuple[str, ...],
) -> None:
    """为用户新建 API 令牌（令牌只显示这一次）。"""
    from bot import users

    async def work(config: Config) -> None:
        token, plain = await users.add_token(
            name, token_name, list(roles) or None, cli_actor(), list(scopes) or None
        )
        what = (
            f"用途范围：{', '.join(token.scopes)}，不带角色"
            if token.scopes
            else f"角色：{', '.join(token.roles)}"
        )
        click.echo(f"已为用户 {name} 新建令牌「{token.name}」（{what}）。")
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
