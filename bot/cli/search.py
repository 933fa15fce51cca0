"""`gongkai search`: the public search index (bot/search/). `reindex` rebuilds it from what is
public now (after an upgrade to a version with search, or to repair it); `find` searches as
the website does, for an operator checking what the public finds."""

from __future__ import annotations

import json

import click

from bot.cli.base import json_option, session
from bot.config import Config


@click.group("search")
def search_group() -> None:
    """一网通查：网站检索索引。"""


@search_group.command("reindex")
@json_option
@click.pass_context
def search_reindex(ctx: click.Context, as_json: bool) -> None:
    """按当前公开的内容（已发布稿件、选登问答、常见问题）重建检索索引；已不再公开的内容从检索中移除。"""
    from rich.progress import Progress

    from bot.search.index import reindex

    async def work(config: Config) -> None:
        with Progress(disable=as_json, transient=True) as bar:
            task = bar.add_task("重建检索索引", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            done = await reindex(progress)
        if as_json:
            click.echo(json.dumps(vars(done), ensure_ascii=False))
            return
        click.echo(
            f"检索索引已重建：稿件 {done.items} 篇，选登问答 {done.qa} 条，常见问题 {done.faq} 条；"
            f"移出检索 {done.removed} 条。"
        )

    session(ctx, work)


@search_group.command("find")
@click.argument("text")
@json_option
@click.pass_context
def search_find(ctx: click.Context, text: str, as_json: bool) -> None:
    """按网站检索的方式查找，列出前 10 条结果。"""
    from bot.search.engine import Filters
    from bot.search.find import search
    from bot.search.query import parse

    async def work(config: Config) -> None:
        results = await search(parse(text, config.search.max_query_chars), Filters())
        hits = [{"key": h.doc.key, "title": h.doc.title, "url": h.doc.url} for h in results.hits]
        if as_json:
            click.echo(json.dumps({"total": results.total, "hits": hits}, ensure_ascii=False))
            return
        click.echo(
            f"共 {results.total} 条结果" + ("（不含全部词语）" if results.mode == "any" else "")
        )
        for hit in hits:
            click.echo(f"  {hit['title']}  {hit['url']}")

    session(ctx, work)


COMMANDS = (search_group,)
