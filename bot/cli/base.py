"""What every `gongkai` command shares: the exit codes and the errors that map to them, loading
the configuration and opening the database around a command, and the --as / --json options.
The exit codes are listed in bot/cli/main.py's docstring."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Coroutine
from functools import wraps
from typing import Any, NoReturn, TypeVar

import click

from bot import db
from bot.config import Config, ConfigError, load_config
from bot.errors import EXIT_USAGE, GongkaiError, Refusal

T = TypeVar("T")


class Refused(Refusal):
    """An action Gongkai refused at the command line; the message (Chinese) says why."""


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"错误：{message}", err=True)
    sys.exit(code)


def load(ctx: click.Context, sandbox: bool = True) -> Config:
    """The configuration a command works with: the file's, or with `gongkai --sandbox` the
    sandbox's derived from it (its database under data/sandbox/, as `make run` uses);
    `sandbox=False`: the file's in any case (`gongkai run` derives its own)."""
    try:
        config = load_config(ctx.obj["config_path"])
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
        raise  # unreachable
    if sandbox and ctx.obj.get("sandbox"):
        from bot.sandbox import mode as sandbox_mode

        return sandbox_mode.command_config(config)
    return config


def run_async(func: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T | None]:
    """Run an async command; each of Gongkai's errors exits with its own code and message."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T | None:
        try:
            return asyncio.run(func(*args, **kwargs))
        except GongkaiError as exc:
            fail(str(exc), exc.exit_code)
        return None

    return wrapper


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
