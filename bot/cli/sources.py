"""The `gongkai sources` group: list the upstream feeds in [[sources]] with their last pull,
and pull them now (a progress bar, then a summary: new, updated, skipped, returned by
pre-review, failed with the reason naming the entry). A pull with any failure exits 5."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from bot.cli.base import fail, json_option, load, session
from bot.cli.output import local, print_table, status_label
from bot.config import Config
from bot.errors import EXIT_USAGE, CheckFailed
from bot.models import KIND_LABELS, Kind

LIST_COLUMNS = [
    "名称",
    "地址",
    "启用",
    "默认类型",
    "默认栏目",
    "批准机关",
    "规则",
    "已导入",
    "上次抓取时间",
    "上次结果",
]
STATUS_TEXT = {"ok": "已抓取", "not_modified": "未变化（304）", "error": "失败"}


@click.group("sources")
def sources_group() -> None:
    """上游订阅来源（[[sources]]）：查看与抓取。"""


def _kind(value: str) -> str:
    return KIND_LABELS.get(Kind(value), value)


@sources_group.command("list")
@json_option
@click.pass_context
def sources_list(ctx: click.Context, as_json: bool) -> None:
    """列出配置的来源及其上次抓取情况。"""
    from bot.models import SourceEntry
    from bot.sources.pull import last_pull

    async def work(config: Config) -> None:
        rows: list[dict[str, Any]] = []
        for source in config.sources:
            state = await last_pull(source.name)
            rows.append(
                {
                    "name": source.name,
                    "url": source.url,
                    "enabled": source.enabled,
                    "kind": source.kind,
                    "column": source.column or source.kind,
                    "approver": source.approver,
                    "rules": len(source.rules),
                    "entries": await SourceEntry.filter(source=source.name).count(),
                    "pulled_at": state.get("pulled_at"),
                    "last_result": state.get("result"),
                }
            )
        if as_json:
            click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        if not rows:
            click.echo("配置中没有来源（config.toml 的 [[sources]]）。")
            return
        tz = ZoneInfo(config.app.timezone)
        print_table(
            "来源",
            LIST_COLUMNS,
            [
                [
                    r["name"],
                    r["url"],
                    "是" if r["enabled"] else "否",
                    _kind(r["kind"]),
                    r["column"],
                    r["approver"],
                    str(r["rules"]),
                    str(r["entries"]),
                    local(datetime.fromisoformat(r["pulled_at"]), tz) if r["pulled_at"] else "—",
                    _result_text(r["last_result"]),
                ]
                for r in rows
            ],
        )

    session(ctx, work)


def _result_text(result: dict[str, Any] | None) -> str:
    if not result:
        return "从未抓取"
    if result.get("status") == "error":
        return f"失败：{result.get('error', '')}"
    counts = (
        f"新增 {result.get('new', 0)}，更新 {result.get('updated', 0)}，"
        f"退文 {result.get('returned', 0)}，失败 {result.get('failed', 0)}"
    )
    return f"{STATUS_TEXT.get(result.get('status', ''), '')}：{counts}"


class _Bar:
    """The pull's progress callback drawn as one rich bar per source."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, name: str, done: int, total: int) -> None:
        if name not in self.tasks:
            self.tasks[name] = self.progress.add_task(f"来源 {name}", total=total or 1)
        task = self.tasks[name]
        self.progress.update(task, total=total or 1, completed=done if total else 1)


@sources_group.command("pull")
@click.option("--source", "name", default=None, metavar="NAME", help="只抓取这一个来源")
@json_option
@click.pass_context
def sources_pull(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """立即抓取已启用的来源，导入新条目与上游修改（导入后即预审）。有失败时退出码为 5。"""
    from bot.sources.pull import pull_all

    config = load(ctx)
    if name is not None:
        known = {s.name: s for s in config.sources}
        if name not in known:
            names = "、".join(known) or "（无）"
            fail(f"--source：来源「{name}」不在配置中，可选：{names}。", EXIT_USAGE)
        if not known[name].enabled:
            fail(f"--source：来源「{name}」未启用（enabled = false）。", EXIT_USAGE)

    async def work(config: Config) -> None:
        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=Console(stderr=True),
            transient=True,
            disable=as_json,
        )
        with bar:
            results = await pull_all(config, _Bar(bar), names=[name] if name else None)
        failures = sum(r.count("failed") + (1 if r.error else 0) for r in results)
        if as_json:
            data = [
                {
                    "source": r.source,
                    **r.summary(),
                    "entries": [
                        {
                            "entry": e.entry,
                            "outcome": e.outcome,
                            "item_id": e.item_id,
                            "status": e.status,
                            "reason": e.reason,
                        }
                        for e in r.entries
                    ],
                }
                for r in results
            ]
            click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        else:
            _print_summary(results)
        if failures:
            raise CheckFailed(f"有 {failures} 处抓取或导入失败，原因见上。")

    session(ctx, work)


def _print_summary(results: list[Any]) -> None:
    if not results:
        click.echo("没有已启用的来源（config.toml 的 [[sources]]）。")
        return
    print_table(
        "抓取结果",
        ["来源", "状态", "新增", "更新", "跳过", "退文", "失败"],
        [
            [
                r.source,
                STATUS_TEXT[r.summary()["status"]],
                str(r.count("new")),
                str(r.count("updated")),
                str(r.count("skipped")),
                str(len(r.returned)),
                str(r.count("failed") + (1 if r.error else 0)),
            ]
            for r in results
        ],
    )
    for r in results:
        if r.warning:
            click.echo(
                f"注意：来源「{r.source}」的订阅格式有误（{r.warning}），已导入可解析的条目。"
            )
    failed = [[r.source, "（整个订阅）", r.error] for r in results if r.error]
    failed += [
        [r.source, e.entry, e.reason] for r in results for e in r.entries if e.outcome == "failed"
    ]
    if failed:
        print_table("失败", ["来源", "条目", "原因"], failed)
    returned = [
        [r.source, f"#{e.item_id}", e.entry, status_label(e.status), e.reason]
        for r in results
        for e in r.returned
    ]
    if returned:
        print_table(
            "预审退文（不会发布）", ["来源", "条目编号", "上游条目", "状态", "理由"], returned
        )


COMMANDS: tuple[click.Command, ...] = (sources_group,)
