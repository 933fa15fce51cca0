"""Sandbox mode (`gongkai run --sandbox`, what `make run` starts): a SQLite database under
data/sandbox/, the local channel simulators on local ports, demo staff accounts whose
passwords are printed once, and demo items from the source document, published on start."""

from __future__ import annotations

import asyncio
import contextlib
import secrets

import click
from aiohttp import web

from bot import db, lifecycle, runner, users
from bot.config import Config, parse_config
from bot.models import Finding, Item, User
from bot.schemas import ItemCreate
from channels.sandbox import webhook as webhook_sim

WEBHOOK_PORT = 8091
SECRET_ENV = "GONGKAI_SANDBOX_WEBHOOK_SECRET"

DEMO_USERS = (
    ("editor", ["editor"], "宣传处 编辑"),
    ("reviewer", ["reviewer"], "办公室 审核"),
    ("moderator", ["moderator"], "办公室 留言处理"),
    ("admin", ["admin"], "管理员"),
)

DEMO_ITEMS = (
    ItemCreate(
        kind="notice",  # type: ignore[arg-type]
        title="关于印发《2021年政务公开工作要点》的通知",
        summary="本局2021年政务公开工作的总体要求、重点任务和保障措施。",
        body="各处室：\n\n现将《2021年政务公开工作要点》印发给你们，请认真贯彻落实。\n\n"
        "**一、总体要求**\n\n坚持以公开为常态、不公开为例外，推进决策、执行、管理、服务、"
        "结果公开。\n\n**二、重点任务**\n\n1. 加强政策解读，多元化解读率不低于60%。\n"
        "2. 网上咨询答复期限不超过5个工作日，简单问题1个工作日内答复。\n",
        office="办公室",
    ),
)


def sandbox_config(base: Config, secret: str) -> Config:
    data = base.model_dump()
    data["database"]["url"] = "sqlite://data/sandbox/gongkai.db"
    data["channels"]["webhook"].update(
        enabled=True, url=f"http://127.0.0.1:{WEBHOOK_PORT}/push", secret_env=SECRET_ENV
    )
    return parse_config(data, "sandbox", environ={SECRET_ENV: secret})


async def _seed(config: Config) -> None:
    if await User.exists():
        return
    click.echo("沙箱演示账号（密码只显示这一次）：")
    for username, roles, name in DEMO_USERS:
        password = users.new_secret()
        await users.add_user(username, roles, password, "system:sandbox", display_name=name)
        click.echo(f"  {username:<10} {password}   角色：{','.join(roles)}")
    editor = await users.actor_for_user("editor")
    reviewer = await users.actor_for_user("reviewer")
    for data in DEMO_ITEMS:
        item = await lifecycle.create_item(data, editor, config)
        outcome = await lifecycle.submit(item.id, editor, config)
        if outcome.item.status != "in_review":  # demo text the rules now refuse: say so
            click.echo(f"演示稿件 #{item.id} 未通过预审：{outcome.item.return_reason}")
            continue
        for finding in await Finding.filter(item_id=item.id, stage="submit"):
            if finding.needs_override:
                await lifecycle.override_finding(finding.id, reviewer, "沙箱演示数据")
        await lifecycle.approve(item.id, reviewer, config)
    click.echo(f"演示稿件 {await Item.all().count()} 篇已提交并批准，将由调度器发布。")


async def serve(base: Config, role: str) -> None:
    secret = secrets.token_urlsafe(16)
    config = sandbox_config(base, secret)
    await db.init(config, check_schema=False)
    try:
        await db.upgrade()
        await _seed(config)
    finally:
        await db.close()
    sim = web.AppRunner(webhook_sim.create_app(secret, latency_ms=20), access_log=None)
    await sim.setup()
    await web.TCPSite(sim, "127.0.0.1", WEBHOOK_PORT).start()
    click.echo(f"门户推送模拟器：http://127.0.0.1:{WEBHOOK_PORT}/_ledger")
    click.echo(f"网站与订阅：http://{config.web.host}:{config.web.port}/feeds/all.atom")
    try:
        await runner.serve(config, role)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sim.cleanup(), 5)
