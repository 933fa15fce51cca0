"""`gongkai wechat`: the WeChat back-office tools from the command line. `preview` sends an
approved item to a staff member's WeChat (预览到手机; bot/wechat/preview.py); `comments open`
and `comments close` switch the comments of an item's WeChat articles
(bot/wechat/comment_admin.py)."""

from __future__ import annotations

import csv
import json
import sys
from typing import Any

import click

from bot.cli.base import as_option, fail, json_option, session, username
from bot.config import Config
from bot.errors import EXIT_USAGE


@click.group("wechat")
def wechat_group() -> None:
    """微信公众号：预览到手机、留言管理。"""


@wechat_group.command("preview")
@click.argument("item_id", type=int, metavar="ITEM")
@click.option("--to", "to_user", required=True, metavar="USER", help="接收预览的人员用户名")
@as_option
@json_option
@click.pass_context
def wechat_preview(
    ctx: click.Context, item_id: int, to_user: str, as_user: str | None, as_json: bool
) -> None:
    """把已批准的稿件 ITEM 预览发送到人员 USER 的微信（其个人设置中的 OpenID 或微信号）。"""
    from bot import users
    from bot.wechat.preview import preview_item

    name = username(ctx, as_user)

    async def work(config: Config) -> None:
        actor = await users.actor_for_user(name)
        sent = await preview_item(config, item_id, actor, to_user)
        if as_json:
            click.echo(json.dumps(vars(sent), ensure_ascii=False))
        else:
            click.echo(
                f"已将条目 #{sent.item_id} 第 {sent.version} 版预览发送给 {sent.to}"
                f"（微信消息编号 {sent.msg_id}）。"
            )

    session(ctx, work)


@wechat_group.command("comments")
@click.argument("switch", type=click.Choice(["open", "close"]), metavar="open|close")
@click.argument("item_id", type=int, metavar="ITEM")
@as_option
@click.pass_context
def wechat_comments(ctx: click.Context, switch: str, item_id: int, as_user: str | None) -> None:
    """打开（open）或关闭（close）条目 ITEM 在微信上各篇文章（发表与群发）的留言。"""
    from bot import users
    from bot.wechat.comment_admin import set_item_comments

    name = username(ctx, as_user)

    async def work(config: Config) -> None:
        actor = await users.actor_for_user(name)
        done = await set_item_comments(config, item_id, actor, switch == "open")
        verb = "打开" if switch == "open" else "关闭"
        click.echo(f"已{verb}条目 #{item_id} 在微信上的留言（{len(done)} 篇文章）。")

    session(ctx, work)


COMMANDS = [wechat_group]


@wechat_group.group("menu")
def menu_group() -> None:
    """自定义菜单：按配置 channels.wechat.menu 推送，或查看微信上现行的菜单。"""


@menu_group.command("push")
@as_option
@click.pass_context
def menu_push(ctx: click.Context, as_user: str | None) -> None:
    """检查配置中的自定义菜单是否符合微信的限制，然后用 menu/create 推送到微信。"""
    from bot import users
    from bot.outbox.channel_set import build_wechat
    from bot.wechat import menu

    name = username(ctx, as_user)

    async def work(config: Config) -> None:
        actor = await users.actor_for_user(name)
        menu.check(config.channels.wechat.menu)  # refused before anything is sent
        channel = build_wechat(config)
        await channel.start()
        try:
            sha = await menu.push(config, channel.api, actor.name)
        finally:
            await channel.close()
        click.echo(
            f"已推送自定义菜单（{len(config.channels.wechat.menu)} 个一级菜单，摘要 {sha}）。"
        )

    session(ctx, work)


@menu_group.command("show")
@json_option
@click.pass_context
def menu_show(ctx: click.Context, as_json: bool) -> None:
    """用 menu/get 查看微信上现行的自定义菜单。"""
    from bot.outbox.channel_set import build_wechat
    from bot.wechat import menu

    async def work(config: Config) -> None:
        channel = build_wechat(config)
        await channel.start()
        try:
            shown = await menu.live(channel.api)
        finally:
            await channel.close()
        if as_json:
            click.echo(json.dumps(shown, ensure_ascii=False))
            return
        buttons = (shown.get("menu") or {}).get("button") or []
        if not buttons:
            click.echo("微信上没有自定义菜单。")
        for b in buttons:
            subs = b.get("sub_button") or []
            click.echo(
                f"{b.get('name')}" + (f"：{b.get('url') or b.get('key')}" if not subs else "")
            )
            for sub in subs:
                click.echo(f"  {sub.get('name')}：{sub.get('url') or sub.get('key')}")

    session(ctx, work)


@wechat_group.command("stats")
@click.argument("first", type=click.DateTime(["%Y-%m-%d"]), metavar="FIRST")
@click.argument("last", type=click.DateTime(["%Y-%m-%d"]), metavar="LAST")
@click.pass_context
def wechat_stats(ctx: click.Context, first: Any, last: Any) -> None:
    """以 CSV 输出 FIRST 至 LAST（YYYY-MM-DD）各天微信文章的阅读、分享、收藏数据。"""
    from bot.reports.wechat_figures import CSV_HEADER, csv_rows

    if last < first:
        fail("结束日期 LAST 不能早于开始日期 FIRST。", EXIT_USAGE)

    async def work(config: Config) -> None:
        out = csv.writer(sys.stdout)
        out.writerow(CSV_HEADER)
        out.writerows(await csv_rows(first.date(), last.date()))

    session(ctx, work)
